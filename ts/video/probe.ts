/** `probeVideo`: the facts of a video file's first video stream, read with ffprobe. */
import { stat } from "node:fs/promises";
import { signalOption } from "../abort.js";
import { StcnError } from "../errors.js";
import { checkImagePixels } from "../io/png.js";
import { ffprobePath, runTool, stderrSummary } from "./ffmpeg.js";

/** What {@link probeVideo} reports about the first video stream. */
export interface VideoInfo {
  path: string;
  /** Size of the decoded frames: the display size, rotation metadata applied (ffmpeg autorotates). */
  width: number;
  height: number;
  /** Size as stored, before rotation. */
  codedWidth: number;
  codedHeight: number;
  /** Rotation metadata in degrees (display matrix or `rotate` tag; 0 when none). */
  rotation: number;
  /** Frame rate as ffprobe gives it (`r_frame_rate`, e.g. "30000/1001"), and as a number. */
  frameRate: string;
  fps: number;
  /** Frames in the stream: the container's count, else the packets counted by ffprobe. */
  frameCount: number;
  /** True when `frameCount` is the container's own count (a decoded file must deliver that many). */
  frameCountFromHeader: boolean;
  /** Duration in seconds (0 when unknown). */
  duration: number;
  codec: string;
  container: string;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: Array<{ rotation?: number }>;
  disposition?: { attached_pic?: number };
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

function rational(text: string | undefined): number {
  if (!text) return 0;
  const [n, d] = text.split("/").map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  if (d === undefined) return n;
  return d > 0 ? n / d : 0;
}

async function ffprobe(path: string, extra: string[], signal?: AbortSignal): Promise<ProbeOutput> {
  const args = ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", ...extra, path];
  const r = await runTool(ffprobePath(), args, signalOption(signal));
  if (r.code !== 0) {
    throw new StcnError("ERR_STCN_VIDEO", `${path} is not a readable video: ${stderrSummary(r.stderr) || `ffprobe exited with ${r.code}`}`);
  }
  try {
    return JSON.parse(r.stdout) as ProbeOutput;
  } catch {
    throw new StcnError("ERR_STCN_VIDEO", `${path}: ffprobe printed no readable description`);
  }
}

function videoStream(out: ProbeOutput): ProbeStream | undefined {
  return out.streams?.find((s) => s.codec_type === "video" && !s.disposition?.attached_pic);
}

/**
 * Codecs of ffmpeg's text-mode art demuxers (bin, tty, xbin, idf, adf). The "bin" and "tty" demuxers
 * accept arbitrary bytes, so a garbage upload would otherwise "decode" as a 640x400 video.
 */
const TEXT_ART_CODECS = new Set(["bintext", "xbin", "idf", "ansi"]);

/**
 * Reads the first video stream's size, rotation, frame rate and frame count. ERR_STCN_INPUT when the
 * file is missing; ERR_STCN_VIDEO (one line naming the file) when ffprobe cannot read it or it has no
 * video stream; ERR_STCN_DEPENDENCY when ffprobe is not installed.
 */
export async function probeVideo(path: string, options: { signal?: AbortSignal } = {}): Promise<VideoInfo> {
  try {
    if (!(await stat(path)).isFile()) throw new Error("not a file");
  } catch {
    throw new StcnError("ERR_STCN_INPUT", `video not found: ${path}`);
  }
  let out = await ffprobe(path, [], options.signal);
  let stream = videoStream(out);
  if (!stream) throw new StcnError("ERR_STCN_VIDEO", `${path} has no video stream`);
  if (stream.codec_name !== undefined && TEXT_ART_CODECS.has(stream.codec_name)) {
    // ffmpeg's "bin"/"tty" demuxers take any bytes as text-mode art (a 640x400 "video"): garbage.
    throw new StcnError("ERR_STCN_VIDEO", `${path} is not a video: ffmpeg reads it only as text-mode art (${stream.codec_name} in ${out.format?.format_name ?? "?"}), which is what it does with arbitrary bytes`);
  }
  const header = Number(stream.nb_frames);
  const fromHeader = Number.isInteger(header) && header > 0;
  let frameCount = fromHeader ? header : 0;
  if (!fromHeader) {
    // Matroska/WebM keep no frame count: count the packets (demuxing only, no decoding).
    out = await ffprobe(path, ["-count_packets", "-select_streams", "V"], options.signal);
    stream = videoStream(out) ?? stream;
    frameCount = Number(stream.nb_read_packets) || 0;
  }
  const { width, height } = stream;
  if (!width || !height) throw new StcnError("ERR_STCN_VIDEO", `${path}: the video stream has no frame size`);
  // The frame size from the stream header, against the process-wide image limit, before any decoding.
  checkImagePixels(width, height, `video ${path} (frame size)`);
  const sideRotation = stream.side_data_list?.find((d) => typeof d.rotation === "number")?.rotation;
  const rotation = Math.round(sideRotation ?? Number(stream.tags?.rotate ?? 0)) || 0;
  const swap = Math.abs(rotation) % 180 === 90;
  const frameRate = stream.r_frame_rate && rational(stream.r_frame_rate) > 0 ? stream.r_frame_rate : (stream.avg_frame_rate ?? "0/1");
  return {
    path,
    width: swap ? height : width,
    height: swap ? width : height,
    codedWidth: width,
    codedHeight: height,
    rotation,
    frameRate,
    fps: rational(frameRate),
    frameCount,
    frameCountFromHeader: fromHeader,
    duration: Number(stream.duration ?? out.format?.duration ?? 0) || 0,
    codec: stream.codec_name ?? "unknown",
    container: out.format?.format_name ?? "unknown",
  };
}
