/** Shared helpers for CLI commands: one clear line per error, non-zero exit. */
import { isStcnError } from "../errors.js";

/** Prints `stcn: <message> [CODE]` (stack only with STCN_DEBUG=1). */
export function reportCliError(error: unknown): void {
  if (process.env.STCN_DEBUG && error instanceof Error) console.error(error.stack);
  if (isStcnError(error)) console.error(`stcn: ${error.message} [${error.code}]`);
  else if (error instanceof Error) console.error(`stcn: ${error.message}`);
  else console.error(`stcn: ${String(error)}`);
}
