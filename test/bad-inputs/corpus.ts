/**
 * The bad-input corpus, generated (never stored): small valid inputs to break one thing at a time
 * (frames, masks, a DAVIS root, Something-Else annotations, tiny scripted STCN-shaped models) and the
 * broken files themselves (truncated, empty, garbage, 16-bit, RGB, huge headers, ...).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, createDeflate, deflateSync } from "node:zlib";
import sharp from "sharp";
import { encodeLabelPng } from "../../dist/index.js";
import { python, repoRoot, testPython } from "../helpers.js";

export const W = 64;
export const H = 48;

/** A PNG from raw scanlines (filter byte 0 added here). */
export function png(width: number, height: number, bitDepth: number, colourType: number, rows: Uint8Array, palette?: Uint8Array): Buffer {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colourType] as number;
  const rowBytes = Math.ceil((width * channels * bitDepth) / 8);
  const raw = Buffer.alloc(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) raw.set(rows.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  return pngFromFiltered(width, height, bitDepth, colourType, raw, palette);
}

/** A PNG (valid CRCs and zlib stream) from filtered scanlines: each row is its filter byte + data. */
export function pngFromFiltered(width: number, height: number, bitDepth: number, colourType: number, raw: Uint8Array, palette?: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(palette ? [chunk("PLTE", palette)] : []),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array()),
  ]);
}

/**
 * A palette PNG that declares `size` x `size` and holds a real zlib stream of all-zero scanlines
 * (30000 x 30000: about 875 KB on disk, 900 MB once inflated).
 */
export async function hugePalettePng(path: string, size = 30000): Promise<void> {
  const d = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  d.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((resolve) => d.on("end", resolve));
  const row = Buffer.alloc(size + 1);
  for (let y = 0; y < size; y++) if (!d.write(row)) await new Promise((resolve) => d.once("drain", resolve));
  d.end();
  await done;
  const idat = Buffer.concat(parts);
  const tiny = png(1, 1, 8, 3, new Uint8Array([0]), new Uint8Array([0, 0, 0, 128, 0, 0]));
  // Same chunks as `tiny` with the size and IDAT replaced.
  const ihdr = Buffer.from(tiny.subarray(8, 8 + 25));
  ihdr.writeUInt32BE(size, 8);
  ihdr.writeUInt32BE(size, 12);
  ihdr.writeUInt32BE(crc32(ihdr.subarray(4, 21)) >>> 0, 21);
  const plte = tiny.subarray(33, 33 + 12 + 6);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(idat.length, 0);
  head.write("IDAT", 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), idat])) >>> 0, 0);
  const iend = tiny.subarray(tiny.length - 12);
  writeFileSync(path, Buffer.concat([tiny.subarray(0, 8), ihdr, plte, head, idat, crc, iend]));
}

/** A frame: smooth colours with a bright square (the object of {@link mask}). */
export async function jpegFrame(t: number, width = W, height = H): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inside = x >= 16 + t && x < 40 + t && y >= 12 && y < 36;
      data[i] = inside ? 240 : (x * 3) & 255;
      data[i + 1] = inside ? 220 : (y * 4) & 255;
      data[i + 2] = inside ? 40 : 90;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

/** The first-frame palette mask (one object, id 1). */
export function mask(width = W, height = H): Uint8Array {
  const labels = new Uint8Array(width * height);
  for (let y = 12; y < 36; y++) labels.fill(1, y * width + 16, y * width + 40);
  return encodeLabelPng(labels, width, height);
}

/** `<dir>/frames/0000{0..n-1}.jpg` and `<dir>/mask.png`; returns { frames, mask }. */
export async function clip(dir: string, n = 3): Promise<{ frames: string; mask: string }> {
  const frames = join(dir, "frames");
  mkdirSync(frames, { recursive: true });
  for (let t = 0; t < n; t++) writeFileSync(join(frames, `${String(t).padStart(5, "0")}.jpg`), await jpegFrame(t));
  writeFileSync(join(dir, "mask.png"), mask());
  return { frames, mask: join(dir, "mask.png") };
}

/** A JPEG whose SOF header declares `width` x `height` (the scan data is the small frame's). */
export async function jpegWithHeaderSize(width: number, height: number): Promise<Buffer> {
  const bytes = Buffer.from(await jpegFrame(0));
  for (let i = 2; i < bytes.length - 9; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] !== undefined && (bytes[i + 1] as number) >= 0xc0 && (bytes[i + 1] as number) <= 0xc2) {
      bytes.writeUInt16BE(height, i + 5);
      bytes.writeUInt16BE(width, i + 7);
      return bytes;
    }
  }
  throw new Error("no SOF marker");
}

/** Broken variants of a valid file: truncated to half, zero bytes, garbage. */
export function broken(valid: Uint8Array): { truncated: Uint8Array; empty: Uint8Array; garbage: Uint8Array } {
  const garbage = new Uint8Array(valid.length);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
  return { truncated: valid.subarray(0, Math.floor(valid.length / 2)), empty: new Uint8Array(), garbage };
}

/** 16-bit greyscale and 8-bit RGB PNGs of the mask's labels (not label maps we accept). */
export function wrongMasks(): { grey16: Buffer; rgb: Buffer } {
  const rows16 = new Uint8Array(W * H * 2);
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 12; y < 36; y++) {
    for (let x = 16; x < 40; x++) {
      rows16[(y * W + x) * 2 + 1] = 1;
      rgb[(y * W + x) * 3] = 128;
    }
  }
  return { grey16: png(W, H, 16, 0, rows16), rgb: png(W, H, 8, 2, rgb) };
}

/** The tiny scripted STCN-shaped models of test/python/bad-inputs-stcn-models.py, in `dir`. */
export function stcnModels(dir: string): Record<"good" | "wrongValueChannels" | "nan" | "nanAtRuntime" | "badKeyChannels", string> {
  execFileSync(python, [testPython("bad-inputs-stcn-models.py"), dir], { encoding: "utf8", timeout: 300_000 });
  return {
    good: join(dir, "good.pt"),
    wrongValueChannels: join(dir, "wrong-value-channels.pt"),
    nan: join(dir, "nan.pt"),
    nanAtRuntime: join(dir, "nan-at-runtime.pt"),
    badKeyChannels: join(dir, "bad-key-channels.pt"),
  };
}

/** A DAVIS-like root: JPEGImages/480p/<seq>, Annotations/480p/<seq>, ImageSets/2017/val.txt listing `listed`. */
export async function davisRoot(dir: string, sequences: string[], listed = sequences): Promise<string> {
  for (const s of sequences) {
    const img = join(dir, "JPEGImages", "480p", s);
    const ann = join(dir, "Annotations", "480p", s);
    mkdirSync(img, { recursive: true });
    mkdirSync(ann, { recursive: true });
    for (let t = 0; t < 3; t++) {
      writeFileSync(join(img, `${String(t).padStart(5, "0")}.jpg`), await jpegFrame(t));
      writeFileSync(join(ann, `${String(t).padStart(5, "0")}.png`), mask());
    }
  }
  mkdirSync(join(dir, "ImageSets", "2017"), { recursive: true });
  writeFileSync(join(dir, "ImageSets", "2017", "val.txt"), `${listed.join("\n")}\n`);
  return dir;
}

/** Result of one CLI run with the child's peak RSS. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child, in MB (process.resourceUsage().maxRSS at exit). */
  peakRssMb: number;
}

const rssHook = join(repoRoot, "test", "bad-inputs", "peak-rss-hook.mjs");

/** Runs `stcn ...args` (dist/cli.js) in a child process, recording its peak RSS. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<CliRun> {
  const rssFile = join(tmpdir(), `stcn-peak-rss-${process.pid}-${Math.random().toString(16).slice(2)}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", rssHook, join(repoRoot, "dist", "cli.js"), ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env, STCN_PEAK_RSS_FILE: rssFile },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      let peakRssMb = Number.NaN;
      try {
        peakRssMb = Number(readFileSync(rssFile, "utf8")) / 1024;
        execFileSync("rm", ["-f", rssFile]);
      } catch {
        // no file: the child died before its exit handler ran
      }
      resolve({ status, stdout, stderr, peakRssMb });
    });
  });
}

/** The lines a CLI run printed on stderr (non-empty). */
export function errorLines(run: CliRun): string[] {
  // Progress lines (stage names, counts) may precede it on stderr; the error is the `stcn: ` line.
  return run.stderr.split("\n").filter((l) => l.startsWith("stcn: "));
}
