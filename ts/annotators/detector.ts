/**
 * First-frame masks from an instance-segmentation detector (Mask R-CNN or PointRend TorchScript
 * archives exported by `stcn export maskrcnn|pointrend`), matched to the ground-truth objects as the
 * study did (docs/detection.md, "The study's procedure"):
 *
 *  1. run the detector on frame 0 (the archive's `forward(image uint8 [H,W,3] RGB) ->
 *     {boxes, scores, labels, masks}`, no Python at run time: the addon provides torchvision::nms and
 *     torchvision::roi_align);
 *  2. build each GT object's box from the GT first mask (`boxRule` "study" reproduces the study's
 *     first-contiguous-run rule, "exact" is the tight box);
 *  3. for each GT object pick the candidate detection whose [x0,y0,x1,y1] is nearest in L2 (strict `<`:
 *     the first, i.e. highest-scoring, wins ties; no distance limit; several objects may take the same
 *     detection);
 *  4. threshold its mask at 0.5 and paint a label map where the lowest object id wins overlaps.
 *
 * Without GT (`noGt`), every detection scoring at least `scoreThreshold` becomes its own object
 * (ids 1..N in score order). Zero detections give empty objects and a warning, never a crash.
 */
import { signalOption, throwIfAborted } from "../abort.js";
import { checkInterval, checkOneOf, checkRgbImage } from "../check.js";
import { StcnError } from "../errors.js";
import { readRgb, type RgbImage } from "../io/image.js";
import { davisPalette } from "../io/palette.js";
import { labelIds } from "../io/labels.js";
import { readLabelPng, writeLabelPng, type LabelMap } from "../io/png.js";
import { loadModule, type Module, type Value } from "../module.js";
import { firstFrame } from "../stcn/video.js";
import { boxLabelMap } from "./box-label-map.js";
import { Tensor } from "../tensor.js";

/** Which detector produced the archive. */
export type DetectorMethod = "maskrcnn" | "pointrend";
/** How a GT object's box is derived from its mask (see {@link gtBox}). */
export type BoxRule = "study" | "exact";
/** The channel order fed to the detector ("bgr": the archive's `forward_swapped`, R and B swapped inside it). */
export type ChannelOrder = "rgb" | "bgr";
/** A box [x0, y0, x1, y1] in pixels. */
export type Box = [number, number, number, number];

/** The study's candidate floor for Mask R-CNN (acceptance_rate 0.01); PointRend used all detections. */
export const STUDY_CANDIDATE_SCORE: Readonly<Record<DetectorMethod, number>> = { maskrcnn: 0.01, pointrend: 0 };
/** Default score floor of `noGt` mode. */
export const DETECTOR_NO_GT_SCORE = 0.5;
/** Mask threshold (the study: soft mask >= 0.5 -> object). */
export const DETECTOR_MASK_THRESHOLD = 0.5;

/** What the detector returned for one image (plain arrays, no native memory). */
export interface DetectorOutput {
  width: number;
  height: number;
  /** Number of detections N (sorted by descending score, as the model returns them). */
  count: number;
  /** N x 4, [x0, y0, x1, y1] per detection. */
  boxes: Float32Array;
  scores: Float32Array;
  /** Category ids (COCO ids for our exports). */
  labels: Int32Array;
  /** N x H x W mask values: soft probabilities (float) or 0/1. */
  masks: Float32Array | Uint8Array;
  /** Wall time of the detector call (tensor in -> tensors out), milliseconds. */
  detectorMs: number;
}

/** One object of an annotation. */
export interface AnnotatedObject {
  /** Label id in the output map (the GT id, or 1..N in no-GT mode). */
  id: number;
  /** GT box (GT mode), or the detection's box (no-GT mode); null when the GT object has no pixels. */
  box: Box | null;
  /** Index of the chosen detection, or null (no detection: the object is empty). */
  detection: number | null;
  /** The chosen detection's box `[x0, y0, x1, y1]`, or null. */
  detectionBox: Box | null;
  score: number | null;
  label: number | null;
  /** L2 distance between the GT box and the detection box (GT mode). */
  distance: number | null;
  /** Pixels of the object's thresholded mask before overlap resolution. */
  maskPixels: number;
  /** Pixels it owns in the final label map. */
  pixels: number;
}

/** The result of {@link DetectorAnnotator.annotate}. */
export interface DetectorAnnotation {
  width: number;
  height: number;
  /** Row-major label map (0 = background). */
  labels: Uint8Array;
  objects: AnnotatedObject[];
  /** Number of detections the model returned. */
  detections: number;
  /** Detector wall time (excluded from propagation FPS, as in the study). */
  detectorMs: number;
  warnings: string[];
}

/** Options of {@link detectorAnnotator}. */
export interface DetectorAnnotatorOptions {
  /** Which model the archive holds (sets the study's candidate floor). Default: the archive's metadata, else "maskrcnn". */
  method?: DetectorMethod;
  /** Channel order fed to the model. Default "rgb" (what the study fed to both models). */
  channelOrder?: ChannelOrder;
  /** Mask threshold, default 0.5. */
  maskThreshold?: number;
  /** Called with each warning (in addition to `warnings` in the result). */
  onWarning?: (message: string) => void;
}

/** Options of one {@link DetectorAnnotator.detect} call. */
export interface DetectOptions {
  /**
   * Cancels the call: it rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR") before the
   * detector runs, or, when the signal is aborted during the detector's native run (which cannot be
   * interrupted), as soon as it returns; its outputs are freed either way.
   */
  signal?: AbortSignal;
}

/** Options of one {@link DetectorAnnotator.annotate} call. */
export interface AnnotateOptions extends DetectOptions {
  /** "study" (default) or "exact". */
  boxRule?: BoxRule;
  /**
   * GT mode: detections below this score are not candidates (default: the study's, 0.01 for Mask R-CNN,
   * 0 for PointRend). No-GT mode: detections below it are dropped (default 0.5).
   */
  scoreThreshold?: number;
}

/** A detector bound to a loaded module. */
export interface DetectorAnnotator {
  readonly method: DetectorMethod;
  /** Runs the detector on an RGB image. With `signal`, see {@link DetectOptions.signal}. */
  detect(image: RgbImage, options?: DetectOptions): Promise<DetectorOutput>;
  /**
   * Detects, matches GT objects (GT mode) and composes the label map. With `signal`, an abort rejects
   * with AbortError before the detector runs, when it returns, or before the matching.
   */
  annotate(image: RgbImage, gt: LabelMap | null, options?: AnnotateOptions): Promise<DetectorAnnotation>;
}

// ---------------------------------------------------------------------------------------------------
// Pure parts (exported for tests and for callers with their own detections)

/** [start, end] of one axis under the study's rule, from a per-index "non-empty" flag array. */
function studyRun(nonEmpty: Uint8Array): [number, number] | null {
  const n = nonEmpty.length;
  let start = -1;
  for (let i = 0; i < n; i++) {
    if (nonEmpty[i]) {
      start = i;
      break;
    }
  }
  if (start < 0) return null;
  for (let i = start + 1; i < n; i++) {
    if (!nonEmpty[i]) return [start, i]; // first empty index after the run: exclusive end
  }
  return [start, n - 1]; // run reaches the last index: the study uses n-1 (inclusive)
}

/**
 * The box of object `id` in a label map, or null when it has no pixels.
 *
 * - "study" (docs/detection.md, "GT boxes"): y0 = first non-empty row, y1 = the first empty row after y0, or H-1 when
 *   the run of non-empty rows reaches the last row; x likewise. Only the first contiguous run counts (an
 *   object split by an empty row/column gets a truncated box).
 * - "exact": the tight box in continuous pixel coordinates, [xmin, ymin, xmax+1, ymax+1].
 */
export function gtBox(labels: Uint8Array, width: number, height: number, id: number, rule: BoxRule = "study"): Box | null {
  const rows = new Uint8Array(height);
  const cols = new Uint8Array(width);
  let any = false;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (labels[row + x] === id) {
        rows[y] = 1;
        cols[x] = 1;
        any = true;
      }
    }
  }
  if (!any) return null;
  if (rule === "exact") {
    const ys = [rows.indexOf(1), rows.lastIndexOf(1)] as const;
    const xs = [cols.indexOf(1), cols.lastIndexOf(1)] as const;
    return [xs[0], ys[0], xs[1] + 1, ys[1] + 1];
  }
  const ry = studyRun(rows) as [number, number];
  const rx = studyRun(cols) as [number, number];
  return [rx[0], ry[0], rx[1], ry[1]];
}

/** Euclidean distance between two boxes as 4-vectors. */
export function boxDistance(a: Box | ArrayLike<number>, b: Box | ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < 4; i++) {
    const d = (a[i] as number) - (b[i] as number);
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * For each GT box, the index of the nearest of the first `candidates` detection boxes (flat N x 4), by
 * L2 distance with strict `<` (the lowest index wins ties). No distance limit, no uniqueness. Null
 * when there is no candidate or the GT box is null.
 */
export function matchBoxes(gtBoxes: readonly (Box | null)[], detBoxes: ArrayLike<number>, candidates: number): Array<number | null> {
  const n = Math.min(candidates, Math.floor(detBoxes.length / 4));
  return gtBoxes.map((g) => {
    if (!g || n <= 0) return null;
    let best = 0;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      const d = boxDistance(g, [detBoxes[i * 4]!, detBoxes[i * 4 + 1]!, detBoxes[i * 4 + 2]!, detBoxes[i * 4 + 3]!]);
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  });
}

/** Number of leading detections with score >= floor (scores are sorted descending; the study's count). */
export function candidateCount(scores: ArrayLike<number>, floor: number): number {
  let n = 0;
  for (let i = 0; i < scores.length; i++) if ((scores[i] as number) >= floor) n++;
  return n;
}

/** The binary mask (0/1) of detection `index`: soft values >= threshold, or non-zero for 0/1 masks. */
export function detectionMask(output: Pick<DetectorOutput, "masks" | "width" | "height">, index: number, threshold = DETECTOR_MASK_THRESHOLD): Uint8Array {
  const hw = output.width * output.height;
  const out = new Uint8Array(hw);
  const src = output.masks.subarray(index * hw, (index + 1) * hw);
  if (src instanceof Uint8Array) {
    for (let i = 0; i < hw; i++) out[i] = src[i] ? 1 : 0;
  } else {
    for (let i = 0; i < hw; i++) out[i] = src[i]! >= threshold ? 1 : 0;
  }
  return out;
}

/**
 * Paints binary masks into a label map; where masks overlap the LOWEST id wins (the study's argmax
 * over soft-aggregated probabilities resolves exact ties to the lowest object). Null masks paint
 * nothing. Returns the map and the pixels each object owns.
 */
export function composeLabelMap(
  masks: readonly (Uint8Array | null)[],
  ids: readonly number[],
  width: number,
  height: number,
): { labels: Uint8Array; pixels: number[] } {
  if (masks.length !== ids.length) throw new StcnError("ERR_STCN_ARGUMENT", `composeLabelMap: ${masks.length} masks for ${ids.length} ids`);
  const hw = width * height;
  const labels = new Uint8Array(hw);
  const order = ids.map((id, i) => [id, i] as const).sort((a, b) => a[0] - b[0]);
  const pixels = new Array<number>(ids.length).fill(0);
  for (const [id, i] of order) {
    if (!Number.isInteger(id) || id < 1 || id > 255) throw new StcnError("ERR_STCN_ARGUMENT", `composeLabelMap: object id ${id} outside 1..255`);
    const m = masks[i];
    if (!m) continue;
    if (m.length !== hw) throw new StcnError("ERR_STCN_ARGUMENT", `composeLabelMap: mask ${i} has ${m.length} pixels, expected ${width}x${height}`);
    let owned = 0;
    for (let p = 0; p < hw; p++) {
      if (m[p] && labels[p] === 0) {
        labels[p] = id;
        owned++;
      }
    }
    pixels[i] = owned;
  }
  return { labels, pixels };
}

/**
 * The detector archives' input: the RGB bytes as a uint8 [H,W,3] tensor (one copy, no per-pixel
 * work); the archive converts it to what its network expects (see docs/architecture.md).
 */
export function imageTensor(image: RgbImage): Tensor {
  checkRgbImage(image, "image");
  return Tensor.fromTypedArray(image.data, [image.height, image.width, 3]);
}

// ---------------------------------------------------------------------------------------------------
// The annotator

function field(result: Record<string, Value>, name: string, path: string): Tensor {
  const v = result[name];
  if (!(v instanceof Tensor)) throw new StcnError("ERR_STCN_RUN", `detector ${path} returned no "${name}" tensor (keys: ${Object.keys(result).join(", ")})`);
  return v;
}

async function detectorOutput(result: Value, image: RgbImage, path: string, detectorMs: number): Promise<DetectorOutput> {
  if (result === null || typeof result !== "object" || Array.isArray(result) || result instanceof Tensor) {
    throw new StcnError("ERR_STCN_RUN", `detector ${path} must return a dict {boxes, scores, labels, masks}`);
  }
  const dict = result as Record<string, Value>;
  const tensors = ["boxes", "scores", "labels", "masks"].map((k) => field(dict, k, path));
  try {
    // CUDA results: copy to the host off the main thread (toTypedArray would copy synchronously).
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      if (t.device !== "cpu") {
        tensors[i] = await t.to("cpu");
        t.dispose();
      }
    }
    const [boxesT, scoresT, labelsT, masksT] = tensors as [Tensor, Tensor, Tensor, Tensor];
    const n = scoresT.shape[0] ?? 0;
    const hw = image.width * image.height;
    const shapeOk =
      boxesT.shape.length === 2 && boxesT.shape[0] === n && boxesT.shape[1] === 4 &&
      labelsT.shape[0] === n && masksT.shape[0] === n && masksT.size === n * hw;
    if (!shapeOk) {
      throw new StcnError(
        "ERR_STCN_RUN",
        `detector ${path} returned inconsistent shapes for a ${image.width}x${image.height} image: boxes ${JSON.stringify(boxesT.shape)}, ` +
          `scores ${JSON.stringify(scoresT.shape)}, labels ${JSON.stringify(labelsT.shape)}, masks ${JSON.stringify(masksT.shape)}`,
      );
    }
    const boxes = Float32Array.from(boxesT.toTypedArray() as ArrayLike<number>);
    const scores = Float32Array.from(scoresT.toTypedArray() as ArrayLike<number>);
    const rawLabels = labelsT.toTypedArray();
    const labels = rawLabels instanceof BigInt64Array ? Int32Array.from(rawLabels, Number) : Int32Array.from(rawLabels as ArrayLike<number>);
    const rawMasks = masksT.toTypedArray();
    const masks = rawMasks instanceof Float32Array || rawMasks instanceof Uint8Array ? rawMasks : Float32Array.from(rawMasks as ArrayLike<number>);
    return { width: image.width, height: image.height, count: n, boxes, scores, labels, masks, detectorMs };
  } finally {
    for (const t of tensors) t.dispose();
  }
}

function methodFromMetadata(module: Module): DetectorMethod | undefined {
  const model = module.metadata?.model;
  return model === "maskrcnn" || model === "pointrend" ? model : undefined;
}

/**
 * Binds a detector archive (loaded with {@link loadModule}) to the study's first-frame procedure.
 * The module is not owned: dispose it yourself.
 */
export function detectorAnnotator(module: Module, options: DetectorAnnotatorOptions = {}): DetectorAnnotator {
  const method = options.method ?? methodFromMetadata(module) ?? "maskrcnn";
  const channelOrder = options.channelOrder ?? "rgb";
  const maskThreshold = options.maskThreshold ?? DETECTOR_MASK_THRESHOLD;
  checkInterval(maskThreshold, "maskThreshold", 0, 1, "high");
  checkOneOf(channelOrder, "channelOrder", ["rgb", "bgr"] as const);

  // "bgr": the archive's forward on the R/B-swapped image, done inside TorchScript.
  const entry = channelOrder === "bgr" ? "forward_swapped" : "forward";
  if (!module.methods.includes(entry)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${module.path} has no ${entry} method (channel order ${channelOrder}); re-export it with stcn export`);
  }

  async function detect(image: RgbImage, opts: DetectOptions = {}): Promise<DetectorOutput> {
    const { signal } = opts;
    throwIfAborted(signal, "detector");
    const x = imageTensor(image);
    try {
      const start = performance.now();
      // Checks the signal before the run starts, and disposes the outputs if it was aborted meanwhile.
      const result = await module.runWithOptions(entry, [x], signalOption(signal));
      const ms = performance.now() - start;
      return await detectorOutput(result, image, module.path, ms);
    } finally {
      x.dispose();
    }
  }

  async function annotate(image: RgbImage, gt: LabelMap | null, opts: AnnotateOptions = {}): Promise<DetectorAnnotation> {
    const boxRule = opts.boxRule ?? "study";
    if (gt && (gt.width !== image.width || gt.height !== image.height)) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `GT mask is ${gt.width}x${gt.height} but the frame is ${image.width}x${image.height}; they must have the same size`,
      );
    }
    const warnings: string[] = [];
    const warn = (message: string): void => {
      warnings.push(message);
      options.onWarning?.(message);
    };
    const det = await detect(image, signalOption(opts.signal));
    // Post-processing (matching, masks, composition) runs on this thread: the last boundary.
    throwIfAborted(opts.signal, "detector");
    const { width, height } = det;
    const objects: AnnotatedObject[] = [];
    const masks: Array<Uint8Array | null> = [];

    if (gt) {
      const ids = labelIds(gt.data, { void: null });
      if (ids.length === 0) warn("the GT first mask has no objects (all background): nothing to match");
      const floor = opts.scoreThreshold ?? STUDY_CANDIDATE_SCORE[method];
      const candidates = candidateCount(det.scores, floor);
      if (det.count === 0) warn(`the detector found nothing in frame 0: ${ids.length} object(s) left empty`);
      else if (candidates === 0) warn(`no detection scores >= ${floor} (best ${det.scores[0]}): ${ids.length} object(s) left empty`);
      const boxes = ids.map((id) => gtBox(gt.data, gt.width, gt.height, id, boxRule));
      const matches = matchBoxes(boxes, det.boxes, candidates);
      ids.forEach((id, k) => {
        const j = matches[k] ?? null;
        const box = boxes[k] ?? null;
        const mask = j === null ? null : detectionMask(det, j, maskThreshold);
        masks.push(mask);
        objects.push({
          id,
          box,
          detection: j,
          detectionBox: j === null ? null : (Array.from(det.boxes.subarray(j * 4, j * 4 + 4)) as Box),
          score: j === null ? null : det.scores[j]!,
          label: j === null ? null : det.labels[j]!,
          distance: j === null || !box ? null : boxDistance(box, det.boxes.subarray(j * 4, j * 4 + 4)),
          maskPixels: mask ? mask.reduce((s, v) => s + v, 0) : 0,
          pixels: 0,
        });
      });
      const taken = new Map<number, number[]>();
      for (const o of objects) if (o.detection !== null) taken.set(o.detection, [...(taken.get(o.detection) ?? []), o.id]);
      for (const [j, owners] of taken) {
        if (owners.length > 1) warn(`objects ${owners.join(", ")} all matched detection ${j}; the lowest id keeps the overlap`);
      }
    } else {
      const floor = opts.scoreThreshold ?? DETECTOR_NO_GT_SCORE;
      let kept = candidateCount(det.scores, floor);
      if (det.count === 0) warn("the detector found nothing in frame 0: the annotation is empty");
      else if (kept === 0) warn(`no detection scores >= ${floor} (best ${det.scores[0]}): the annotation is empty`);
      if (kept > 255) {
        warn(`${kept} detections score >= ${floor}; only the 255 best fit a label map`);
        kept = 255;
      }
      for (let j = 0; j < det.count && objects.length < kept; j++) {
        if (det.scores[j]! < floor) continue;
        const mask = detectionMask(det, j, maskThreshold);
        masks.push(mask);
        objects.push({
          id: objects.length + 1,
          box: Array.from(det.boxes.subarray(j * 4, j * 4 + 4)) as Box,
          detection: j,
          detectionBox: Array.from(det.boxes.subarray(j * 4, j * 4 + 4)) as Box,
          score: det.scores[j]!,
          label: det.labels[j]!,
          distance: null,
          maskPixels: mask.reduce((s, v) => s + v, 0),
          pixels: 0,
        });
      }
    }

    const composed = composeLabelMap(masks, objects.map((o) => o.id), width, height);
    objects.forEach((o, i) => {
      o.pixels = composed.pixels[i]!;
      if (o.detection !== null && o.pixels === 0) {
        warn(`object ${o.id}: detection ${o.detection} ${o.maskPixels === 0 ? "has an empty mask" : "is entirely covered by lower ids"}`);
      }
    });
    return { width, height, labels: composed.labels, objects, detections: det.count, detectorMs: det.detectorMs, warnings };
  }

  return { method, detect, annotate };
}

// ---------------------------------------------------------------------------------------------------
// Files in, file out (what `stcn annotate --method maskrcnn|pointrend` runs)

/** Options of {@link detectorAnnotateFile}. */
export interface DetectorAnnotateFileOptions {
  method: DetectorMethod;
  /** TorchScript archive from `stcn export maskrcnn|pointrend`. */
  model: string;
  /** A folder of frames (frame 0 = the first image file in sorted order) or one image file. */
  frames: string;
  /** The GT first-frame mask (required unless `noGt`). */
  gtMask?: string;
  /** Output label PNG (the GT mask's palette, else the DAVIS palette), written atomically. */
  out: string;
  device?: string;
  boxRule?: BoxRule;
  /** Keep every detection scoring at least `scoreThreshold` as its own object instead of matching GT objects. */
  noGt?: boolean;
  scoreThreshold?: number;
  channelOrder?: ChannelOrder;
  maskThreshold?: number;
  /** Called with each warning (they are also in the result). */
  onWarning?: (message: string) => void;
  /** "mask" (default): the detections' masks; "box": their boxes filled (see {@link boxLabelMap}). */
  as?: "mask" | "box";
  /**
   * Cancels the call: it rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR") at the next
   * stage boundary (before each file is read, before the model is loaded, before the detector runs,
   * before the matching, before the PNG is written). The detector's native run cannot be interrupted:
   * an abort during it takes effect when it returns. The model is disposed and no file is written.
   */
  signal?: AbortSignal;
}

/** What {@link detectorAnnotateFile} did: the annotation, the frame it read and the PNG it wrote. */
export interface DetectorAnnotateFileResult extends DetectorAnnotation {
  frame: string;
  out: string;
}

/**
 * Annotates the first frame of `frames` with a detector archive and writes the label map to `out`.
 * Rejects with ERR_STCN_ARGUMENT (wrong method, missing GT mask, an archive of the other detector),
 * ERR_STCN_INPUT (unreadable frames or masks, sizes that differ) or the loader's codes; with `signal`,
 * AbortError at the next stage boundary (see {@link DetectorAnnotateFileOptions.signal}), leaving no
 * file: the PNG is written atomically (temp file, then rename) after the last check, as the last step.
 */
export async function detectorAnnotateFile(options: DetectorAnnotateFileOptions): Promise<DetectorAnnotateFileResult> {
  if (options.method !== "maskrcnn" && options.method !== "pointrend") {
    throw new StcnError("ERR_STCN_ARGUMENT", `method must be maskrcnn or pointrend for the detector annotator, got ${String(options.method)}`);
  }
  if (!options.noGt && !options.gtMask) throw new StcnError("ERR_STCN_ARGUMENT", "a GT first-frame mask is required (or noGt to keep all detections)");
  const { signal } = options;
  const what = "detectorAnnotateFile";
  throwIfAborted(signal, what);
  const framePath = await firstFrame(options.frames);
  throwIfAborted(signal, what);
  const gt = options.noGt ? null : await readLabelPng(options.gtMask as string);
  throwIfAborted(signal, what);
  const image = await readRgb(framePath);
  throwIfAborted(signal, what);
  const module = await loadModule(options.model, { device: options.device ?? "cpu" });
  try {
    const declared = methodFromMetadata(module);
    if (declared && declared !== options.method) {
      throw new StcnError("ERR_STCN_ARGUMENT", `method ${options.method} but ${options.model} holds a ${declared} model`);
    }
    const annotator = detectorAnnotator(module, {
      method: options.method,
      channelOrder: options.channelOrder ?? "rgb",
      maskThreshold: options.maskThreshold ?? DETECTOR_MASK_THRESHOLD,
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const annotation = await annotator.annotate(image, gt, {
      boxRule: options.boxRule ?? "study",
      scoreThreshold: options.scoreThreshold,
      ...signalOption(signal),
    });
    const labels =
      options.as === "box" ? boxLabelMap(annotation.objects.map((o) => ({ id: o.id, box: o.detectionBox })), annotation.width, annotation.height) : annotation.labels;
    throwIfAborted(signal, what);
    await writeLabelPng(options.out, labels, annotation.width, annotation.height, gt?.palette ?? davisPalette());
    return { ...annotation, labels, frame: framePath, out: options.out };
  } finally {
    module.dispose();
  }
}
