/**
 * Label-map PNGs: our own decoder and encoder over node:zlib (native inflate/deflate). Only what
 * label maps need: indexed (palette) PNGs of 1, 2, 4 or 8 bits, whose indices are the labels (never
 * the colours), and 8-bit greyscale (with or without alpha), whose grey values are the labels.
 * Interlaced (Adam7) files are decoded too. Label maps are Uint8Array, row-major, one byte per pixel.
 *
 * Decoding is synchronous (zlib's inflateSync): the DAVIS evaluator runs it on worker threads; the
 * async readers below decode one mask at a time on the calling thread.
 *
 * Before anything is inflated, the pixel count from the header is checked against one process-wide
 * limit ({@link setMaxImagePixels}, default 8192 x 8192): a larger image is refused with
 * ERR_STCN_IMAGE_TOO_LARGE naming the file.
 */
import { readFile } from "node:fs/promises";
import * as zlib from "node:zlib";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import { davisPalette, type Palette } from "./palette.js";

/** A label map: `data[y * width + x]` = label (0 = background). */
export interface LabelMap {
  data: Uint8Array;
  width: number;
  height: number;
  /** The file's palette when it was an indexed PNG. */
  palette?: Palette;
}

/** Default pixel limit for decoded images: 8192 x 8192. */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192;
let maxImagePixels: number | undefined;

/**
 * Sets the process-wide limit on width x height of images we decode (checked from the header before
 * any pixel data is inflated). Must be a positive integer. The initial value is
 * `STCN_MAX_IMAGE_PIXELS` when set, else {@link DEFAULT_MAX_IMAGE_PIXELS}; the DAVIS evaluator's
 * worker threads get the limit of the thread that creates them.
 */
export function setMaxImagePixels(pixels: number): void {
  if (!Number.isSafeInteger(pixels) || pixels <= 0) {
    throw new StcnError("ERR_STCN_ARGUMENT", `max image pixels must be a positive integer, got ${String(pixels)}`);
  }
  maxImagePixels = pixels;
}

/** The current process-wide image pixel limit (see {@link setMaxImagePixels}). */
export function getMaxImagePixels(): number {
  if (maxImagePixels === undefined) {
    const fromEnv = process.env.STCN_MAX_IMAGE_PIXELS;
    if (fromEnv === undefined || fromEnv === "") {
      maxImagePixels = DEFAULT_MAX_IMAGE_PIXELS;
    } else {
      const n = Number(fromEnv);
      if (!Number.isSafeInteger(n) || n <= 0) {
        throw new StcnError("ERR_STCN_ARGUMENT", `STCN_MAX_IMAGE_PIXELS must be a positive integer, got "${fromEnv}"`);
      }
      maxImagePixels = n;
    }
  }
  return maxImagePixels;
}

/** Refuses `width` x `height` past the process-wide limit (ERR_STCN_IMAGE_TOO_LARGE naming `name`). */
export function checkImagePixels(width: number, height: number, name: string): void {
  const limit = getMaxImagePixels();
  if (width * height > limit) {
    throw new StcnError(
      "ERR_STCN_IMAGE_TOO_LARGE",
      `${name} is ${width}x${height} (${width * height} pixels), above the limit of ${limit} pixels (setMaxImagePixels / STCN_MAX_IMAGE_PIXELS)`,
    );
  }
}

/**
 * Reads a label PNG: an indexed PNG of 1-8 bits (indices are the labels), or an 8-bit greyscale
 * PNG, with or without alpha (grey values are the labels). RGB/RGBA and 16-bit PNGs are refused with
 * ERR_STCN_INPUT naming the file (the DAVIS toolkit cannot read them as label maps either).
 */
export async function readLabelPng(path: string): Promise<LabelMap> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot read mask ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return decodeLabelPng(bytes, path);
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ADAM7 = [
  // [x0, y0, dx, dy]
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function bad(name: string, why: string): StcnError {
  return new StcnError("ERR_STCN_INPUT", `${name} is not a readable PNG: ${why}`);
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

const crc32: ((data: Uint8Array, value?: number) => number) | undefined = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let crcTable: Uint32Array | undefined;

/** CRC-32 (zlib's native one where Node has it, >= 20.15). */
function crc(bytes: Uint8Array): number {
  if (crc32) return crc32(bytes) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Reverses the PNG filters of `rows` scanlines of `rowBytes` bytes (each preceded by its filter type
 * byte) from `src` at `offset`, into `out` (rows `outStride` bytes apart). `bpp` = bytes per
 * complete pixel (at least 1). Returns the offset after the last scanline.
 */
function unfilter(
  src: Uint8Array,
  offset: number,
  rows: number,
  rowBytes: number,
  bpp: number,
  out: Uint8Array,
  name: string,
  outStride = rowBytes,
): number {
  let p = offset;
  for (let y = 0; y < rows; y++) {
    const filter = src[p++] as number;
    const o = y * outStride;
    const prev = o - outStride; // only read when y > 0
    switch (filter) {
      case 0:
        out.set(src.subarray(p, p + rowBytes), o);
        break;
      case 1: // Sub
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp ? (out[o + x - bpp] as number) : 0;
          out[o + x] = ((src[p + x] as number) + left) & 0xff;
        }
        break;
      case 2: // Up
        if (y === 0) out.set(src.subarray(p, p + rowBytes), o);
        else for (let x = 0; x < rowBytes; x++) out[o + x] = ((src[p + x] as number) + (out[prev + x] as number)) & 0xff;
        break;
      case 3: // Average
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp ? (out[o + x - bpp] as number) : 0;
          const up = y > 0 ? (out[prev + x] as number) : 0;
          out[o + x] = ((src[p + x] as number) + ((left + up) >> 1)) & 0xff;
        }
        break;
      case 4: // Paeth
        for (let x = 0; x < rowBytes; x++) {
          const a = x >= bpp ? (out[o + x - bpp] as number) : 0;
          const b = y > 0 ? (out[prev + x] as number) : 0;
          const c = x >= bpp && y > 0 ? (out[prev + x - bpp] as number) : 0;
          const est = a + b - c;
          const pa = Math.abs(est - a);
          const pb = Math.abs(est - b);
          const pc = Math.abs(est - c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          out[o + x] = ((src[p + x] as number) + pred) & 0xff;
        }
        break;
      default:
        throw bad(name, `unknown filter type ${filter} in scanline ${y}`);
    }
    p += rowBytes;
  }
  return p;
}

/**
 * Unfiltered scanlines (`rowBytes` bytes each) of a `w` x `h` image with `channels` samples of
 * `depth` bits -> one label byte per pixel: the first sample (index or grey value) of each pixel.
 * Written into `out` at pixel positions x0 + i * dx, y0 + j * dy (dx = dy = 1 for a whole image).
 */
function scatterLabels(
  rowsData: Uint8Array,
  rowBytes: number,
  w: number,
  h: number,
  depth: number,
  channels: number,
  out: Uint8Array,
  outStride: number,
  x0: number,
  y0: number,
  dx: number,
  dy: number,
): void {
  for (let j = 0; j < h; j++) {
    const src = j * rowBytes;
    const dst = (y0 + j * dy) * outStride + x0;
    if (depth === 8) {
      if (channels === 1 && dx === 1) out.set(rowsData.subarray(src, src + w), dst);
      else for (let i = 0; i < w; i++) out[dst + i * dx] = rowsData[src + i * channels] as number;
    } else {
      const perByte = 8 / depth;
      const mask = (1 << depth) - 1;
      for (let i = 0; i < w; i++) {
        const byte = rowsData[src + Math.floor(i / perByte)] as number;
        const shift = 8 - depth * ((i % perByte) + 1);
        out[dst + i * dx] = (byte >> shift) & mask;
      }
    }
  }
}

/** {@link readLabelPng} on bytes already in memory; `name` is used in error messages. */
export function decodeLabelPng(bytes: Uint8Array, name: string): LabelMap {
  const { data, width, height, palette } = decodeLabelRows(bytes, name, false);
  return palette ? { data, width, height, palette } : { data, width, height };
}

/** A decoded label map whose rows are `stride` bytes apart (bytes past `width` in a row are 0). */
export interface StridedLabelMap extends LabelMap {
  stride: number;
}

/**
 * {@link decodeLabelPng} with rows padded to a multiple of 4 bytes (`padded`), written into `into`
 * when it has exactly the needed length (else into a new buffer). For the DAVIS scorer, which reads
 * 4 pixels at a time and decodes every frame into the same two buffers.
 */
export function decodeLabelRows(bytes: Uint8Array, name: string, padded: boolean, into?: Uint8Array): StridedLabelMap {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) throw bad(name, "no PNG signature");
  let p = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colourType = -1;
  let interlace = 0;
  let palette: Palette | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (p + 12 <= bytes.length) {
    const length = u32(bytes, p);
    if (length > bytes.length - p - 12) throw bad(name, `chunk at byte ${p} runs past the end of the file`);
    const type = String.fromCharCode(bytes[p + 4] as number, bytes[p + 5] as number, bytes[p + 6] as number, bytes[p + 7] as number);
    const data = bytes.subarray(p + 8, p + 8 + length);
    const critical = ((bytes[p + 4] as number) & 0x20) === 0;
    if (critical && crc(bytes.subarray(p + 4, p + 8 + length)) !== u32(bytes, p + 8 + length)) throw bad(name, `CRC mismatch in chunk ${type}`);
    p += 12 + length;
    if (type === "IHDR") {
      if (length !== 13) throw bad(name, "IHDR chunk of the wrong length");
      width = u32(data, 0);
      height = u32(data, 4);
      depth = data[8] as number;
      colourType = data[9] as number;
      interlace = data[12] as number;
      if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw bad(name, `invalid size ${width}x${height}`);
      if (data[10] !== 0 || data[11] !== 0 || interlace > 1) throw bad(name, "unknown compression, filter or interlace method");
      const depthOk =
        colourType === 0 ? [1, 2, 4, 8, 16].includes(depth) : colourType === 3 ? [1, 2, 4, 8].includes(depth) : [2, 4, 6].includes(colourType) && (depth === 8 || depth === 16);
      if (!depthOk) throw bad(name, `invalid colour type ${colourType} with bit depth ${depth}`);
      // The one check before any pixel data is touched.
      checkImagePixels(width, height, name);
    } else if (colourType < 0) {
      throw bad(name, "the first chunk is not IHDR");
    } else if (type === "PLTE") {
      if (length % 3 !== 0 || length === 0 || length > 768) throw bad(name, "PLTE chunk of the wrong length");
      palette = [];
      for (let i = 0; i < length; i += 3) palette.push([data[i] as number, data[i + 1] as number, data[i + 2] as number]);
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      ended = true;
      break;
    }
  }
  if (colourType < 0) throw bad(name, "no IHDR chunk");
  if (!ended) throw bad(name, "truncated (no IEND chunk)");
  if (idat.length === 0) throw bad(name, "no image data (IDAT)");
  const labelKind = colourType === 3 || ((colourType === 0 || colourType === 4) && depth === 8);
  if (!labelKind) {
    const kind = ["greyscale", "", "RGB", "indexed", "grey+alpha", "", "RGBA"][colourType] ?? "unknown";
    throw new StcnError(
      "ERR_STCN_INPUT",
      `${name} is not a label map (an indexed/palette or 8-bit greyscale PNG); it is ${kind} with ${depth}-bit samples`,
    );
  }
  if (colourType === 3 && !palette) throw bad(name, "indexed PNG without a PLTE chunk");
  const channels = colourType === 4 ? 2 : 1;
  const bitsPerPixel = depth * channels;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const rowBytesOf = (w: number) => Math.ceil((w * bitsPerPixel) / 8);
  // Exact size of the filtered stream, so a corrupt or oversized stream cannot make us allocate more.
  let expected = 0;
  const passes = interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => {
        const w = width > x0 ? Math.ceil((width - x0) / dx) : 0;
        const h = height > y0 ? Math.ceil((height - y0) / dy) : 0;
        return { x0, y0, dx, dy, w, h };
      })
    : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: width, h: height }];
  for (const pass of passes) if (pass.w > 0 && pass.h > 0) expected += pass.h * (1 + rowBytesOf(pass.w));
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(idat.length === 1 ? (idat[0] as Uint8Array) : Buffer.concat(idat), { maxOutputLength: Math.max(expected, 1), chunkSize: Math.max(expected + 1, 64) });
  } catch (error) {
    throw bad(name, `image data does not inflate (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (raw.length !== expected) throw bad(name, `image data holds ${raw.length} bytes, expected ${expected} for ${width}x${height}`);
  const stride = padded ? (width + 3) & ~3 : width;
  const out = into && into.length === stride * height ? into : new Uint8Array(stride * height);
  if (stride !== width && out === into) {
    for (let y = 0; y < height; y++) out.fill(0, y * stride + width, (y + 1) * stride);
  }
  let offset = 0;
  let scratch = new Uint8Array(0);
  for (const pass of passes) {
    if (pass.w === 0 || pass.h === 0) continue;
    const rowBytes = rowBytesOf(pass.w);
    // An 8-bit single-channel whole image unfilters straight into the label map.
    const direct = !interlace && depth === 8 && channels === 1;
    const target = direct ? out : scratch.length >= pass.h * rowBytes ? scratch : (scratch = new Uint8Array(pass.h * rowBytes));
    offset = unfilter(raw, offset, pass.h, rowBytes, bpp, target, name, direct ? stride : rowBytes);
    if (!direct) scatterLabels(target, rowBytes, pass.w, pass.h, depth, channels, out, stride, pass.x0, pass.y0, pass.dx, pass.dy);
  }
  return palette && colourType === 3 ? { data: out, width, height, stride, palette } : { data: out, width, height, stride };
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function encode8(values: Uint8Array, width: number, height: number, colourType: 0 | 3, palette?: Palette): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colourType;
  // Filter type 0 (none) on every row: label maps compress well unfiltered.
  const filtered = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) filtered.set(values.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [Buffer.from(SIGNATURE), chunk("IHDR", ihdr)];
  if (palette) {
    const plte = Buffer.alloc(palette.length * 3);
    palette.forEach(([r, g, b], i) => {
      plte[3 * i] = r;
      plte[3 * i + 1] = g;
      plte[3 * i + 2] = b;
    });
    parts.push(chunk("PLTE", plte));
  }
  parts.push(chunk("IDAT", zlib.deflateSync(filtered)), chunk("IEND", new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
}

/** Encodes a label map as an 8-bit indexed PNG with `palette` (DAVIS palette by default). */
export function encodeLabelPng(labels: Uint8Array, width: number, height: number, palette: Palette = davisPalette()): Uint8Array {
  if (labels.length !== width * height) {
    throw new StcnError("ERR_STCN_ARGUMENT", `label map has ${labels.length} pixels, expected ${width}x${height}`);
  }
  const full: Palette = palette.slice(0, 256);
  while (full.length < 256) full.push([0, 0, 0]);
  return encode8(labels, width, height, 3, full);
}

/** Writes a label map as an indexed PNG, atomically. */
export async function writeLabelPng(
  path: string,
  labels: Uint8Array,
  width: number,
  height: number,
  palette: Palette = davisPalette(),
): Promise<void> {
  await writeFileAtomic(path, encodeLabelPng(labels, width, height, palette));
}

/** Encodes an 8-bit greyscale PNG (raw label values, e.g. for `stcn crf`). */
export function encodeGreyPng(values: Uint8Array, width: number, height: number): Uint8Array {
  if (values.length !== width * height) {
    throw new StcnError("ERR_STCN_ARGUMENT", `grey image has ${values.length} pixels, expected ${width}x${height}`);
  }
  return encode8(values, width, height, 0);
}
