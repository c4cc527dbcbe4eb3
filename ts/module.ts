/**
 * `Module`: a TorchScript module loaded by the native addon. Methods run on a worker thread in
 * inference mode and return Promises; the main thread never blocks on LibTorch.
 */
import { withCallerStack } from "./errors.js";
import { native, type NativeModule, type NativeTensor } from "./native.js";
import { Tensor, type Device } from "./tensor.js";
import { trustedModelPath } from "./trust.js";
import { inFlight } from "./in-flight.js";
import { abortError, asAbortError, throwIfAborted } from "./abort.js";

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

/** Options of {@link Module.runWithOptions}. */
export interface ModuleRunOptions {
  /**
   * Cancels the call: rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR") before the
   * run starts or while it waits for an in-flight slot; an abort during the native run takes effect
   * when it returns (its outputs are disposed).
   */
  signal?: AbortSignal;
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

/**
 * @internal Disposes every {@link Tensor} found in `value` (lists, tuples and dicts are searched): frees a
 * method's outputs at once instead of waiting for their finalizers.
 */
export function disposeValue(value: Value): void {
  if (value instanceof Tensor) value.dispose();
  else if (Array.isArray(value)) for (const v of value as readonly Value[]) disposeValue(v);
  else if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value as { readonly [key: string]: Value })) disposeValue(v);
  }
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
   * e.g. dtype/shape) or ERR_STCN_DISPOSED. Takes a slot of the process-wide in-flight limit
   * ({@link setMaxInFlight}) while it runs, like every tracker call. To pass an AbortSignal, use
   * {@link Module.runWithOptions}.
   */
  async run(method: string, ...inputs: Value[]): Promise<Value> {
    return this.runWithOptions(method, inputs);
  }

  /**
   * {@link Module.run} with options: `inputs` as an array, and `signal` to cancel. An aborted signal
   * rejects at once with AbortError (nothing starts), and aborting while the call waits for an
   * in-flight slot takes it out of the line. A native run in progress cannot be interrupted: an
   * abort that comes while LibTorch computes takes effect when the run returns, whose outputs are
   * then disposed and the call rejects with AbortError.
   */
  async runWithOptions(method: string, inputs: readonly Value[], options: ModuleRunOptions = {}): Promise<Value> {
    const caller = new Error();
    const { signal } = options;
    const what = `module method ${method}`;
    throwIfAborted(signal, what);
    const args = inputs.map(toNative);
    let raw: unknown;
    try {
      raw = await inFlight(() => withCallerStack(this.native.run(method, args), caller), signal, what);
    } catch (error) {
      throw asAbortError(error, signal, what);
    }
    const result = fromNative(raw);
    if (signal?.aborted) {
      disposeValue(result);
      throw abortError(signal, what);
    }
    return result;
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
