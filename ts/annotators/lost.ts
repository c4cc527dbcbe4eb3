/**
 * LOST first-frame annotation: the salient object of an image without any label (Siméoni et al.
 * 2021) from the keys of DINO's last block, optionally refined by a fully connected CRF (the
 * study's "LOST + CRF" first-frame masks; docs/lost.md, "What is computed, and how it matches the study").
 *
 * Split: the DINO module exported by torchscript/export_dino.py does the network and the one matrix
 * product (`lost_gram`: A = F Fᵀ on the module's device); TypeScript does the graph steps
 * (./lost-graph.ts) on the copied-out Gram matrix.
 */
import { signalOption, throwIfAborted } from "../abort.js";
import { denseCrf, STUDY_CRF, unaryFromLabels, type DenseCrfTiming } from "../crf.js";
import { checkInteger, checkInterval, checkOneOf, checkPositive, checkRgbImage } from "../check.js";
import { StcnError } from "../errors.js";
import { readRgb, type RgbImage } from "../io/image.js";
import { writeLabelPng } from "../io/png.js";
import { loadModule, Module } from "../module.js";
import { firstFrame } from "../stcn/video.js";
import { boxLabelMap } from "./box-label-map.js";
import { Tensor } from "../tensor.js";
import { lostGraph, upsampleNearest, type LostObject } from "./lost-graph.js";

export { lostGraph, upsampleNearest, type LostGeometry, type LostGraphOptions, type LostGraphResult, type LostObject } from "./lost-graph.js";

/** Which last-block features LOST compares: keys (the published default), queries or values. */
export type LostFeature = "k" | "q" | "v";

/** Options of {@link lost}. */
export interface LostOptions {
  /** Last-block features: "k" (default), "q" or "v". */
  feature?: LostFeature;
  /** Candidate patches (LOST's k). Default 100. */
  kPatches?: number;
  /** Objects to find (default 1, the published LOST). See {@link LostGraphOptions.objects}. */
  objects?: number;
  /** Keep the Gram matrix A (N × N float32) in the result (for analysis; 10.5 MB for 480×854). */
  keepGram?: boolean;
  /**
   * Cancels the call: it rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR") at the
   * next stage boundary (before the image is read, before the model is loaded, before DINO runs,
   * before the graph steps, before and after the CRF, before the PNG is written). DINO's native run
   * cannot be interrupted: an abort during it takes effect when it returns, and its outputs are
   * freed. An aborted call writes no file.
   */
  signal?: AbortSignal;
}

/** What {@link lost} returns. */
export interface LostResult {
  /** Unpadded image size. */
  width: number;
  height: number;
  /** Patch grid (of the image padded at the bottom/right to a multiple of the patch size). */
  rows: number;
  cols: number;
  patchSize: number;
  /** Found objects (ids 1..n), with seed, candidates, patch mask and box. */
  objects: LostObject[];
  /** Patch labels (rows × cols). */
  grid: Uint8Array;
  /** Pixel labels (height × width): the grid upsampled nearest (half-pixel centres) to the unpadded size. */
  labels: Uint8Array;
  /** A = F Fᵀ (row-major N × N) when `keepGram` was set. */
  gram?: Float32Array;
  /** Milliseconds: DINO + Gram (native, off the main thread) and the graph steps (TypeScript). */
  timings: { featuresMs: number; graphMs: number };
}

/** A DINO export's metadata (torchscript/export_dino.py). */
interface DinoMetadata {
  model: "dino";
  arch: string;
  patch_size: number;
}

function dinoMetadata(model: Module): DinoMetadata {
  const meta = model.metadata;
  if (!meta || meta.model !== "dino" || typeof meta.patch_size !== "number") {
    throw new StcnError(
      "ERR_STCN_ARGUMENT",
      `${model.path} is not a DINO export (metadata.model = ${JSON.stringify(meta?.model ?? null)}); ` +
        "create one with torchscript/export_dino.py --arch vit_small|vit_base --checkpoint FILE --out dino.pt",
    );
  }
  if (!model.methods.includes("lost_gram")) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${model.path} has no lost_gram method; re-export it with torchscript/export_dino.py`);
  }
  return meta as unknown as DinoMetadata;
}

async function withModel<T>(model: Module | string, device: string | undefined, signal: AbortSignal | undefined, body: (m: Module) => Promise<T>): Promise<T> {
  if (model instanceof Module) return body(model);
  throwIfAborted(signal, "lost");
  const loaded = await loadModule(model, { device: device ?? "cpu" });
  try {
    return await body(loaded);
  } finally {
    loaded.dispose();
  }
}

async function withImage(image: RgbImage | string, signal: AbortSignal | undefined, what: string): Promise<RgbImage> {
  throwIfAborted(signal, what);
  return typeof image === "string" ? readRgb(image) : image;
}

/**
 * LOST on one RGB image: DINO's last-block features → Gram matrix (native) → degree, seed, k
 * candidates, expansion, 4-connected component, box (TypeScript) → mask at the unpadded size.
 *
 * `model` is a loaded DINO export (`loadModule("dino.pt")`) or its path (loaded on `device` and
 * disposed afterwards); `image` is packed RGB or an image file. Rejects with ERR_STCN_ARGUMENT
 * (wrong model/option/image), ERR_STCN_INPUT (unreadable file) or ERR_STCN_RUN (LibTorch); with
 * `signal`, AbortError at the next stage boundary (see {@link LostOptions.signal}).
 */
export async function lost(model: Module | string, image: RgbImage | string, options: LostOptions & { device?: string } = {}): Promise<LostResult> {
  const feature = checkOneOf(options.feature ?? "k", "feature", ["k", "q", "v"] as const);
  const kPatches = checkInteger(options.kPatches ?? 100, "kPatches", 1);
  const objects = checkInteger(options.objects ?? 1, "objects", 1, 255);
  const { signal } = options;
  const rgb = checkRgbImage(await withImage(image, signal, "lost"), "image");
  return withModel(model, options.device, signal, async (m) => {
    const meta = dinoMetadata(m);
    const input = Tensor.fromTypedArray(rgb.data, [rgb.height, rgb.width, 3]);
    const t0 = performance.now();
    let gram: Float32Array;
    let rows: number;
    let cols: number;
    try {
      // Checks the signal before the run starts, and disposes the outputs if it was aborted meanwhile.
      const out = (await m.runWithOptions("lost_gram", [input, feature], signalOption(signal))) as [Tensor, number, number];
      const [a, r, c] = out;
      try {
        gram = a.toTypedArray() as Float32Array;
      } finally {
        a.dispose();
      }
      rows = r;
      cols = c;
    } finally {
      input.dispose();
    }
    const t1 = performance.now();
    throwIfAborted(signal, "lost");
    const patchSize = meta.patch_size;
    const graph = lostGraph(gram, { rows, cols, width: rgb.width, height: rgb.height, patchSize }, { kPatches, objects });
    const labels = upsampleNearest(graph.grid, rows, cols, rgb.height, rgb.width);
    const t2 = performance.now();
    return {
      width: rgb.width,
      height: rgb.height,
      rows,
      cols,
      patchSize,
      objects: graph.objects,
      grid: graph.grid,
      labels,
      ...(options.keepGram ? { gram } : {}),
      timings: { featuresMs: t1 - t0, graphMs: t2 - t1 },
    };
  });
}

/** CRF parameters of {@link lostCrf}; defaults are the study's (docs/lost.md, "What is computed", step 5). */
export interface LostCrfOptions {
  /** Probability of the LOST label in the unary (pydensecrf unary_from_labels). Default 10/11. */
  gtProb?: number;
  /** Mean-field iterations. Default 10. */
  iterations?: number;
  /** Gaussian (smoothness) kernel sxy in pixels. Default 3. */
  sxyGaussian?: number;
  /** Gaussian kernel Potts weight. Default 3. */
  compatGaussian?: number;
  /** Bilateral (appearance) kernel sxy in pixels. Default 40. */
  sxyBilateral?: number;
  /** Bilateral colour standard deviation (R, G and B). Default 13. */
  srgb?: number;
  /** Bilateral kernel Potts weight. Default 10. */
  compatBilateral?: number;
  /** CRF worker threads (default: the addon's thread count). */
  threads?: number;
}

/** The study's CRF after LOST: 2 labels, gtProb 10/11, Gaussian sxy 3 compat 3, bilateral sxy 40 srgb 13 compat 10, 10 iterations. */
export const LOST_CRF_DEFAULTS: Readonly<Required<Omit<LostCrfOptions, "threads">>> = Object.freeze({
  gtProb: STUDY_CRF.gtProb,
  iterations: STUDY_CRF.iterations,
  sxyGaussian: STUDY_CRF.gaussian.sxy,
  compatGaussian: STUDY_CRF.gaussian.compat,
  sxyBilateral: STUDY_CRF.bilateral.sxy,
  srgb: STUDY_CRF.bilateral.srgb,
  compatBilateral: STUDY_CRF.bilateral.compat,
});

/** What {@link lostCrf} returns: the LOST result with `labels` replaced by the CRF's. */
export interface LostCrfResult extends LostResult {
  /** The LOST mask before the CRF (height × width). */
  lostLabels: Uint8Array;
  /** Native CRF timings. */
  crfTiming: DenseCrfTiming;
}

/**
 * LOST followed by the fully connected CRF, the study's first-frame masks (docs/lost.md, steps 4-5): the
 * upsampled LOST labels are the unary (pydensecrf `unary_from_labels`, objects + 1 labels, gtProb
 * 10/11, zero_unsure false), the RGB frame drives the bilateral kernel, and the argmax after 10
 * mean-field iterations is the mask. With `objects` > 1 the CRF has objects + 1 labels (the natural
 * generalisation; the study only had 2). With `signal`, the CRF (one native call, not
 * interruptible) is skipped when the signal is aborted before it, and its result dropped when it is
 * aborted during it: the call rejects with AbortError either way.
 */
export async function lostCrf(
  model: Module | string,
  image: RgbImage | string,
  options: LostOptions & { device?: string; crf?: LostCrfOptions } = {},
): Promise<LostCrfResult> {
  const c = { ...LOST_CRF_DEFAULTS, ...(options.crf ?? {}) };
  // Checked before the network runs (the CRF would refuse them only after it).
  checkInterval(c.gtProb, "gtProb", 0, 1);
  checkInteger(c.iterations, "CRF iterations", 0);
  for (const key of ["sxyGaussian", "sxyBilateral", "srgb"] as const) checkPositive(c[key], key);
  const { signal } = options;
  const rgb = await withImage(image, signal, "lostCrf");
  const found = await lost(model, rgb, options);
  throwIfAborted(signal, "lostCrf");
  const crf = await denseCrf({
    image: rgb,
    unary: unaryFromLabels(found.labels, (options.objects ?? 1) + 1, c.gtProb, false),
    gaussian: { sxy: c.sxyGaussian, compat: c.compatGaussian },
    bilateral: { sxy: c.sxyBilateral, srgb: c.srgb, compat: c.compatBilateral },
    iterations: c.iterations,
    ...(c.threads !== undefined ? { threads: c.threads } : {}),
  });
  throwIfAborted(signal, "lostCrf");
  return { ...found, lostLabels: found.labels, labels: crf.labels, crfTiming: crf.timing };
}

/** Options of {@link lostAnnotateFile}. */
export interface LostAnnotateFileOptions extends LostOptions {
  method: "lost" | "lost-crf";
  /** DINO TorchScript export (`stcn export dino`). */
  model: string;
  /** A folder of frames (the first in sorted order is used) or one image. */
  frames: string;
  /** Output palette PNG (DAVIS palette), object ids 1..objects, written atomically. */
  out: string;
  device?: string;
  /** CRF parameters of "lost-crf"; defaults {@link LOST_CRF_DEFAULTS}. */
  crf?: LostCrfOptions;
  /** "mask" (default) or "box" (lost only): each object's LOST box filled (see {@link boxLabelMap}). */
  as?: "mask" | "box";
}

/**
 * What {@link lostAnnotateFile} did: LOST's result (for "lost-crf" `labels` are the CRF's and
 * `crfTiming` is set), the frame it read and the PNG it wrote.
 */
export interface LostAnnotateFileResult extends LostResult {
  method: "lost" | "lost-crf";
  frame: string;
  out: string;
  crfTiming?: DenseCrfTiming;
}

/**
 * LOST (optionally + dense CRF) on the first frame of `frames`, written atomically to `out` as a
 * DAVIS-palette PNG with object ids 1..objects. With `signal`, an abort rejects with AbortError at the
 * next stage boundary (see {@link LostOptions.signal}) and leaves no file: the PNG is written (temp file,
 * then rename) only after the last check, and is the call's last step.
 */
export async function lostAnnotateFile(options: LostAnnotateFileOptions): Promise<LostAnnotateFileResult> {
  const { method } = options;
  if (method !== "lost" && method !== "lost-crf") {
    throw new StcnError("ERR_STCN_ARGUMENT", `method must be lost or lost-crf here, got ${JSON.stringify(method)}`);
  }
  for (const key of ["model", "frames", "out"] as const) {
    if (typeof options[key] !== "string" || options[key].length === 0) throw new StcnError("ERR_STCN_ARGUMENT", `${key} is required for method ${method}`);
  }
  if (options.as === "box" && method !== "lost") throw new StcnError("ERR_STCN_ARGUMENT", "as box takes LOST's box: use method lost (the CRF refines masks only)");
  const { signal } = options;
  throwIfAborted(signal, "lostAnnotateFile");
  const framePath = await firstFrame(options.frames);
  throwIfAborted(signal, "lostAnnotateFile");
  const image = await readRgb(framePath);
  const lostOptions: LostOptions & { device?: string } = {};
  for (const key of ["device", "objects", "feature", "kPatches", "signal"] as const) {
    if (options[key] !== undefined) Object.assign(lostOptions, { [key]: options[key] });
  }
  const result: LostResult & { crfTiming?: DenseCrfTiming } =
    method === "lost-crf"
      ? await lostCrf(options.model, image, { ...lostOptions, ...(options.crf ? { crf: options.crf } : {}) })
      : await lost(options.model, image, lostOptions);
  const labels = options.as === "box" ? boxLabelMap(result.objects.map((o) => ({ id: o.id, box: o.box })), result.width, result.height) : result.labels;
  throwIfAborted(signal, "lostAnnotateFile");
  await writeLabelPng(options.out, labels, result.width, result.height);
  return { ...result, labels, method, frame: framePath, out: options.out };
}
