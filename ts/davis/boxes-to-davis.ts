/**
 * Something-Else bounding-box annotations (`annotations.json`) turned into a DAVIS-like root, as the
 * report's notebook (`Task_2_Bounding_box_masks.ipynb`) built `Something480p`:
 *
 * - per frame, a zero (H, W) uint8 mask; for the frame's `labels` in list order, rows
 *   `int(y1):int(y2)` and columns `int(x1):int(x2)` (Python truncation and slice rules, exclusive
 *   end) are set to list index + 1, later boxes overwriting earlier ones. Object identity is the
 *   position in the per-frame list (not `gt_annotation`), as in the notebook;
 * - the mask is resized to `(int(480 * W / H), 480)` with PIL's nearest filter (what
 *   `Image.resize` does for mode "P"), reproduced exactly by {@link pilNearestResize};
 * - saved as a DAVIS-palette PNG `Annotations/480p/<video>/<frame - 1:05d>.png`, with
 *   `JPEGImages/480p/<video>/<frame - 1:05d>.jpg` and `ImageSets/2017/<set>.txt` listing the videos.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { checkPlainName } from "../check.js";
import { isStcnError, StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { checkOutputFolder, ioError } from "../io/fs-errors.js";
import { checkImagePixels, encodeLabelPng, getMaxImagePixels } from "../io/png.js";

/** One box label of a frame record. */
export interface SomethingElseLabel {
  box2d: { x1: number; x2: number; y1: number; y2: number };
  category?: string;
  gt_annotation?: string;
  standard_category?: string;
}

/** One frame record of `annotations.json`. */
export interface SomethingElseFrame {
  /** `<video>/<4-digit 1-based frame>.jpg` */
  name: string;
  labels: SomethingElseLabel[];
  /** 1-based frame number parsed from `name`. */
  frame: number;
}

/** Videos in file order, each with its frame records. */
export type SomethingElseAnnotations = Map<string, SomethingElseFrame[]>;

/** Top-level keys of a JSON object text in file order (JSON.parse puts integer-like keys first). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipValue = () => {
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        str();
        if (depth === 0) return;
        continue;
      }
      if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        if (depth === 0) return;
        depth--;
        if (depth === 0) {
          i++;
          return;
        }
      } else if (depth === 0 && c === ",") return;
      i++;
    }
  };
  ws();
  if (text[i] !== "{") return keys;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') break;
    keys.push(str());
    ws();
    i++; // colon
    ws();
    skipValue();
    ws();
    if (text[i] === ",") i++;
    else break;
  }
  return keys;
}

function finite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Parses and validates `annotations.json` text. Errors (ERR_STCN_INPUT) name `source`, the video and
 * the frame record at fault.
 */
export function parseSomethingElseAnnotations(text: string, source = "annotations.json"): SomethingElseAnnotations {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new StcnError("ERR_STCN_INPUT", `${source}: expected an object keyed by video id`);
  }
  const object = data as Record<string, unknown>;
  const out: SomethingElseAnnotations = new Map();
  for (const video of topLevelKeys(text)) {
    if (out.has(video)) continue;
    // Video keys become folder names under the output root.
    checkPlainName(video, `${source}: video key`);
    const records = object[video];
    if (!Array.isArray(records) || records.length === 0) {
      throw new StcnError("ERR_STCN_INPUT", `${source}: video ${video} has no frame records`);
    }
    const frames: SomethingElseFrame[] = [];
    const seen = new Set<number>();
    records.forEach((record: unknown, index) => {
      const where = `${source}: video ${video}, record ${index}`;
      if (!record || typeof record !== "object") throw new StcnError("ERR_STCN_INPUT", `${where} is not an object`);
      const r = record as { name?: unknown; labels?: unknown };
      if (typeof r.name !== "string") throw new StcnError("ERR_STCN_INPUT", `${where} has no "name"`);
      // The name is read below the frames folder: plain path components only.
      for (const part of r.name.split("/")) checkPlainName(part, `${where}: name "${r.name}" component`);
      const base = r.name.slice(r.name.lastIndexOf("/") + 1);
      const stem = base.includes(".") ? base.slice(0, base.indexOf(".")) : base;
      const frame = /^\d+$/.test(stem) ? Number(stem) : Number.NaN;
      if (!Number.isInteger(frame) || frame < 1) {
        throw new StcnError("ERR_STCN_INPUT", `${where}: name "${r.name}" is not "<video>/<1-based frame number>.jpg"`);
      }
      if (seen.has(frame)) throw new StcnError("ERR_STCN_INPUT", `${where}: frame ${frame} ("${r.name}") appears twice`);
      seen.add(frame);
      if (!Array.isArray(r.labels)) throw new StcnError("ERR_STCN_INPUT", `${where} ("${r.name}") has no "labels" list`);
      const labels = r.labels.map((label: unknown, li): SomethingElseLabel => {
        const box = (label as { box2d?: Record<string, unknown> } | null)?.box2d;
        if (!box || !finite(box.x1) || !finite(box.x2) || !finite(box.y1) || !finite(box.y2)) {
          throw new StcnError("ERR_STCN_INPUT", `${where} ("${r.name}"): label ${li} has no numeric box2d {x1, x2, y1, y2}`);
        }
        return { ...(label as SomethingElseLabel), box2d: { x1: box.x1, x2: box.x2, y1: box.y1, y2: box.y2 } };
      });
      frames.push({ name: r.name, labels, frame });
    });
    out.set(video, frames);
  }
  return out;
}

/** Reads and validates an `annotations.json` file. */
export async function readSomethingElseAnnotations(path: string): Promise<SomethingElseAnnotations> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseSomethingElseAnnotations(text, path);
}

/** Python slice bounds `[start:stop]` of a length-`len` axis (negative indices count from the end). */
function pySlice(start: number, stop: number, len: number): [number, number] {
  const norm = (v: number) => {
    if (v < 0) v += len;
    return Math.min(Math.max(v, 0), len);
  };
  const a = norm(start);
  const b = norm(stop);
  return [a, Math.max(a, b)];
}

/**
 * The box mask of one frame at the original size: `mask[int(y1):int(y2), int(x1):int(x2)] = i + 1`
 * for each label in order (later boxes overwrite earlier ones; int() truncates toward zero and the
 * bounds follow Python slicing, negative values included).
 */
export function boxMask(labels: readonly SomethingElseLabel[], width: number, height: number): Uint8Array {
  if (labels.length > 255) throw new StcnError("ERR_STCN_INPUT", `a frame holds ${labels.length} boxes; at most 255 fit a label map`);
  const mask = new Uint8Array(width * height);
  labels.forEach((label, index) => {
    const { x1, x2, y1, y2 } = label.box2d;
    const [r0, r1] = pySlice(Math.trunc(y1), Math.trunc(y2), height);
    const [c0, c1] = pySlice(Math.trunc(x1), Math.trunc(x2), width);
    for (let y = r0; y < r1; y++) mask.fill(index + 1, y * width + c0, y * width + c1);
  });
  return mask;
}

/** The 480p size the notebook resized to: `(int(480 * W / H), 480)`. */
export function davis480pSize(width: number, height: number): { width: number; height: number } {
  return { width: Math.trunc((480 * width) / height), height: 480 };
}

/**
 * PIL's `Image.resize(size, NEAREST)` of a one-byte-per-pixel image, exactly: Pillow maps output
 * column x to input column `int(x0)` where x0 starts at `scale / 2` (scale = in / out, in double) and
 * grows by `scale` per column, accumulated by repeated addition (ImagingScaleAffine); rows alike.
 */
export function pilNearestResize(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (src.length !== width * height) throw new StcnError("ERR_STCN_ARGUMENT", `resize: ${src.length} values for ${width}x${height}`);
  const out = new Uint8Array(outWidth * outHeight);
  const ax = width / outWidth;
  const ay = height / outHeight;
  const xin = new Int32Array(outWidth);
  let xo = ax * 0.5;
  for (let x = 0; x < outWidth; x++) {
    const v = xo < 0 ? -1 : Math.trunc(xo);
    xin[x] = v >= 0 && v < width ? v : -1;
    xo += ax;
  }
  let yo = ay * 0.5;
  for (let y = 0; y < outHeight; y++) {
    const yi = yo < 0 ? -1 : Math.trunc(yo);
    if (yi >= 0 && yi < height) {
      const row = yi * width;
      const orow = y * outWidth;
      for (let x = 0; x < outWidth; x++) {
        const c = xin[x] as number;
        if (c >= 0) out[orow + x] = src[row + c] as number;
      }
    }
    yo += ay;
  }
  return out;
}

/** Options of {@link boxesToDavis}. */
export interface BoxesToDavisOptions {
  /** Path of `annotations.json`. */
  annotations: string;
  /** Output DAVIS-like root. */
  out: string;
  /**
   * Folder of the original frames, `<frames>/<name>` for each record's `name` (e.g. `2/0001.jpg`):
   * gives each frame's size and the 480p JPEGs (resized with a Catmull-Rom cubic by sharp).
   */
  frames?: string;
  /**
   * Original frame size for every video when `frames` is not given; JPEGImages are then uniform grey
   * placeholders (the evaluator only counts them).
   */
  size?: { width: number; height: number };
  /** Only these videos, in this order (default: all, in file order). */
  videos?: readonly string[];
  /** ImageSets list name (default "val"). */
  set?: string;
  /** Allow writing into a non-empty `out` folder. */
  overwrite?: boolean;
}

/** What {@link boxesToDavis} wrote. */
export interface BoxesToDavisResult {
  root: string;
  set: string;
  videos: Array<{ video: string; frames: number; width: number; height: number; originalWidth: number; originalHeight: number }>;
  placeholders: boolean;
}

async function frameSize(path: string): Promise<{ width: number; height: number }> {
  let size: { width: number; height: number };
  try {
    const meta = await sharp(path).metadata();
    if (!meta.width || !meta.height) throw new Error("no size");
    size = { width: meta.width, height: meta.height };
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot read frame ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
  checkImagePixels(size.width, size.height, `frame ${path}`);
  return size;
}

/** A 480p JPEG of the original frame `path` (decoded under the pixel limit; errors name the file). */
async function resizedJpeg(path: string, width: number, height: number): Promise<Buffer> {
  try {
    return await sharp(path, { limitInputPixels: getMaxImagePixels() })
      .resize(width, height, { fit: "fill", kernel: "cubic" })
      .jpeg({ quality: 95 })
      .toBuffer();
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot decode frame ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
}

/**
 * Writes a DAVIS-like root from Something-Else box annotations (see the module comment). Everything
 * is validated before anything is written; each file is written atomically.
 */
export async function boxesToDavis(options: BoxesToDavisOptions): Promise<BoxesToDavisResult> {
  const set = checkPlainName(options.set ?? "val", "set");
  if (!options.frames && !options.size) {
    throw new StcnError("ERR_STCN_ARGUMENT", "give the original frames folder (frames) or the original frame size (size)");
  }
  if (options.size && (!Number.isInteger(options.size.width) || !Number.isInteger(options.size.height) || options.size.width < 1 || options.size.height < 1)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `size must be positive integers, got ${options.size.width}x${options.size.height}`);
  }
  if (options.size) checkImagePixels(options.size.width, options.size.height, "size");
  const annotations = await readSomethingElseAnnotations(options.annotations);
  let videos = [...annotations.keys()];
  if (options.videos) {
    for (const v of options.videos) {
      if (!annotations.has(v)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown video "${v}": not in ${options.annotations}`);
    }
    videos = [...new Set(options.videos)];
  }
  if (videos.length === 0) throw new StcnError("ERR_STCN_INPUT", `${options.annotations} holds no videos`);
  for (const v of videos) checkPlainName(v, "video");

  // Validate and size everything first.
  const plan: Array<{ video: string; frames: SomethingElseFrame[]; sizes: Array<{ width: number; height: number }> }> = [];
  for (const video of videos) {
    const frames = annotations.get(video) as SomethingElseFrame[];
    const sizes: Array<{ width: number; height: number }> = [];
    for (const f of frames) {
      sizes.push(options.frames ? await frameSize(join(options.frames, f.name)) : (options.size as { width: number; height: number }));
    }
    plan.push({ video, frames, sizes });
  }

  const existed = await checkOutputFolder(options.out, { overwrite: options.overwrite ?? false });
  // What this run creates, removed again if it fails: nothing is left half-written.
  const created: string[] = [];
  try {
    return await writeBoxRoot(options, set, videos, plan, created);
  } catch (error) {
    if (!existed) await rm(options.out, { recursive: true, force: true }).catch(() => undefined);
    else for (const path of created.reverse()) await rm(path, { recursive: true, force: true }).catch(() => undefined);
    throw isStcnError(error) ? error : ioError(error);
  }
}

async function writeBoxRoot(
  options: BoxesToDavisOptions,
  set: string,
  videos: readonly string[],
  plan: ReadonlyArray<{ video: string; frames: SomethingElseFrame[]; sizes: Array<{ width: number; height: number }> }>,
  created: string[],
): Promise<BoxesToDavisResult> {
  const makeDir = async (dir: string): Promise<void> => {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (error) {
      throw ioError(error, "create", dir);
    }
    if (first !== undefined) created.push(first);
  };
  const write = async (path: string, data: string | Uint8Array): Promise<void> => {
    created.push(path);
    await writeFileAtomic(path, data);
  };
  const result: BoxesToDavisResult = { root: options.out, set, videos: [], placeholders: !options.frames };
  for (const { video, frames, sizes } of plan) {
    const annDir = join(options.out, "Annotations", "480p", video);
    const imgDir = join(options.out, "JPEGImages", "480p", video);
    await makeDir(annDir);
    await makeDir(imgDir);
    let last = { width: 0, height: 0, originalWidth: 0, originalHeight: 0 };
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as SomethingElseFrame;
      const { width, height } = sizes[i] as { width: number; height: number };
      const target = davis480pSize(width, height);
      const mask = pilNearestResize(boxMask(f.labels, width, height), width, height, target.width, target.height);
      const stem = String(f.frame - 1).padStart(5, "0");
      await write(join(annDir, `${stem}.png`), encodeLabelPng(mask, target.width, target.height));
      const jpeg = options.frames
        ? await resizedJpeg(join(options.frames, f.name), target.width, target.height)
        : await sharp({ create: { width: target.width, height: target.height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg({ quality: 95 }).toBuffer();
      await write(join(imgDir, `${stem}.jpg`), jpeg);
      last = { ...target, originalWidth: width, originalHeight: height };
    }
    result.videos.push({ video, frames: frames.length, ...last });
  }
  await makeDir(join(options.out, "ImageSets", "2017"));
  await write(join(options.out, "ImageSets", "2017", `${set}.txt`), `${videos.join("\n")}\n`);
  return result;
}
