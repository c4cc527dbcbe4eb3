/**
 * `Stcn`: an STCN model loaded natively (TorchScript archive from torchscript/export_stcn.py), the
 * factory of per-video trackers.
 *
 * ```ts
 * const stcn = await Stcn.load("stcn.pt", { device: "cpu" });
 * const tracker = stcn.track({ topK: 20, memEvery: 5 });
 * const first = await tracker.start("frames/00000.jpg", "masks/00000.png");
 * for await (const { index, labels, width, height } of tracker.run(["frames/00001.jpg", ...])) { ... }
 * tracker.dispose();
 * stcn.dispose();
 * ```
 */
import { withCallerStack } from "../errors.js";
import { native } from "../native.js";
import type { NativeStcnModel } from "./native-types.js";
import { StcnTracker, type TrackOptions } from "./tracker.js";
import { trustedModelPath } from "../trust.js";

/** Options for {@link Stcn.load}. */
export interface StcnLoadOptions {
  /** "cpu" (default), "cuda" or "cuda:N". CUDA where unavailable -> ERR_STCN_DEVICE. */
  device?: string;
  /**
   * Mixed precision: float16 autocast on CUDA (as the official `--amp`), bfloat16 autocast on CPU
   * (fast on CPUs with avx512_bf16 / AMX; on CPU the module is frozen but not passed through
   * optimize_for_inference, whose prepacked ops autocast cannot reach). Results differ from float32
   * by bfloat16 rounding (about 1e-2 in probabilities). Default false.
   */
  half?: boolean;
  /**
   * "inference" (default): freeze + optimize_for_inference at load time (falls back to "freeze" if
   * LibTorch refuses); "freeze": freeze only; "none": run the archive as saved.
   */
  optimization?: "none" | "freeze" | "inference";
  /**
   * Refuse an archive whose real path is outside this folder (ERR_STCN_UNTRUSTED_MODEL). Default:
   * the process-wide folder of `setTrustedModelDir` (or `STCN_TRUSTED_MODELS`), if any.
   */
  trustedModels?: string;
}

/** A loaded STCN model. Create trackers with {@link Stcn.track}; several may share one model. */
export class Stcn {
  /** @internal */
  readonly native: NativeStcnModel;

  /** @internal Use {@link Stcn.load}. */
  constructor(handle: NativeStcnModel) {
    this.native = handle;
  }

  /**
   * Loads an STCN TorchScript archive (methods encode_key, encode_value, decode) and checks its
   * contract with one tiny probe frame (shapes, channels, dtypes, finite outputs). Rejects with
   * ERR_STCN_MODEL_NOT_FOUND, ERR_STCN_MODEL_LOAD (not TorchScript, or not an STCN model),
   * ERR_STCN_MODEL_CONTRACT (the probe failed), ERR_STCN_DEVICE, ERR_STCN_UNTRUSTED_MODEL.
   */
  static async load(path: string, options: StcnLoadOptions = {}): Promise<Stcn> {
    const device = options.device ?? "cpu";
    const half = options.half ?? false;
    const file = await trustedModelPath(path, options.trustedModels);
    const handle = await withCallerStack(native().loadStcn(file, device, options.optimization ?? "inference", half), new Error());
    return new Stcn(handle);
  }

  /** The device the model runs on ("cpu" or "cuda:N"). */
  get device(): string {
    return this.native.device;
  }

  /** The archive it was loaded from. */
  get path(): string {
    return this.native.path;
  }

  /** The optimization actually applied at load time. */
  get optimization(): "none" | "freeze" | "inference" {
    return this.native.optimization as "none" | "freeze" | "inference";
  }

  /** Whether mixed precision (CUDA autocast) is on. */
  get half(): boolean {
    return this.native.half;
  }

  /** The archive's metadata.json (written by torchscript/export_stcn.py), or null. */
  get metadata(): Record<string, unknown> | null {
    const text = this.native.metadata;
    return text ? (JSON.parse(text) as Record<string, unknown>) : null;
  }

  /** True after {@link Stcn.dispose}. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /** A tracker for one video (it owns its memory bank). */
  track(options: TrackOptions = {}): StcnTracker {
    return new StcnTracker(this, options);
  }

  /** Releases the model. Trackers created from it keep it alive until they are disposed. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
