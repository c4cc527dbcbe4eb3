/**
 * `Module`: a TorchScript module loaded by the native addon. Methods run on a worker thread in
 * inference mode and return Promises; the main thread never blocks on LibTorch.
 */
import { withCallerStack } from "./errors.js";
import { native, type NativeModule, type NativeTensor } from "./native.js";
import { Tensor, type Device } from "./tensor.js";
import { trustedModelPath } from "./trust.js";

/** A value that crosses the boundary: tensors, numbers, booleans, strings, lists/tuples, dicts. */
export type Value = Tensor | number | bigint | boolean | string | null | readonly Value[] | { readonly [key: string]: Value };

/** Options for {@link loadModule}. */
export interface LoadModuleOptions {
  /** Where parameters live and methods run. Default "cpu". CUDA where unavailable -> ERR_STCN_DEVICE. */
  device?: Device | string;
  /**
   * "none" (default): run as saved; "freeze": torch.jit.freeze with every method preserved;
   * "inference": freeze + optimize_for_inference (falls back to "freeze" if LibTorch refuses).
   */
  optimization?: "none" | "freeze" | "inference";
  /**
   * Refuse an archive whose real path is outside this folder (ERR_STCN_UNTRUSTED_MODEL). Default:
   * the process-wide folder of `setTrustedModelDir` (or `STCN_TRUSTED_MODELS`), if any.
   */
  trustedModels?: string;
}

function toNative(value: Value): unknown {
  if (value instanceof Tensor) return value.native;
  if (Array.isArray(value)) return value.map(toNative);
  if (ArrayBuffer.isView(value)) return value; // refused natively with a hint to use Tensor.fromTypedArray
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toNative(v as Value);
    return out;
  }
  return value;
}

/** @internal Wraps native tensors found in a method's result. */
export function fromNative(value: unknown): Value {
  const Native = native().Tensor;
  if (value instanceof Native) return new Tensor(value as NativeTensor);
  if (Array.isArray(value)) return value.map(fromNative);
  if (value !== null && typeof value === "object") {
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromNative(v);
    return out;
  }
  return value as Value;
}

export class Module {
  /** @internal */
  readonly native: NativeModule;

  /** @internal Use {@link loadModule}. */
  constructor(handle: NativeModule) {
    this.native = handle;
  }

  /** Names of the module's TorchScript methods. */
  get methods(): string[] {
    return this.native.methods;
  }

  /** The device the module was loaded on ("cpu" or "cuda:N"). */
  get device(): string {
    return this.native.device;
  }

  /** The file it was loaded from. */
  get path(): string {
    return this.native.path;
  }

  /** Parsed `metadata.json` embedded by our exporters, or null. */
  get metadata(): Record<string, unknown> | null {
    const text = this.native.metadata;
    return text ? (JSON.parse(text) as Record<string, unknown>) : null;
  }

  /** The optimization actually applied at load time. */
  get optimization(): "none" | "freeze" | "inference" {
    return this.native.optimization as "none" | "freeze" | "inference";
  }

  /** True after {@link Module.dispose}. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /** The TorchScript schema of `method`, e.g. `forward(__torch__.M self, Tensor x) -> Tensor`. */
  signature(method: string): string {
    return this.native.signature(method);
  }

  /**
   * Runs `method` with `inputs` off the main thread. Numbers are converted to the declared `int` or
   * `float`; tensors on another device are moved to the module's device. Rejects with
   * ERR_STCN_UNKNOWN_METHOD, ERR_STCN_ARGUMENT (count or kind), ERR_STCN_RUN (LibTorch's reason,
   * e.g. dtype/shape) or ERR_STCN_DISPOSED.
   */
  async run(method: string, ...inputs: Value[]): Promise<Value> {
    const result = await withCallerStack(this.native.run(method, inputs.map(toNative)), new Error());
    return fromNative(result);
  }

  /** Releases the module. Safe during a run: the run finishes, then the module is freed. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Loads a TorchScript archive (an archive is code: see `setTrustedModelDir`). Rejects with
 * ERR_STCN_MODEL_NOT_FOUND, ERR_STCN_MODEL_LOAD, ERR_STCN_DEVICE or ERR_STCN_UNTRUSTED_MODEL.
 */
export async function loadModule(path: string, options: LoadModuleOptions = {}): Promise<Module> {
  const file = await trustedModelPath(path, options.trustedModels);
  const handle = await withCallerStack(
    native().loadModule(file, options.device ?? "cpu", options.optimization ?? "none"),
    new Error(),
  );
  return new Module(handle);
}
