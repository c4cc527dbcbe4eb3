/**
 * The ffmpeg and ffprobe executables (Debian's `ffmpeg` package), driven as child processes.
 * `STCN_FFMPEG` / `STCN_FFPROBE` select other binaries; the default is the one on PATH.
 */
import { spawn } from "node:child_process";
import { abortError } from "../abort.js";
import { StcnError } from "../errors.js";

/** Path (or name on PATH) of ffmpeg. */
export function ffmpegPath(): string {
  return process.env.STCN_FFMPEG || "ffmpeg";
}

/** Path (or name on PATH) of ffprobe. */
export function ffprobePath(): string {
  return process.env.STCN_FFPROBE || "ffprobe";
}

/** The one error for a missing executable: it names the Debian package. */
export function missingTool(tool: string): StcnError {
  return new StcnError(
    "ERR_STCN_DEPENDENCY",
    `${tool} not found: install Debian's ffmpeg package (apt-get install ffmpeg; scripts/setup.sh does it), or set STCN_${tool.toUpperCase()}`,
  );
}

/** The last meaningful lines of a tool's stderr, joined into one line. */
export function stderrSummary(stderr: string, lines = 2): string {
  const kept = stderr
    .split(/\r?\n/)
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, "").trim())
    .filter((l) => l.length > 0);
  return kept.slice(-lines).join("; ");
}

/** Runs a tool to completion and collects stdout and stderr (small outputs only: ffprobe). */
export function runTool(
  tool: string,
  args: readonly string[],
  options: { signal?: AbortSignal } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(abortError(options.signal, tool));
      return;
    }
    const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") reject(missingTool(tool.endsWith("ffprobe") ? "ffprobe" : "ffmpeg"));
      else if (error.name === "AbortError" && options.signal) reject(abortError(options.signal, tool));
      else reject(error);
    });
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
  });
}
