/**
 * File-system failures as coded errors. A Node fs error (EACCES, EPERM, EISDIR, EEXIST, ENOENT,
 * ENOSPC, ...) that reaches the caller is wrapped as ERR_STCN_IO with its errno code and its path in
 * the message (`cannot write out/00000.png: EACCES (permission denied)`), the original error as
 * `cause`; {@link StcnIoError} also carries them as fields.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { isStcnError, StcnError } from "../errors.js";

/** An ERR_STCN_IO error: `fsCode` (EACCES, ...) and the `path` it concerns. */
export class StcnIoError extends StcnError {
  /** The errno code of the fs error (e.g. "EACCES"), or undefined when there was none. */
  readonly fsCode: string | undefined;
  /** The path the operation failed on. */
  readonly path: string;
  constructor(message: string, path: string, fsCode: string | undefined, options?: { cause?: unknown }) {
    super("ERR_STCN_IO", message, options);
    this.path = path;
    this.fsCode = fsCode;
  }
}

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  EEXIST: "already exists",
  ENOENT: "no such file or directory",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  ENOTEMPTY: "directory not empty",
  EMFILE: "too many open files",
  ENAMETOOLONG: "name too long",
  ELOOP: "too many symbolic links",
};

/** True for a Node system error (a string `code` like "EACCES" and a `syscall`). */
export function isFsError(error: unknown): error is NodeJS.ErrnoException {
  if (!(error instanceof Error)) return false;
  const e = error as NodeJS.ErrnoException;
  return typeof e.code === "string" && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === "string";
}

/**
 * `error` as a coded error: our own errors pass through; a Node fs error becomes ERR_STCN_IO naming
 * `action` (default: the failed system call) and `path` (default: the error's own path); anything else is returned unchanged.
 */
export function ioError(error: unknown, action?: string, path?: string): unknown {
  if (isStcnError(error) || !isFsError(error)) return error;
  action ??= error.syscall as string;
  const where = path ?? error.path ?? (error as { dest?: string }).dest ?? "";
  const code = error.code as string;
  const reason = REASONS[code];
  return new StcnIoError(`cannot ${action}${where ? ` ${where}` : ""}: ${code}${reason ? ` (${reason})` : ""}`, where, code, { cause: error });
}

/** Runs `fn`, re-throwing fs errors as ERR_STCN_IO (see {@link ioError}). */
export async function withIo<T>(action: string, path: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw ioError(error, action, path);
  }
}

/**
 * Checks, before any compute, that `dir` is (or can be created as) a writable folder: creates it
 * when missing, writes and removes a probe file. ERR_STCN_IO naming `dir` (and `name`, e.g. "--out")
 * otherwise. Returns whether the folder existed before. With `keep: false` a folder created here is
 * removed again (the check leaves nothing behind; the writer creates it when it writes).
 */
export async function ensureWritableDir(dir: string, name = "output folder", keep = true): Promise<boolean> {
  let existed = false;
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) {
      throw new StcnIoError(`cannot use ${name} ${dir}: ENOTDIR (a file, not a folder)`, dir, "ENOTDIR");
    }
    existed = true;
  } catch (error) {
    if (error instanceof StcnIoError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(error, `use ${name}`, dir);
  }
  const probe = join(dir, `.stcn-write-check.${process.pid}.${randomBytes(4).toString("hex")}`);
  let made: string | undefined;
  try {
    if (!existed) made = await mkdir(dir, { recursive: true });
    await writeFile(probe, "");
  } catch (error) {
    throw ioError(error, `write to ${name}`, dir);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
    if (!keep && made !== undefined) await rm(made, { recursive: true, force: true }).catch(() => undefined);
  }
  return existed;
}

/**
 * An output folder for per-frame results: writable (see {@link ensureWritableDir}) and, unless
 * `overwrite`, empty or missing; a folder holding other files is refused with
 * ERR_STCN_OUTPUT_NOT_EMPTY (their frames would mix with ours). Returns whether it existed.
 */
export async function checkOutputFolder(dir: string, options: { overwrite?: boolean; name?: string; keep?: boolean } = {}): Promise<boolean> {
  const name = options.name ?? "output folder";
  const existed = await ensureWritableDir(dir, name, options.keep ?? true);
  if (existed && !options.overwrite) {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (error) {
      throw ioError(error, "list", dir);
    }
    entries = entries.filter((e) => !e.startsWith(".stcn-write-check."));
    if (entries.length > 0) {
      throw new StcnError(
        "ERR_STCN_OUTPUT_NOT_EMPTY",
        `${name} ${dir} is not empty (${entries.length} entr${entries.length === 1 ? "y" : "ies"}, e.g. ${entries.sort()[0]}); choose an empty folder or allow overwriting (--overwrite)`,
      );
    }
  }
  return existed;
}

/**
 * Checks, before any compute, that the file `path` can be written: not an existing folder, and its
 * folder writable (created when missing, then removed again: the writer creates it). ERR_STCN_IO
 * naming `name` (e.g. "--out") and the path otherwise.
 */
export async function checkOutputFile(path: string, name = "output file"): Promise<void> {
  try {
    if ((await stat(path)).isDirectory()) throw new StcnIoError(`cannot write ${name} ${path}: EISDIR (a folder, expected a file name)`, path, "EISDIR");
  } catch (error) {
    if (error instanceof StcnIoError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(error, `use ${name}`, path);
  }
  await ensureWritableDir(dirname(resolve(path)), `folder of ${name}`, false);
}
