/**
 * The label-map PNG decoder (node:zlib + our filters/palette code) against PIL, the DAVIS toolkit's
 * reader: PNGs written by PIL, OpenCV (fresh when cv2 imports, plus OpenCV files kept in
 * test/fixtures/png-cv2), an independent test writer (every filter type, 1/2/4/8-bit, Adam7) and our
 * own encoder decode to exactly the indices PIL reads; non-label PNGs, corrupt files and images past
 * the pixel limit are refused with one coded line naming the file.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_IMAGE_PIXELS,
  decodeLabelPng,
  encodeGreyPng,
  encodeLabelPng,
  evaluateDavis,
  getMaxImagePixels,
  isStcnError,
  setMaxImagePixels,
} from "../dist/index.js";
import { decodeLabelRows } from "../dist/io/png.js";
import { pngFromFiltered } from "./bad-inputs/corpus.js";
import { dataRoot, python, repoRoot, tempDir } from "./helpers.js";

interface Case {
  name: string;
  writer: string;
  mode: string;
  width: number;
  height: number;
  labelMap: boolean;
  palette?: number[][];
}

const cv2Fixtures = join(repoRoot, "test", "fixtures", "png-cv2");
let dir: string;
let cases: Case[];
let cv2Fresh: boolean;

function ourFiles(into: string): string[] {
  // Our encoder: an 8-bit palette file with a short custom palette, the DAVIS palette, and a grey file.
  const files: string[] = [];
  const w = 37;
  const h = 23;
  const labels = new Uint8Array(w * h);
  for (let i = 0; i < labels.length; i++) labels[i] = (i * 7 + (i >> 5)) % 5;
  const custom: [number, number, number][] = [
    [0, 0, 0],
    [10, 20, 30],
    [255, 0, 128],
    [1, 2, 3],
    [200, 201, 202],
  ];
  const entries: [string, Uint8Array][] = [
    ["ours-custom-palette.png", encodeLabelPng(labels, w, h, custom)],
    ["ours-davis-palette.png", encodeLabelPng(labels.map((v) => (v === 4 ? 255 : v)), w, h)],
    ["ours-grey.png", encodeGreyPng(labels.map((v) => v * 50), w, h)],
  ];
  for (const [name, bytes] of entries) {
    writeFileSync(join(into, name), bytes);
    files.push(join(into, name));
  }
  return files;
}

beforeAll(() => {
  dir = tempDir("stcn-png-");
  const ours = tempDir("stcn-png-ours-");
  const extra = [...ourFiles(ours), ...readdirSync(cv2Fixtures).filter((n) => n.endsWith(".png")).map((n) => join(cv2Fixtures, n))];
  execFileSync(python, [join(repoRoot, "test", "png_cases.py"), dir, ...extra], { encoding: "utf8", timeout: 120_000 });
  const manifest = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as { cv2: boolean; cases: Case[] };
  cases = manifest.cases;
  cv2Fresh = manifest.cv2;
});

afterEach(() => setMaxImagePixels(DEFAULT_MAX_IMAGE_PIXELS));

function check(c: Case): void {
  const bytes = readFileSync(join(dir, c.name));
  const map = decodeLabelPng(bytes, c.name);
  expect([map.width, map.height], c.name).toEqual([c.width, c.height]);
  const expected = new Uint8Array(readFileSync(join(dir, `${c.name}.labels`)));
  const same = Buffer.compare(Buffer.from(map.data), Buffer.from(expected)) === 0;
  if (!same) {
    const at = map.data.findIndex((v, i) => v !== expected[i]);
    throw new Error(`${c.name} (${c.writer}): label differs from PIL at pixel ${at} (x ${at % c.width}, y ${Math.floor(at / c.width)}): ${map.data[at]} vs ${expected[at]}`);
  }
  // The evaluator's layout: rows padded to 4 bytes, decoded into a reused buffer whose padding is dirty.
  const stride = (c.width + 3) & ~3;
  const dirty = new Uint8Array(stride * c.height).fill(0xab);
  const padded = decodeLabelRows(bytes, c.name, true, dirty);
  expect([padded.stride, padded.data === dirty], c.name).toEqual([stride, true]);
  for (let y = 0; y < c.height; y++) {
    const row = padded.data.subarray(y * stride, (y + 1) * stride);
    const want = new Uint8Array(stride);
    want.set(expected.subarray(y * c.width, (y + 1) * c.width));
    if (Buffer.compare(Buffer.from(row), Buffer.from(want)) !== 0) throw new Error(`${c.name}: padded row ${y} differs`);
  }
  if (c.mode === "P") {
    const pal = c.palette as number[][];
    // PIL pads some palettes; ours is the PLTE chunk as written.
    expect(map.palette, c.name).toBeDefined();
    expect(map.palette, c.name).toEqual(pal.slice(0, (map.palette as unknown[]).length));
  } else {
    expect(map.palette, c.name).toBeUndefined();
  }
}

describe("PNG label-map decoder vs PIL", () => {
  it("PIL: indexed 1/2/4/8-bit (optimize on and off), greyscale and grey+alpha, exact indices and palettes", () => {
    const mine = cases.filter((c) => c.writer === "PIL" && c.labelMap);
    expect(mine.length).toBe(50);
    const depths = new Set(mine.map((c) => readFileSync(join(dir, c.name))[24]));
    expect([...depths].sort()).toEqual([1, 2, 4, 8]);
    for (const c of mine) check(c);
  });

  it("OpenCV (libpng adaptive filters, compression levels 0/1/9, three strategies): kept fixtures, and fresh ones when cv2 imports", () => {
    const kept = cases.filter((c) => c.writer === "given" && c.name.startsWith("given-cv2-"));
    expect(kept.length).toBe(45);
    for (const c of kept) check(c);
    const fresh = cases.filter((c) => c.writer === "OpenCV");
    if (cv2Fresh) expect(fresh.length).toBe(45);
    for (const c of fresh) check(c);
    // libpng chose more than the None filter somewhere (so the fixtures exercise unfiltering).
    const filters = new Set<number>();
    for (const c of kept) {
      const bytes = readFileSync(join(dir, c.name));
      // Re-inflate the single IDAT and read each scanline's filter byte.
      const map = decodeLabelPng(bytes, c.name);
      const idat = bytes.indexOf(Buffer.from("IDAT"));
      const len = bytes.readUInt32BE(idat - 4);
      const raw = execFileSync(python, ["-c", "import sys,zlib;sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))"], {
        input: bytes.subarray(idat + 4, idat + 4 + len),
      });
      for (let y = 0; y < map.height; y++) filters.add(raw[y * (map.width + 1)] as number);
    }
    expect(filters.size).toBeGreaterThanOrEqual(3);
  });

  it("an independent writer: every filter type, 1/2/4/8-bit, Adam7 interlacing, odd sizes, split IDAT, ancillary chunks", () => {
    const mine = cases.filter((c) => c.writer === "own test writer");
    expect(mine.length).toBe(144);
    expect(mine.filter((c) => c.name.includes("adam7")).length).toBe(72);
    for (const c of mine) check(c);
  });

  it("our encoder: PIL reads back the same indices and palette", () => {
    const mine = cases.filter((c) => c.writer === "given" && c.name.startsWith("given-ours-"));
    expect(mine.map((c) => c.mode).sort()).toEqual(["L", "P", "P"]);
    for (const c of mine) check(c);
    const custom = mine.find((c) => c.name.includes("custom")) as Case;
    expect(custom.palette?.slice(0, 3)).toEqual([
      [0, 0, 0],
      [10, 20, 30],
      [255, 0, 128],
    ]);
  });

  it("refuses RGB, RGBA, 1-bit and 16-bit greyscale with ERR_STCN_INPUT naming the file", () => {
    const refused = cases.filter((c) => !c.labelMap);
    expect(refused.map((c) => c.mode).sort()).toEqual(["1", "I", "RGB", "RGBA"]);
    for (const c of refused) {
      const bytes = readFileSync(join(dir, c.name));
      expect(() => decodeLabelPng(bytes, `masks/${c.name}`)).toThrow(expect.objectContaining({ code: "ERR_STCN_INPUT", message: expect.stringContaining(`masks/${c.name} is not a label map`) }));
    }
  });
});

describe("PNG decoder errors and the pixel limit", () => {
  const good = (): Buffer => Buffer.from(encodeLabelPng(new Uint8Array(33 * 17).fill(1), 33, 17));

  function thrown(fn: () => unknown): Error & { code?: string } {
    try {
      fn();
    } catch (error) {
      return error as Error & { code?: string };
    }
    throw new Error("did not throw");
  }

  it("corrupt files: no signature, CRC mismatch, truncated, bad filter type, wrong data length", () => {
    const notPng = thrown(() => decodeLabelPng(Buffer.from("GIF89a......"), "a.png"));
    expect([notPng.code, notPng.message]).toEqual(["ERR_STCN_INPUT", "a.png is not a readable PNG: no PNG signature"]);

    const crc = good();
    crc[20] = (crc[20] as number) ^ 1; // inside IHDR
    expect(thrown(() => decodeLabelPng(crc, "b.png")).message).toBe("b.png is not a readable PNG: CRC mismatch in chunk IHDR");

    const truncated = good().subarray(0, 60);
    expect(thrown(() => decodeLabelPng(truncated, "c.png")).message).toMatch(/^c\.png is not a readable PNG: /);

    // A scanline with filter type 7, valid zlib and CRCs otherwise.
    const w = 4;
    const h = 2;
    const raw = Buffer.from([0, 1, 1, 1, 1, 7, 1, 1, 1, 1]);
    const bytes = pngWith(w, h, 0, raw);
    expect(thrown(() => decodeLabelPng(bytes, "d.png")).message).toBe("d.png is not a readable PNG: unknown filter type 7 in scanline 1");

    const short = pngWith(w, h, 0, raw.subarray(0, 7));
    expect(thrown(() => decodeLabelPng(short, "e.png")).message).toBe("e.png is not a readable PNG: image data holds 7 bytes, expected 10 for 4x2");
    const long = pngWith(w, h, 0, Buffer.concat([raw, raw]));
    expect(thrown(() => decodeLabelPng(long, "f.png")).message).toMatch(/^f\.png is not a readable PNG: image data does not inflate/);
  });

  it("the pixel count from the header is checked before inflating (default 8192x8192, configurable)", () => {
    expect(getMaxImagePixels()).toBe(8192 * 8192);
    // 100000 x 100000 header with 10 bytes of data: refused at once, nothing inflated.
    const huge = pngWith(100000, 100000, 0, Buffer.from([0, 1, 1, 1, 1]));
    const e = thrown(() => decodeLabelPng(huge, "huge.png"));
    expect(e.code).toBe("ERR_STCN_IMAGE_TOO_LARGE");
    expect(e.message).toBe(
      "huge.png is 100000x100000 (10000000000 pixels), above the limit of 67108864 pixels (setMaxImagePixels / STCN_MAX_IMAGE_PIXELS)",
    );
    setMaxImagePixels(33 * 17);
    expect(decodeLabelPng(good(), "ok.png").width).toBe(33);
    setMaxImagePixels(33 * 17 - 1);
    expect(thrown(() => decodeLabelPng(good(), "g.png")).code).toBe("ERR_STCN_IMAGE_TOO_LARGE");
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(thrown(() => setMaxImagePixels(bad)).code).toBe("ERR_STCN_ARGUMENT");
  });

  it("the DAVIS evaluator's worker threads use the limit set in the calling thread", async () => {
    const davisRoot = join(dataRoot, "davis-mini", "DAVIS");
    const resultsPath = join(dataRoot, "davis-mini", "results", "dilate3");
    setMaxImagePixels(854 * 480 - 1);
    const error = await evaluateDavis({ davisRoot, resultsPath, out: tempDir("stcn-png-eval-"), sequences: ["judo"], workers: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error && isStcnError(error)).toBe(true);
    expect(error?.code).toBe("ERR_STCN_IMAGE_TOO_LARGE");
    expect(error?.message).toMatch(/^sequence judo, first annotation: .*judo\/00000\.png is 854x480 \(409920 pixels\), above the limit of 409919 pixels/);
  });
});

/** A greyscale 8-bit PNG with the given raw (filtered) scanline bytes, valid CRCs and zlib. */
function pngWith(width: number, height: number, colourType: number, raw: Buffer): Buffer {
  return pngFromFiltered(width, height, 8, colourType, raw);
}
