/**
 * Palette (indexed) PNG masks, read and written with fast-png (no hand-written codec).
 * Label maps are Uint8Array, row-major, one byte per pixel.
 */
import { readFile } from "node:fs/promises";
import { decode, encode } from "fast-png";
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

/**
 * Reads a label PNG: an 8-bit (or lower) indexed PNG (indices are the labels), or an 8-bit greyscale
 * PNG (values are the labels). RGB/RGBA PNGs are refused with ERR_STCN_INPUT naming the file
 * (the DAVIS toolkit cannot read them either).
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

/** {@link readLabelPng} on bytes already in memory; `name` is used in error messages. */
export function decodeLabelPng(bytes: Uint8Array, name: string): LabelMap {
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `${name} is not a readable PNG: ${(error as Error).message}`);
  }
  const { width, height } = png;
  if (png.palette) {
    return { data: unpackIndices(png.data, png.depth, width, height), width, height, palette: png.palette as Palette };
  }
  if (png.channels === 1 && png.depth === 8) {
    return { data: Uint8Array.from(png.data as Uint8Array), width, height };
  }
  if (png.channels === 2 && png.depth === 8) {
    const data = new Uint8Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = (png.data as Uint8Array)[2 * i] as number;
    return { data, width, height };
  }
  throw new StcnError(
    "ERR_STCN_INPUT",
    `${name} is not a label map (an indexed/palette or 8-bit greyscale PNG); it has ${png.channels} channel(s) of ${png.depth} bits`,
  );
}

function unpackIndices(raw: ArrayLike<number>, depth: number, width: number, height: number): Uint8Array {
  if (depth === 8) return Uint8Array.from(raw as Uint8Array);
  const out = new Uint8Array(width * height);
  const perByte = 8 / depth;
  const stride = Math.ceil(width / perByte);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = raw[y * stride + Math.floor(x / perByte)] as number;
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & mask;
    }
  }
  return out;
}

/** Encodes a label map as an 8-bit indexed PNG with `palette` (DAVIS palette by default). */
export function encodeLabelPng(labels: Uint8Array, width: number, height: number, palette: Palette = davisPalette()): Uint8Array {
  if (labels.length !== width * height) {
    throw new StcnError("ERR_STCN_ARGUMENT", `label map has ${labels.length} pixels, expected ${width}x${height}`);
  }
  const full: Palette = palette.slice(0, 256);
  while (full.length < 256) full.push([0, 0, 0]);
  return encode({ width, height, data: labels, depth: 8, channels: 1, palette: full });
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
  return encode({ width, height, data: values, depth: 8, channels: 1 });
}
