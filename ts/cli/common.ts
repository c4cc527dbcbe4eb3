/** Shared helpers for CLI commands: one clear line per error, non-zero exit. */
import { isStcnError } from "../errors.js";
import { ioError } from "../io/fs-errors.js";

/**
 * Prints `stcn: <message> [CODE]` (stack only with STCN_DEBUG=1). A Node fs error that escaped a
 * command is reported as ERR_STCN_IO with its errno code and path.
 */
export function reportCliError(raw: unknown): void {
  const error = ioError(raw);
  if (process.env.STCN_DEBUG && raw instanceof Error) console.error(raw.stack);
  if (isStcnError(error)) console.error(`stcn: ${error.message} [${error.code}]`);
  else if (error instanceof Error) console.error(`stcn: ${error.message}`);
  else console.error(`stcn: ${String(error)}`);
}
