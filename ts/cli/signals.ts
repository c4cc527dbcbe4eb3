/**
 * SIGINT / SIGTERM for long commands: the first signal aborts the command's AbortSignal (the library
 * stops at the next frame boundary; finished outputs are complete, nothing is half-written), a second
 * one quits at once. An interrupted command prints one line with ERR_STCN_INTERRUPTED and exits with
 * 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.
 */
import { isAbortError } from "../abort.js";

/** Exit status after SIGINT / SIGTERM: 128 + the signal's number. */
export const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof EXIT_CODES;

/**
 * Runs `body` with an AbortSignal tied to SIGINT and SIGTERM. When `body` rejects after a signal
 * (with AbortError, or anything else the abort caused), prints `stcn: <message> [ERR_STCN_INTERRUPTED]`
 * and exits 130/143; `hint` says what the user can do (default: what is left on disk).
 */
export async function withInterrupts<T>(body: (signal: AbortSignal) => Promise<T>, hint = "finished outputs are complete, nothing is half-written"): Promise<T> {
  const controller = new AbortController();
  let received: HandledSignal | undefined;
  const onSignal = (signal: HandledSignal): void => {
    if (received) process.exit(EXIT_CODES[signal]);
    received = signal;
    console.error(`\nstcn: ${signal}: stopping at the next frame (again to quit at once)`);
    controller.abort(new Error(`received ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await body(controller.signal);
  } catch (error) {
    if (!received) throw error;
    const message = isAbortError(error) && error.message.startsWith("interrupted") ? error.message : `interrupted by ${received}; ${hint}`;
    console.error(`stcn: ${message} [ERR_STCN_INTERRUPTED]`);
    process.exit(EXIT_CODES[received]);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
