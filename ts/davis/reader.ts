/**
 * DAVIS 2017 root reader, following `davis2017/davis.py` and `davis2017/results.py`:
 * `JPEGImages/<resolution>/<seq>/*.jpg`, `Annotations/<resolution>/<seq>/*.png`
 * (`Annotations_unsupervised` for the unsupervised task), sequence lists in
 * `ImageSets/2017/<set>.txt` (`ImageSets/2019` for unsupervised test-dev/test-challenge).
 * File lists are sorted like numpy sorts glob results (code-point order, hidden files skipped);
 * a frame id is the file name up to its first dot. Masks are read as label maps (palette indices or
 * 8-bit grey values); 255 is void.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { checkPlainName } from "../check.js";
import { StcnError } from "../errors.js";
import { labelIds } from "../io/labels.js";
import { decodeLabelPng, decodeLabelRows, type LabelMap, type StridedLabelMap } from "../io/png.js";

/** The DAVIS annotations' void label (the border around objects in some annotations): not an object. */
export const DAVIS_VOID = 255;

/** Image resolutions of a DAVIS root. */
export type DavisResolution = "480p" | "Full-Resolution";
/** Evaluation task (folder layout differs: `Annotations` vs `Annotations_unsupervised`). */
export type DavisTask = "semi-supervised" | "unsupervised";

/** One sequence of a DAVIS root. */
export interface DavisSequence {
  name: string;
  /** Frame ids (annotation file names without extension), sorted. */
  frameIds: string[];
  /** Annotation PNG per frame id. */
  annotationPaths: string[];
  /** JPEG frames, sorted. */
  imagePaths: string[];
  /** Ids of the JPEG frames. */
  imageIds: string[];
  /** The sequence's annotation folder. */
  annotationDir: string;
}

/** A DAVIS root opened for one set. */
export interface DavisDataset {
  root: string;
  set: string;
  task: DavisTask;
  resolution: DavisResolution;
  /** Path of the ImageSets file the sequence list came from. */
  imageSet: string;
  sequences: DavisSequence[];
}

/** Options of {@link openDavis}. */
export interface OpenDavisOptions {
  /** ImageSets list to read (default "val"). */
  set?: string;
  task?: DavisTask;
  resolution?: DavisResolution;
  /** Only these sequences (each must be listed in the set). Default: all of the set. */
  sequences?: readonly string[];
}

/** Python's `np.sort(glob(dir/*.ext))` equivalent: sorted names (code-point order), no dotfiles. */
async function listSorted(dir: string, ext: string): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw error;
  }
  return names.filter((n) => !n.startsWith(".") && n.endsWith(ext)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The frame id of a mask/image file: its name up to the first dot (as the toolkit does). */
export function frameIdOf(fileName: string): string {
  const dot = fileName.indexOf(".");
  return dot < 0 ? fileName : fileName.slice(0, dot);
}

/** Path of the ImageSets file for a set/task (2019 lists for unsupervised test-dev/challenge). */
export function imageSetPath(root: string, set: string, task: DavisTask = "semi-supervised"): string {
  const year = task === "unsupervised" && (set === "test-dev" || set === "test-challenge") ? "2019" : "2017";
  return join(root, "ImageSets", year, `${set}.txt`);
}

/**
 * Opens a DAVIS root: reads the set's sequence list and lists every sequence's images and
 * annotations (a root for propagation may hold the first annotation only; the evaluator requires
 * one annotation per image). Errors (ERR_STCN_INPUT / ERR_STCN_ARGUMENT) name the root, set,
 * sequence or folder at fault: missing or empty ImageSets list, unknown sequence, a sequence without
 * images.
 */
export async function openDavis(root: string, options: OpenDavisOptions = {}): Promise<DavisDataset> {
  const set = options.set ?? "val";
  const task = options.task ?? "semi-supervised";
  const resolution = options.resolution ?? "480p";
  if (resolution !== "480p" && resolution !== "Full-Resolution") {
    throw new StcnError("ERR_STCN_ARGUMENT", `resolution must be 480p or Full-Resolution, got ${String(resolution)}`);
  }
  try {
    const s = await stat(root);
    if (!s.isDirectory()) throw new Error("not a directory");
  } catch {
    throw new StcnError("ERR_STCN_INPUT", `DAVIS root ${root} is not a readable folder`);
  }
  checkPlainName(set, "set");
  const listPath = imageSetPath(root, set, task);
  let text: string;
  try {
    text = await readFile(listPath, "utf8");
  } catch {
    throw new StcnError("ERR_STCN_INPUT", `set "${set}": ${listPath} not found in the DAVIS root`);
  }
  // Python: [x.strip() for x in f.read().splitlines()]; blank lines are skipped here, duplicates collapse
  // (the toolkit keys sequences by name).
  const listed: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const name = line.trim();
    if (name && !listed.includes(name)) listed.push(name);
  }
  if (listed.length === 0) throw new StcnError("ERR_STCN_INPUT", `set "${set}": ${listPath} lists no sequences`);
  // Sequence names become folder names of results (segment, reproduce): plain names only.
  for (const name of listed) checkPlainName(name, `sequence name in ${listPath}`);
  let names = listed;
  if (options.sequences) {
    if (options.sequences.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "the sequence selection is empty");
    names = [];
    for (const name of options.sequences) {
      if (!listed.includes(name)) {
        throw new StcnError("ERR_STCN_ARGUMENT", `unknown sequence "${name}": not listed in ${listPath}`);
      }
      if (!names.includes(name)) names.push(name);
    }
  }
  const annotationDir = join(root, task === "unsupervised" ? "Annotations_unsupervised" : "Annotations", resolution);
  const imageDir = join(root, "JPEGImages", resolution);
  const sequences: DavisSequence[] = [];
  for (const name of names) {
    const images = await listSorted(join(imageDir, name), ".jpg");
    if (!images || images.length === 0) {
      throw new StcnError("ERR_STCN_INPUT", `sequence ${name}: no images (*.jpg) in ${join(imageDir, name)}`);
    }
    const masks = (await listSorted(join(annotationDir, name), ".png")) ?? [];
    sequences.push({
      name,
      frameIds: masks.map(frameIdOf),
      annotationPaths: masks.map((m) => join(annotationDir, name, m)),
      imageIds: images.map(frameIdOf),
      imagePaths: images.map((i) => join(imageDir, name, i)),
      annotationDir: join(annotationDir, name),
    });
  }
  return { root, set, task, resolution, imageSet: listPath, sequences };
}

/** PNG colour type from the IHDR header (byte 25), or -1 when the bytes are no PNG. */
function pngColourType(bytes: Uint8Array): number {
  if (bytes.length < 26 || bytes[0] !== 0x89 || bytes[1] !== 0x50 || bytes[2] !== 0x4e || bytes[3] !== 0x47) return -1;
  return bytes[25] as number;
}

/**
 * Decodes a DAVIS mask: a palette PNG (indices) or an 8-bit greyscale PNG (values), what
 * `np.array(Image.open(p))` turns into a 2-D index map. RGB, RGBA, grey+alpha and 16-bit PNGs are
 * refused (ERR_STCN_INPUT naming `name`).
 */
export function decodeDavisMask(bytes: Uint8Array, name: string): LabelMap {
  checkDavisColourType(bytes, name);
  return decodeLabelPng(bytes, name);
}

/** {@link decodeDavisMask} into rows padded to 4 bytes, reusing `into` (see `decodeLabelRows`). */
export function decodeDavisMaskPadded(bytes: Uint8Array, name: string, into?: Uint8Array): StridedLabelMap {
  checkDavisColourType(bytes, name);
  return decodeLabelRows(bytes, name, true, into);
}

function checkDavisColourType(bytes: Uint8Array, name: string): void {
  const colourType = pngColourType(bytes);
  if (colourType === 2 || colourType === 4 || colourType === 6) {
    const kind = colourType === 2 ? "RGB" : colourType === 4 ? "grey+alpha" : "RGBA";
    throw new StcnError("ERR_STCN_INPUT", `${name} is an ${kind} PNG; DAVIS masks must be palette (indexed) or 8-bit greyscale PNGs`);
  }
}

/** Reads a DAVIS mask file (see {@link decodeDavisMask}). */
export async function readDavisMask(path: string): Promise<LabelMap> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot read mask ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return decodeDavisMask(bytes, path);
}

/**
 * Object ids of a sequence as the toolkit defines them: 1..max(label in the first annotation), void
 * (255) excluded. `present` lists the ids actually drawn in the first frame (DAVIS `lab-coat`'s first
 * frame holds 3, 4, 5 only: count 5, present [3, 4, 5]).
 */
export async function davisObjectIds(sequence: DavisSequence): Promise<{ count: number; present: number[] }> {
  const first = sequence.annotationPaths[0];
  if (first === undefined) throw new StcnError("ERR_STCN_INPUT", `sequence ${sequence.name} has no annotations`);
  const mask = await readDavisMask(first);
  return objectIdsOfMask(mask.data);
}

/** {@link davisObjectIds} on a decoded label map. */
export function objectIdsOfMask(labels: Uint8Array): { count: number; present: number[] } {
  const present = labelIds(labels, { void: DAVIS_VOID });
  return { count: present.length ? (present[present.length - 1] as number) : 0, present };
}
