/**
 * Trusted model folder. A TorchScript archive is code: loading it runs what it holds, and its
 * operators may read and write files (see the README, "Security"). With a trusted folder set, every
 * model load ({@link loadModule}, `Stcn.load`, the annotators) refuses an archive whose real path
 * (symbolic links resolved) is outside that folder, with ERR_STCN_UNTRUSTED_MODEL, before the file
 * is opened by LibTorch.
 *
 * Process-wide: {@link setTrustedModelDir}, initially `STCN_TRUSTED_MODELS` when set; per load: the
 * `trustedModels` load option, which takes precedence.
 */
import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { StcnError } from "./errors.js";

let trusted: string | undefined;
let fromEnvRead = false;

function realFolder(dir: string, what: string): string {
  try {
    return realpathSync(resolve(dir));
  } catch (error) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${what} ${dir} is not a readable folder: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * Sets (or with `undefined` clears) the process-wide trusted model folder. The folder must exist;
 * it is resolved to its real path once, here.
 */
export function setTrustedModelDir(dir: string | undefined): void {
  fromEnvRead = true;
  trusted = dir === undefined ? undefined : realFolder(dir, "trusted model folder");
}

/** The process-wide trusted model folder (real path), or undefined when any model path is accepted. */
export function getTrustedModelDir(): string | undefined {
  if (!fromEnvRead) {
    fromEnvRead = true;
    const env = process.env.STCN_TRUSTED_MODELS;
    if (env) trusted = realFolder(env, "STCN_TRUSTED_MODELS");
  }
  return trusted;
}

/**
 * The path to load for `path`: unchanged when no trusted folder applies; else its real path, which
 * must lie inside the folder (`trustedModels` when given, else the process-wide one). A missing file
 * is passed through for the loader to report (ERR_STCN_MODEL_NOT_FOUND).
 */
export async function trustedModelPath(path: string, trustedModels?: string): Promise<string> {
  const dir = trustedModels !== undefined ? realFolder(trustedModels, "trustedModels folder") : getTrustedModelDir();
  if (dir === undefined) return path;
  let real: string;
  try {
    real = await realpath(resolve(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return path;
    throw new StcnError("ERR_STCN_MODEL_NOT_FOUND", `cannot resolve model ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const rel = relative(dir, real);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new StcnError(
      "ERR_STCN_UNTRUSTED_MODEL",
      `model ${path} (${real}) is outside the trusted model folder ${dir}; a model file is code: move it there after checking where it came from`,
    );
  }
  return real;
}
