/**
 * Dense CRF (fully connected CRF with Gaussian edge potentials, Krähenbühl & Koltun 2011) with the
 * semantics of the reference `densecrf` code behind pydensecrf's `DenseCRF2D`, so parameters mean the
 * same thing: `unary_from_labels` / `unary_from_softmax` unaries, `addPairwiseGaussian(sxy, compat)`,
 * `addPairwiseBilateral(sxy, srgb, rgbim, compat)` (DIAG kernel, Potts compatibility, symmetric
 * normalisation by default) and `inference(iterations)`. Our own C++ (permutohedral lattice +
 * multi-threaded mean field), run off the main thread.
 *
 * The study's call (LOST mask -> CRF, 2 labels):
 * ```ts
 * import { refineMaskWithCrf } from "stcn-node";
 * const refined = await refineMaskWithCrf(rgbFrame, mask01); // Uint8Array of 0/1, same size
 * ```
 * which is {@link denseCrf} with {@link STUDY_CRF}: gtProb 10/11, Gaussian sxy 3 compat 3,
 * bilateral sxy 40 srgb 13 compat 10, 10 iterations.
 */
import { checkFinite, checkFiniteArray, checkInteger, checkInterval, checkLabelRange, checkOneOf, checkPositive, checkRgbImage } from "./check.js";
import { StcnError, withCallerStack } from "./errors.js";
import type { RgbImage } from "./io/image.js";
import { native } from "./native.js";

/** How a pairwise kernel is normalised (pydensecrf's NormalizationType). */
export type CrfNormalization = "symmetric" | "before" | "after" | "none";

/** Smoothness kernel on pixel positions: exp(-|p_i - p_j|² / (2 sxy²)). */
export interface GaussianKernelOptions {
  /** Spatial standard deviation in pixels: one number, or [sx, sy]. Default 3. */
  sxy?: number | readonly [number, number];
  /** Potts weight (pydensecrf `compat`). Default 3. */
  compat?: number;
  /** Default "symmetric" (pydensecrf's default). */
  normalization?: CrfNormalization;
}

/** Appearance kernel on positions and colours: exp(-|p_i - p_j|²/(2 sxy²) - |I_i - I_j|²/(2 srgb²)). */
export interface BilateralKernelOptions {
  /** Spatial standard deviation in pixels: one number, or [sx, sy]. Default 80. */
  sxy?: number | readonly [number, number];
  /** Colour standard deviation: one number, or [sr, sg, sb] (image channel order). Default 13. */
  srgb?: number | readonly [number, number, number];
  /** Potts weight (pydensecrf `compat`). Default 10. */
  compat?: number;
  /** Default "symmetric". */
  normalization?: CrfNormalization;
}

/**
 * Unary term. Build it with {@link unaryFromLabels}, {@link unaryFromProbabilities} or
 * {@link unaryFromEnergy}.
 */
export type CrfUnary =
  | { kind: "labels"; labels: Uint8Array; nLabels: number; gtProb: number; zeroUnsure: boolean }
  | { kind: "probabilities"; probabilities: Float32Array; nLabels: number; clip: number; scale: number | null }
  | { kind: "energy"; energy: Float32Array; nLabels: number };

/** Options of {@link denseCrf}. Defaults are pydensecrf's example (examples/inference.py). */
export interface DenseCrfOptions {
  /** The RGB image (8-bit, `data[(y*width + x)*3 + c]`); its size is the CRF's size. */
  image: RgbImage;
  /** The unary term (same pixel count as the image). */
  unary: CrfUnary;
  /** Smoothness kernel; `null` leaves it out. Default { sxy: 3, compat: 3 }. */
  gaussian?: GaussianKernelOptions | null;
  /** Appearance kernel; `null` leaves it out. Default { sxy: 80, srgb: 13, compat: 10 }. */
  bilateral?: BilateralKernelOptions | null;
  /** Mean-field iterations (0 = softmax of the unary). Default 5. */
  iterations?: number;
  /** Worker threads. Default: the addon's thread count (STCN_NUM_THREADS / OMP_NUM_THREADS / cores). */
  threads?: number;
}

/** Milliseconds spent in each part of the native computation. */
export interface DenseCrfTiming {
  /** Unary energies. */
  unaryMs: number;
  /** Lattices (hash tables, blur neighbours) and normalisers. */
  setupMs: number;
  /** Q0 and the mean-field iterations. */
  inferenceMs: number;
  /** unaryMs + setupMs + inferenceMs + validation and argmax, as measured natively. */
  totalMs: number;
}

/** Result of {@link denseCrf}. */
export interface DenseCrfResult {
  width: number;
  height: number;
  nLabels: number;
  /** Final marginals Q, `q[(l*height + y)*width + x]` ([nLabels, H, W], C order). */
  q: Float32Array;
  /** Row of Q with the largest marginal per pixel (ties go to the lower row). */
  argmax: Int32Array;
  /**
   * The argmax as a label map in the unary's label space: with `zeroUnsure` labels 1..nLabels
   * (argmax + 1), otherwise 0..nLabels-1.
   */
  labels: Uint8Array;
  /** Vertices of each kernel's lattice (Gaussian first, then bilateral); empty when no iteration ran. */
  latticePoints: number[];
  timing: DenseCrfTiming;
}

/** The parameters the study (LOST masks -> CRF) uses; see {@link refineMaskWithCrf}. */
export const STUDY_CRF = Object.freeze({
  nLabels: 2,
  gtProb: 10 / 11,
  zeroUnsure: false,
  gaussian: Object.freeze({ sxy: 3, compat: 3 }),
  bilateral: Object.freeze({ sxy: 40, srgb: 13, compat: 10 }),
  iterations: 10,
});

function argError(message: string): StcnError {
  return new StcnError("ERR_STCN_ARGUMENT", message);
}

function checkNLabels(nLabels: number, zeroUnsure: boolean): number {
  // Label maps are 8-bit: 0..255 (1..255 with zeroUnsure).
  return checkInteger(nLabels, "nLabels", 1, zeroUnsure ? 255 : 256);
}

/**
 * pydensecrf's `unary_from_labels(labels, nLabels, gtProb, zeroUnsure)`: energy -log(gtProb) for the
 * annotated label, -log((1-gtProb)/(nLabels-1)) for the others; with `zeroUnsure`, labels are
 * 1..nLabels and 0 means "unsure" (uniform -log(1/nLabels)). Labels are checked against nLabels.
 */
export function unaryFromLabels(labels: Uint8Array, nLabels: number, gtProb: number, zeroUnsure = false): CrfUnary {
  if (!(labels instanceof Uint8Array)) throw argError("labels must be a Uint8Array (one label per pixel)");
  checkNLabels(nLabels, zeroUnsure);
  checkInterval(gtProb, "gtProb", 0, 1);
  checkLabelRange(labels, nLabels, zeroUnsure);
  return { kind: "labels", labels, nLabels, gtProb, zeroUnsure };
}

/**
 * pydensecrf's `unary_from_softmax(probabilities, scale, clip)`: optional blend
 * scale·p + (1-scale)/nLabels (scale in (0, 1]), clip to [clip, 1], energy -log.
 * `probabilities` is [nLabels, H, W] (C order).
 */
export function unaryFromProbabilities(
  probabilities: Float32Array,
  nLabels: number,
  options: { clip?: number; scale?: number | null } = {},
): CrfUnary {
  if (!(probabilities instanceof Float32Array)) throw argError("probabilities must be a Float32Array [nLabels, H, W]");
  checkNLabels(nLabels, false);
  const clip = checkInterval(options.clip ?? 1e-5, "clip", 0, 1, "high");
  const scale = options.scale ?? null;
  if (scale !== null) checkInterval(scale, "scale", 0, 1, "high");
  return { kind: "probabilities", probabilities, nLabels, clip, scale };
}

/** Unary energies given directly (-log probability), [nLabels, H, W] (C order). */
export function unaryFromEnergy(energy: Float32Array, nLabels: number): CrfUnary {
  if (!(energy instanceof Float32Array)) throw argError("energy must be a Float32Array [nLabels, H, W]");
  checkNLabels(nLabels, false);
  return { kind: "energy", energy, nLabels };
}

interface NativeTerm {
  kind: "gaussian" | "bilateral";
  sx: number;
  sy: number;
  sr?: number;
  sg?: number;
  sb?: number;
  compat: number;
  normalization: CrfNormalization;
}

const NORMALIZATIONS: readonly CrfNormalization[] = ["symmetric", "before", "after", "none"];

function pair(v: number | readonly [number, number], what: string): [number, number] {
  if (typeof v === "number") return [checkPositive(v, what), v];
  if (!Array.isArray(v) || v.length !== 2) throw argError(`${what} must be a number or [x, y]`);
  return [checkPositive(v[0], `${what}[0]`), checkPositive(v[1], `${what}[1]`)];
}

function triple(v: number | readonly [number, number, number], what: string): [number, number, number] {
  if (typeof v === "number") return [checkPositive(v, what), v, v];
  if (!Array.isArray(v) || v.length !== 3) throw argError(`${what} must be a number or [r, g, b]`);
  return [checkPositive(v[0], `${what}[0]`), checkPositive(v[1], `${what}[1]`), checkPositive(v[2], `${what}[2]`)];
}

function normalization(n: CrfNormalization | undefined, what: string): CrfNormalization {
  return checkOneOf(n ?? "symmetric", `${what}.normalization`, NORMALIZATIONS);
}

/**
 * Runs dense-CRF mean-field inference (see the module comment). Rejects with ERR_STCN_ARGUMENT on bad
 * options: sizes that do not match the image, labels >= nLabels, non-positive sxy/srgb, ...
 *
 * Pixel (x, y) is index y*width + x; feature order (x/sx, y/sy, R/sr, G/sg, B/sb); the pairwise
 * update is Q = softmax(-U + Σ_m compat_m · Filter_m(Q)) (the reference's Potts form).
 */
export async function denseCrf(options: DenseCrfOptions): Promise<DenseCrfResult> {
  const caller = new Error();
  const { image, unary } = options;
  checkRgbImage(image, "image");
  const { width, height } = image;
  const n = width * height;
  if (!unary || typeof unary !== "object") throw argError("unary is required (unaryFromLabels / unaryFromProbabilities / unaryFromEnergy)");
  const nLabels = checkNLabels(unary.nLabels, unary.kind === "labels" && unary.zeroUnsure);
  const iterations = checkInteger(options.iterations ?? 5, "iterations", 0, 100_000);
  const threads = checkInteger(options.threads ?? native().getNumThreads(), "threads", 1, 1024);

  const pairwise: NativeTerm[] = [];
  if (options.gaussian !== null) {
    const g = options.gaussian ?? {};
    const [sx, sy] = pair(g.sxy ?? 3, "gaussian.sxy");
    pairwise.push({ kind: "gaussian", sx, sy, compat: checkFinite(g.compat ?? 3, "gaussian.compat"), normalization: normalization(g.normalization, "gaussian") });
  }
  if (options.bilateral !== null) {
    const b = options.bilateral ?? {};
    const [sx, sy] = pair(b.sxy ?? 80, "bilateral.sxy");
    const [sr, sg, sb] = triple(b.srgb ?? 13, "bilateral.srgb");
    pairwise.push({
      kind: "bilateral",
      sx,
      sy,
      sr,
      sg,
      sb,
      compat: checkFinite(b.compat ?? 10, "bilateral.compat"),
      normalization: normalization(b.normalization, "bilateral"),
    });
  }

  const request: Record<string, unknown> = { width, height, nLabels, iterations, threads, image: image.data, pairwise };
  switch (unary.kind) {
    case "labels":
      if (unary.labels.length !== n) throw argError(`labels have ${unary.labels.length} pixels, the image is ${width}x${height} = ${n}`);
      checkInterval(unary.gtProb, "gtProb", 0, 1);
      checkLabelRange(unary.labels, nLabels, unary.zeroUnsure, width);
      Object.assign(request, { unary: "labels", labels: unary.labels, gtProb: unary.gtProb, zeroUnsure: unary.zeroUnsure });
      break;
    case "probabilities":
      if (unary.probabilities.length !== n * nLabels) {
        throw argError(`probabilities have ${unary.probabilities.length} values, expected nLabels*H*W = ${nLabels}*${height}*${width}`);
      }
      checkInterval(unary.clip, "clip", 0, 1, "high");
      if (unary.scale !== null) checkInterval(unary.scale, "scale", 0, 1, "high");
      Object.assign(request, { unary: "probabilities", probabilities: unary.probabilities, clip: unary.clip, scale: unary.scale ?? 0 });
      break;
    case "energy":
      if (unary.energy.length !== n * nLabels) {
        throw argError(`energy has ${unary.energy.length} values, expected nLabels*H*W = ${nLabels}*${height}*${width}`);
      }
      Object.assign(request, { unary: "energy", energy: unary.energy });
      break;
    default:
      throw argError(`unknown unary kind ${String((unary as { kind: unknown }).kind)}`);
  }

  const r = await withCallerStack(native().denseCrf(request), caller);
  const labels = new Uint8Array(n);
  const shift = unary.kind === "labels" && unary.zeroUnsure ? 1 : 0;
  for (let i = 0; i < n; i++) labels[i] = (r.argmax[i] as number) + shift;
  return {
    width,
    height,
    nLabels,
    q: r.q,
    argmax: r.argmax,
    labels,
    latticePoints: r.latticePoints,
    timing: { unaryMs: r.unaryMs, setupMs: r.setupMs, inferenceMs: r.inferenceMs, totalMs: r.totalMs },
  };
}

/**
 * The study's CRF on a binary mask: labels 0 (background) / 1 (object), {@link STUDY_CRF} parameters
 * (unary_from_labels with gtProb 10/11, zeroUnsure false; Gaussian sxy 3 compat 3; bilateral sxy 40
 * srgb 13 compat 10; 10 iterations). Returns the refined 0/1 mask (argmax of Q, ties -> 0).
 * `mask` must hold only 0 and 1 and have the image's size.
 */
export async function refineMaskWithCrf(image: RgbImage, mask: Uint8Array, options: { threads?: number } = {}): Promise<Uint8Array> {
  const result = await denseCrf({
    image,
    unary: unaryFromLabels(mask, STUDY_CRF.nLabels, STUDY_CRF.gtProb, STUDY_CRF.zeroUnsure),
    gaussian: STUDY_CRF.gaussian,
    bilateral: STUDY_CRF.bilateral,
    iterations: STUDY_CRF.iterations,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  return result.labels;
}

/** Options of {@link permutohedralFilter}. */
export interface PermutohedralFilterOptions {
  /** Point features, point-major: `features[i*d + j]` (already divided by the kernel widths). */
  features: Float32Array;
  /** Feature dimension (1..16). */
  d: number;
  /** Signal, value-major: `values[k*N + i]` for value row k (N = features.length / d). */
  values: Float32Array;
  /** Number of value rows. Default 1. */
  valueSize?: number;
  /** Blur the lattice axes in reverse order (the transposed filter). Default false. */
  reverse?: boolean;
  /** Worker threads (value rows run in parallel). Default: the addon's thread count. */
  threads?: number;
}

/**
 * The raw permutohedral-lattice filter the CRF uses (splat, [1/2, 1, 1/2] blur along the d+1 axes,
 * slice, times alpha = 1/(1+2^-d)), approximating Σ_j exp(-|f_i - f_j|²/2)·v_j up to a global scale;
 * no normalisation is applied (divide by the filter of a constant signal for a normalised blur).
 * For tests and experiments; the CRF does not go through JavaScript for it.
 */
export async function permutohedralFilter(options: PermutohedralFilterOptions): Promise<{ values: Float32Array; latticePoints: number }> {
  const caller = new Error();
  const { features, values } = options;
  if (!(features instanceof Float32Array)) throw argError("features must be a Float32Array (point-major, N*d)");
  if (!(values instanceof Float32Array)) throw argError("values must be a Float32Array (value-major, valueSize*N)");
  const d = checkInteger(options.d, "d", 1, 16);
  if (features.length === 0 || features.length % d !== 0) throw argError(`features length ${features.length} is not a positive multiple of d = ${d}`);
  const n = features.length / d;
  checkFiniteArray(features, "features", d, "point");
  const valueSize = checkInteger(options.valueSize ?? 1, "valueSize", 1, 1 << 20);
  if (values.length !== n * valueSize) throw argError(`values have ${values.length} elements, expected valueSize*N = ${valueSize}*${n}`);
  const threads = checkInteger(options.threads ?? native().getNumThreads(), "threads", 1, 1024);
  return withCallerStack(native().permutohedralFilter(features, d, values, valueSize, options.reverse ?? false, threads), caller);
}
