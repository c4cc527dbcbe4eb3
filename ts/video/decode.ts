/**
 * `decodeVideo`: a video file's frames as a stream of raw RGB (or grey) frames, decoded by an ffmpeg
 * child process into a pipe. Frames are read one at a time: while the consumer is busy with a frame,
 * nothing is read from the pipe, the pipe fills and ffmpeg blocks, so memory stays bounded (a frame
 * or two, plus the pipe buffer) whatever the video's length. Nothing is written to disk.
 */
import { spawn } from "node:child_process";
import { signalOption, throwIfAborted } from "../abort.js";
import { StcnError } from "../errors.js";
import { ffmpegPath, missingTool, stderrSummary } from "./ffmpeg.js";
import { probeVideo, type VideoInfo } from "./probe.js";

/** A frame range of a video: frames `start`, `start + every`, ... up to `end` (inclusive). */
export interface FrameRange {
  /** First frame (0-based, default 0). */
  start?: number;
  /** Last frame, inclusive (default: the video's last frame). */
  end?: number;
  /** Keep every N-th frame from `start` on (default 1). */
  every?: number;
}

/** Options of {@link decodeVideo}. */
export interface DecodeVideoOptions extends FrameRange {
  /** `rgb24` (default): `data[(y * width + x) * 3 + c]`; `gray`: one byte per pixel (label videos). */
  pixelFormat?: "rgb24" | "gray";
  /** Stops ffmpeg and rejects with AbortError (`cause`: the signal's reason). */
  signal?: AbortSignal;
  /** The file's {@link probeVideo} result, when the caller already has it. */
  info?: VideoInfo;
}

/** One decoded frame. */
export interface DecodedFrame {
  /** The frame's index in the video (0-based, before any `every` subsampling). */
  index: number;
  data: Uint8Array;
  width: number;
  height: number;
}

/** A range resolved against a video's frame count. */
export interface ResolvedRange {
  start: number;
  end: number;
  every: number;
  /** Frames the range selects. */
  count: number;
}

function intOption(value: number | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min) throw new StcnError("ERR_STCN_ARGUMENT", `${name} must be an integer >= ${min}, got ${String(value)}`);
  return value;
}

/** Checks a frame range against a video; ERR_STCN_ARGUMENT names the option that does not fit. */
export function resolveRange(range: FrameRange, info: VideoInfo): ResolvedRange {
  const start = intOption(range.start, "--start-frame", 0) ?? 0;
  const every = intOption(range.every, "--every", 1) ?? 1;
  const last = info.frameCount - 1;
  const end = intOption(range.end, "--end-frame", 0) ?? last;
  if (info.frameCount === 0) throw new StcnError("ERR_STCN_VIDEO", `${info.path} has no frames`);
  if (start > last) throw new StcnError("ERR_STCN_ARGUMENT", `--start-frame ${start} is past the last frame of ${info.path} (${last})`);
  if (end > last) throw new StcnError("ERR_STCN_ARGUMENT", `--end-frame ${end} is past the last frame of ${info.path} (${last})`);
  if (end < start) throw new StcnError("ERR_STCN_ARGUMENT", `--end-frame ${end} is before --start-frame ${start}`);
  return { start, end, every, count: Math.floor((end - start) / every) + 1 };
}

/** The ffmpeg arguments that decode `range` of the first video stream to raw frames on stdout. */
function decodeArgs(path: string, range: ResolvedRange, last: number, pixelFormat: string): string[] {
  const args = ["-nostdin", "-hide_banner", "-v", "error", "-xerror", "-i", path, "-map", "0:v:0", "-an", "-sn", "-dn"];
  if (range.start > 0 || range.every > 1) {
    // Frame numbers n count decoded frames from 0; passthrough keeps ffmpeg from duplicating or
    // dropping frames to reach a constant rate.
    const pick = range.every > 1 ? `*not(mod(n-${range.start}\\,${range.every}))` : "";
    args.push("-vf", `select=gte(n\\,${range.start})${pick}`, "-vsync", "passthrough");
  } else {
    args.push("-vsync", "passthrough");
  }
  // Stop early only when the range ends before the last frame: decoding to the end of the file is
  // what lets ffmpeg notice a truncated file ("File ended prematurely").
  if (range.end < last) args.push("-frames:v", String(range.count));
  args.push("-f", "rawvideo", "-pix_fmt", pixelFormat, "pipe:1");
  return args;
}

/**
 * Decodes `range` of a video's first video stream (rotation metadata applied, as ffmpeg does by
 * default) and yields its frames in order. Bad input throws StcnError, one line naming the file:
 * ERR_STCN_VIDEO when ffmpeg cannot read the file, reports a decoding error (a corrupt or truncated
 * file), exits non-zero or delivers fewer frames than the stream holds; ERR_STCN_DEPENDENCY when
 * ffmpeg is missing. The error comes after the frames decoded before the fault, so a consumer must
 * treat its outputs as provisional until the generator finishes.
 */
export async function* decodeVideo(path: string, options: DecodeVideoOptions = {}): AsyncGenerator<DecodedFrame, void, undefined> {
  const { signal } = options;
  throwIfAborted(signal, "decodeVideo");
  const info = options.info ?? (await probeVideo(path, signalOption(signal)));
  const range = resolveRange(options, info);
  const pixelFormat = options.pixelFormat ?? "rgb24";
  const channels = pixelFormat === "gray" ? 1 : 3;
  const { width, height } = info;
  const frameBytes = width * height * channels;

  const child = spawn(ffmpegPath(), decodeArgs(path, range, info.frameCount - 1, pixelFormat), { stdio: ["ignore", "pipe", "pipe"] });
  let spawnError: NodeJS.ErrnoException | undefined;
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", (error: NodeJS.ErrnoException) => {
      spawnError = error;
      resolve({ code: null, signal: null });
    });
    child.on("close", (code, sig) => resolve({ code, signal: sig }));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  signal?.addEventListener("abort", kill, { once: true });

  let delivered = 0;
  const fault = (what: string): StcnError =>
    new StcnError("ERR_STCN_VIDEO", `${path}: ${what} after ${delivered} of ${range.count} frame(s) (corrupt or truncated video?)`);
  try {
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          throwIfAborted(signal, "decodeVideo");
          if (delivered === range.count) {
            throw new StcnError("ERR_STCN_VIDEO", `${path}: decodes to more frames than the ${info.frameCount} its container declares`);
          }
          const index = range.start + delivered * range.every;
          delivered += 1;
          yield { index, data: frame, width, height };
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    const { code, signal: killedBy } = await exited;
    throwIfAborted(signal, "decodeVideo");
    if (spawnError) throw spawnError.code === "ENOENT" ? missingTool("ffmpeg") : spawnError;
    const reported = stderrSummary(stderr);
    if (code !== 0) {
      throw new StcnError(
        "ERR_STCN_VIDEO",
        `${path}: ffmpeg ${killedBy ? `was killed by ${killedBy}` : `exited with status ${code}`} after ${delivered} of ${range.count} frame(s)` +
          (reported ? `: ${reported}` : ""),
      );
    }
    if (reported) throw fault(`ffmpeg reported "${reported}"`);
    if (filled > 0) throw fault(`the stream ended inside a frame (${filled} of ${frameBytes} bytes)`);
    if (delivered < range.count) throw fault("the stream ended");
  } finally {
    signal?.removeEventListener("abort", kill);
    kill();
    child.stdout.destroy();
    await exited;  // ffmpeg is gone (and reaped) when the generator is done
  }
}

/** Frame `index` of a video as RGB (rotation applied); the errors of {@link decodeVideo}. */
export async function readVideoFrame(path: string, index = 0, options: { signal?: AbortSignal } = {}): Promise<DecodedFrame> {
  for await (const frame of decodeVideo(path, { start: index, end: index, ...options })) return frame;
  throw new StcnError("ERR_STCN_VIDEO", `${path}: frame ${index} was not decoded`);
}
