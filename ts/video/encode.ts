/**
 * `VideoWriter`: raw frames piped into an ffmpeg child process that encodes a video file.
 * - `overlay`: RGB frames -> H.264, yuv420p (what browsers play), CRF 18, `+faststart` for MP4;
 * - `labels`: one byte per pixel (object ids) -> FFV1 `gray` in Matroska, lossless: decoding it
 *   gives the label maps back exactly.
 * The file is written under a temporary name beside the target and renamed by {@link VideoWriter.close};
 * {@link VideoWriter.abort} removes it: a failed run leaves nothing half-written.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { throwIfAborted } from "../abort.js";
import { StcnError } from "../errors.js";
import { ffmpegPath, missingTool, stderrSummary } from "./ffmpeg.js";

/** What a {@link VideoWriter} encodes. */
export type VideoKind = "overlay" | "labels";

/** Containers accepted per kind (the extension chooses the container). */
export const VIDEO_EXTENSIONS: Record<VideoKind, readonly string[]> = {
  overlay: [".mp4", ".mov", ".mkv"],
  labels: [".mkv"],
};

/** Options of {@link VideoWriter.open}. */
export interface VideoWriterOptions {
  kind: VideoKind;
  width: number;
  height: number;
  /** Frame rate as a rational ("30000/1001") or a number. */
  frameRate: string | number;
  /** Kills ffmpeg and removes the temporary file. */
  signal?: AbortSignal;
}

/** Checks an output video's extension; ERR_STCN_ARGUMENT names the option. */
export function checkVideoOutput(path: string, kind: VideoKind, option: string): void {
  const ext = extname(path).toLowerCase();
  if (!VIDEO_EXTENSIONS[kind].includes(ext)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `${option} ${path}: the file name must end in ${VIDEO_EXTENSIONS[kind].join(", ")}`);
  }
}

function encodeArgs(options: VideoWriterOptions, out: string): string[] {
  const { width, height } = options;
  const input = ["-nostdin", "-hide_banner", "-v", "error", "-f", "rawvideo", "-s", `${width}x${height}`, "-framerate", String(options.frameRate)];
  if (options.kind === "labels") {
    return [...input, "-pix_fmt", "gray", "-i", "pipe:0", "-c:v", "ffv1", "-level", "3", "-pix_fmt", "gray", "-y", out];
  }
  const args = [...input, "-pix_fmt", "rgb24", "-i", "pipe:0"];
  // yuv420p needs even sizes: an odd width or height gets one black column or row.
  if (width % 2 !== 0 || height % 2 !== 0) args.push("-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2");
  args.push("-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p");
  if (extname(out).toLowerCase() !== ".mkv") args.push("-movflags", "+faststart");
  args.push("-y", out);
  return args;
}

/** Encodes raw frames into a video file through ffmpeg (see the module comment). */
export class VideoWriter {
  readonly path: string;
  readonly options: VideoWriterOptions;
  private readonly temp: string;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly frameBytes: number;
  private stderr = "";
  private spawnError: NodeJS.ErrnoException | undefined;
  private frames = 0;
  private done = false;
  private readonly onAbort = (): void => void this.abort();

  private constructor(path: string, options: VideoWriterOptions) {
    this.path = path;
    this.options = options;
    this.frameBytes = options.width * options.height * (options.kind === "labels" ? 1 : 3);
    const ext = extname(path);
    this.temp = join(dirname(path), `.${basename(path, ext)}.${process.pid}.${randomBytes(4).toString("hex")}.partial${ext}`);
    this.child = spawn(ffmpegPath(), encodeArgs(options, this.temp), { stdio: ["pipe", "ignore", "pipe"] });
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (text: string) => {
      this.stderr = (this.stderr + text).slice(-8192);
    });
    this.child.stdin.on("error", () => undefined);  // EPIPE when ffmpeg died: reported from its exit
    this.exited = new Promise((resolve) => {
      this.child.on("error", (error: NodeJS.ErrnoException) => {
        this.spawnError = error;
        resolve({ code: null, signal: null });
      });
      this.child.on("close", (code, signal) => resolve({ code, signal }));
    });
    options.signal?.addEventListener("abort", this.onAbort, { once: true });
    void this.exited.then(() => options.signal?.removeEventListener("abort", this.onAbort));
  }

  /** Starts ffmpeg writing `path` (under a temporary name until {@link VideoWriter.close}). */
  static async open(path: string, options: VideoWriterOptions): Promise<VideoWriter> {
    const { width, height } = options;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new StcnError("ERR_STCN_ARGUMENT", `video size must be positive integers, got ${width}x${height}`);
    }
    throwIfAborted(options.signal, "VideoWriter");
    await mkdir(dirname(path), { recursive: true });
    return new VideoWriter(path, options);
  }

  /** Frames written so far. */
  get frameCount(): number {
    return this.frames;
  }

  private async failure(what: string): Promise<StcnError> {
    const { code, signal } = await this.exited;
    if (this.spawnError?.code === "ENOENT") return missingTool("ffmpeg");
    const why = stderrSummary(this.stderr) || (signal ? `killed by ${signal}` : `exit status ${code}`);
    return new StcnError("ERR_STCN_VIDEO", `${what} ${this.path}: ffmpeg failed: ${why}`);
  }

  /** Writes one frame (`width*height*3` RGB bytes, or `width*height` labels); waits while ffmpeg is behind. */
  async write(data: Uint8Array): Promise<void> {
    if (this.done) throw new StcnError("ERR_STCN_ARGUMENT", `${this.path}: the video writer is closed`);
    if (data.length !== this.frameBytes) {
      throw new StcnError("ERR_STCN_ARGUMENT", `${this.path}: a frame must have ${this.frameBytes} bytes, got ${data.length}`);
    }
    throwIfAborted(this.options.signal, "VideoWriter");
    const stdin = this.child.stdin;
    if (this.spawnError || stdin.destroyed) throw await this.failure("writing");
    this.frames += 1;
    if (!stdin.write(data)) {
      const drained = once(stdin, "drain").then(() => true, () => false);
      const stopped = this.exited.then(() => false);
      if (!(await Promise.race([drained, stopped]))) throw await this.failure("writing");
    }
  }

  /** Finishes the file and renames it into place. On failure the temporary file is removed. */
  async close(): Promise<void> {
    if (this.done) throw new StcnError("ERR_STCN_ARGUMENT", `${this.path}: the video writer is closed`);
    this.done = true;
    this.child.stdin.end();
    const { code } = await this.exited;
    if (code !== 0 || this.spawnError || this.frames === 0) {
      const error = this.frames === 0 ? new StcnError("ERR_STCN_VIDEO", `${this.path}: no frames were written`) : await this.failure("writing");
      await rm(this.temp, { force: true });
      throw error;
    }
    try {
      await rename(this.temp, this.path);
    } catch (error) {
      await rm(this.temp, { force: true });
      throw error;
    }
  }

  /** Stops ffmpeg and removes the temporary file (nothing is left). Safe to call more than once. */
  async abort(): Promise<void> {
    this.done = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
    await rm(this.temp, { force: true });
  }
}
