/**
 * The process-wide limit on in-flight native jobs. Every tracker call (encode, segment, memorize,
 * labels, ...) and every `Module.run` takes a slot before it is queued on its lane and gives it back
 * when its Promise settles; calls past the limit wait here, first come first served, instead of piling
 * up on the lanes (where each waiting job would already hold its copied inputs). A tracker takes one
 * slot per native call, so trackers waiting for slots take turns frame by frame.
 *
 * The default is twice the lane count (`STCN_LANES`, default 2): each lane has its running job and
 * the next one ready. `STCN_MAX_IN_FLIGHT` or {@link setMaxInFlight} change it.
 */
import { abortError } from "./abort.js";
import { checkInteger } from "./check.js";
import { StcnError } from "./errors.js";

interface Waiter {
  grant: () => void;
  reject: (error: Error) => void;
  detach?: () => void;
}

let limit: number | undefined;
let active = 0;
const waiting: Waiter[] = [];

function envInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new StcnError("ERR_STCN_ARGUMENT", `${name} must be an integer >= 1, got "${text}"`);
  return n;
}

/** The current limit (see {@link setMaxInFlight}). */
export function getMaxInFlight(): number {
  limit ??= envInteger("STCN_MAX_IN_FLIGHT", 2 * envInteger("STCN_LANES", 2));
  return limit;
}

/** Sets the process-wide limit on native jobs in flight (an integer >= 1); waiting calls start at once if it grew. */
export function setMaxInFlight(n: number): void {
  limit = checkInteger(n, "maxInFlight", 1);
  drain();
}

/** What the limiter holds now. */
export interface InFlightStats {
  /** The limit ({@link getMaxInFlight}). */
  limit: number;
  /** Native jobs running or queued on the lanes. */
  active: number;
  /** Calls waiting for a slot. */
  waiting: number;
}

/** The limiter's counters (a service can export them as metrics). */
export function inFlightStats(): InFlightStats {
  return { limit: getMaxInFlight(), active, waiting: waiting.length };
}

function drain(): void {
  while (active < getMaxInFlight() && waiting.length > 0) {
    const next = waiting.shift() as Waiter;
    next.detach?.();
    active += 1;
    next.grant();
  }
}

function acquire(signal: AbortSignal | undefined, what: string): Promise<void> | undefined {
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  if (active < getMaxInFlight() && waiting.length === 0) {
    active += 1;
    return undefined;
  }
  return new Promise<void>((resolve, reject) => {
    const waiter: Waiter = { grant: resolve, reject };
    if (signal) {
      const onAbort = (): void => {
        const at = waiting.indexOf(waiter);
        if (at >= 0) waiting.splice(at, 1);
        reject(abortError(signal, what));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      waiter.detach = () => signal.removeEventListener("abort", onAbort);
    }
    waiting.push(waiter);
  });
}

/**
 * Runs `job` (which starts one native call) in a slot: at once when one is free, else after the
 * calls that asked before it. While it waits, aborting `signal` removes it from the line and rejects
 * with AbortError (`what` names the call).
 */
export async function inFlight<T>(job: () => Promise<T>, signal?: AbortSignal, what = "native call"): Promise<T> {
  const wait = acquire(signal, what);
  if (wait) await wait;
  try {
    return await job();
  } finally {
    active -= 1;
    drain();
  }
}
