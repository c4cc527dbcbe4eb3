/**
 * Errors raised by stcn-node. Every error has a stable `code`; native failures carry LibTorch's
 * reason (without its C++ backtrace) in the message.
 */

/** Stable error codes (see the README's "Errors" section). */
export type StcnErrorCode =
  | "ERR_STCN_MODEL_NOT_FOUND"
  | "ERR_STCN_MODEL_LOAD"
  | "ERR_STCN_UNKNOWN_METHOD"
  | "ERR_STCN_ARGUMENT"
  | "ERR_STCN_RUN"
  | "ERR_STCN_DEVICE"
  | "ERR_STCN_DISPOSED"
  | "ERR_STCN_TENSOR"
  | "ERR_STCN_ADDON_LOAD"
  | "ERR_STCN_INPUT"
  | "ERR_STCN_INTERRUPTED"
  | "ERR_STCN_VIDEO"
  | "ERR_STCN_DEPENDENCY"
  | "ERR_STCN_IMAGE_TOO_LARGE"
  | "ERR_STCN_UNSAFE_NAME"
  | "ERR_STCN_IO"
  | "ERR_STCN_OUTPUT_NOT_EMPTY"
  | "ERR_STCN_MODEL_CONTRACT"
  | "ERR_STCN_UNTRUSTED_MODEL"
  | "ERR_STCN_MEMORY_BUDGET"
  | "ERR_STCN_QUEUE"
  | "ERR_STCN_INTERNAL";

/** An Error with a stable `code`. */
export class StcnError extends Error {
  readonly code: StcnErrorCode;
  constructor(code: StcnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StcnError";
    this.code = code;
  }
}

/** True when `error` is an Error carrying one of our codes. */
export function isStcnError(error: unknown): error is Error & { code: StcnErrorCode } {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as Error & { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("ERR_STCN_");
}

/**
 * Awaits a native Promise and, if it rejects, re-throws with the caller's JavaScript stack appended
 * (native rejections have no useful stack of their own).
 */
export async function withCallerStack<T>(promise: Promise<T>, caller: Error): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof Error && caller.stack) {
      const frames = caller.stack.split("\n").slice(1).join("\n");
      error.stack = `${error.name}: ${error.message}\n${frames}`;
    }
    throw error;
  }
}
