/**
 * `Tensor`: a handle to a LibTorch tensor living in native memory (CPU or CUDA).
 *
 * Memory rules: `Tensor.fromTypedArray` copies the JavaScript data into a new native tensor (the
 * typed array can be reused at once); `toTypedArray()` copies the data out into a new typed array.
 * JavaScript never holds a pointer into LibTorch memory. `dispose()` frees the native memory now; a
 * tensor dropped without it is freed by its finalizer when garbage-collected.
 */
import { StcnError, withCallerStack } from "./errors.js";
import { native, type NativeTensor } from "./native.js";

/** Element types a tensor can hold. */
export type DType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "uint8"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "bool";

const SUPPORTED_ARRAYS =
  "use Float32Array, Float64Array, Uint8Array, Int8Array, Int16Array, Int32Array or BigInt64Array; Uint16Array for raw float16/bfloat16 bits";

/** The dtype a typed array holds by itself (Uint16Array: raw 16-bit float bits). */
function naturalDtype(data: ArrayBufferView): DType | undefined {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Uint16Array) return "float16";
  return undefined;
}

/** Dtypes a typed array may be read as, besides its own. */
const COMPATIBLE: Partial<Record<DType, DType[]>> = { uint8: ["uint8", "bool"], float16: ["float16", "bfloat16"] };

/** Typed arrays accepted by {@link Tensor.fromTypedArray}. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array;

/** What `toTypedArray()` returns for each dtype (float16/bfloat16 are widened to float32, bool to uint8). */
export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Float32Array;
  bfloat16: Float32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
}

/** A device string: "cpu", "cuda" or "cuda:N". */
export type Device = "cpu" | "cuda" | `cuda:${number}`;

export class Tensor {
  /** @internal */
  readonly native: NativeTensor;

  /** @internal Use {@link Tensor.fromTypedArray}. */
  constructor(handle: NativeTensor) {
    this.native = handle;
  }

  /**
   * A new CPU tensor holding a copy of `data` with the given `shape`. The dtype follows the array
   * type (Float32Array -> float32, ..., BigInt64Array -> int64); pass `dtype` for "bool" (Uint8Array)
   * or "float16"/"bfloat16" (Uint16Array of raw bits). Throws ERR_STCN_TENSOR if the length does not
   * match the shape.
   */
  static fromTypedArray(data: TensorData, shape: readonly number[], dtype?: DType): Tensor {
    if (!ArrayBuffer.isView(data)) {
      throw new StcnError("ERR_STCN_ARGUMENT", "Tensor.fromTypedArray: data must be a typed array");
    }
    const natural = naturalDtype(data);
    if (!natural) throw new StcnError("ERR_STCN_TENSOR", `unsupported typed array ${data.constructor.name} (${SUPPORTED_ARRAYS})`);
    if (dtype === undefined && natural === "float16") throw new StcnError("ERR_STCN_TENSOR", 'a Uint16Array needs dtype "float16" or "bfloat16"');
    const type = dtype ?? natural;
    if (!(COMPATIBLE[natural] ?? [natural]).includes(type)) {
      throw new StcnError("ERR_STCN_TENSOR", `dtype ${String(type)} does not match a ${natural === "float16" ? "Uint16Array (float16/bfloat16 bits)" : natural} typed array`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new StcnError("ERR_STCN_TENSOR", `shape must hold non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    const length = (data as ArrayLike<unknown>).length;
    if (length !== numel) {
      throw new StcnError("ERR_STCN_TENSOR", `data holds ${length} elements but shape [${shape.join(", ")}] needs ${numel}`);
    }
    return new Tensor(native().Tensor.fromData(data, [...shape], type));
  }

  /** Dimensions, outermost first. */
  get shape(): number[] {
    return this.native.shape;
  }

  /** Element type. */
  get dtype(): DType {
    return this.native.dtype as DType;
  }

  /** "cpu" or "cuda:N". */
  get device(): string {
    return this.native.device;
  }

  /** Number of elements. */
  get size(): number {
    return this.native.shape.reduce((a, b) => a * b, 1);
  }

  /** True after {@link Tensor.dispose}. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /** A copy of the data (row-major). CUDA tensors are copied to the host first. */
  toTypedArray(): TypedArrayOf[DType] {
    return this.native.toTypedArray() as TypedArrayOf[DType];
  }

  /** A copy on `device` (the same tensor handle's data when already there); runs off the main thread. */
  async to(device: Device | string): Promise<Tensor> {
    return new Tensor(await withCallerStack(this.native.to(device), new Error()));
  }

  /** Frees the native memory now. Using the tensor afterwards throws ERR_STCN_DISPOSED. */
  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
