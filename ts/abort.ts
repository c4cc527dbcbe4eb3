/**
 * Cancellation: every long call takes `{ signal?: AbortSignal }` and, once the signal is aborted,
 * stops at the next frame boundary, frees its native memory and rejects with an {@link AbortError}
 * shaped like Node's own (`name` "AbortError", `code` "ABORT_ERR", the signal's reason as `cause`),
 * the error `timers/promises`, `fs` or `stream` reject with.
 */

/** The rejection of an aborted call: `name` "AbortError", `code` "ABORT_ERR", `cause` = the signal's reason. */
export class AbortError extends Error {
  readonly code = "ABORT_ERR" as const;
  constructor(message = "The operation was aborted", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AbortError";
  }
}

/** True for an {@link AbortError} or any error Node raises for an aborted signal (name "AbortError"). */
export function isAbortError(error: unknown): error is Error {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR");
}

/** The error an aborted `signal` makes a call reject with. */
export function abortError(signal: AbortSignal, what?: string): AbortError {
  return new AbortError(what ? `${what}: the operation was aborted` : "The operation was aborted", { cause: signal.reason });
}

/**
 * `{ signal }` when there is one, `{}` otherwise: the form an options object takes under
 * `exactOptionalPropertyTypes` (no `signal: undefined`).
 */
export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** Throws {@link AbortError} when `signal` is aborted (the check at a frame boundary). */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/**
 * Rethrows `error` as an {@link AbortError} when `signal` was aborted (whatever the aborted work
 * threw on its way out: a closed pipe, the signal's own reason), unchanged otherwise.
 */
export function asAbortError(error: unknown, signal: AbortSignal | undefined, what?: string): unknown {
  if (!signal?.aborted || error instanceof AbortError) return error;
  return abortError(signal, what);
}
