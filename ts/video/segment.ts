/**
 * `segmentVideo`: a video file through STCN (what `stcn segment --video` runs). Frames stream from
 * an ffmpeg decoder into the tracker (never the whole video in memory, no images on disk first);
 * each segmented frame goes to the outputs as it comes:
 *   - `out`: one palette PNG per frame, named `%05d` by the frame's index in the video;
 *   - `outVideo`: the frames with the masks blended in (H.264, yuv420p) at the input frame rate
 *     (divided by `every`, so the video lasts as long as the input);
 *   - `outMasksVideo`: the label maps, losslessly (FFV1 gray in Matroska).
 * Outputs are provisional until the whole range is decoded and segmented: PNGs go to a temporary
 * folder beside `out` and the videos to temporary names; on success they are moved into place, on
 * any failure (corrupt or truncated video, ffmpeg failing, abort) they are removed.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { asAbortError, signalOption } from "../abort.js";
import { checkByteSize } from "../check.js";
import { StcnError } from "../errors.js";
import { checkOutputFolder } from "../io/fs-errors.js";
import type { RgbImage } from "../io/image.js";
import { overlayLabels } from "../io/overlay.js";
import { davisPalette, type Palette } from "../io/palette.js";
import { encodeLabelPng, readLabelPng, type LabelMap } from "../io/png.js";
import { trackerSummary, type SegmentFolderResult } from "../stcn/segment.js";
import type { Stcn } from "../stcn/stcn.js";
import type { FrameItem, TrackedFrame, TrackOptions } from "../stcn/tracker.js";
import { decodeVideo, resolveRange, type DecodedFrame, type FrameRange, type ResolvedRange } from "./decode.js";
import { checkVideoOutput, VideoWriter } from "./encode.js";
import { probeVideo, type VideoInfo } from "./probe.js";

/** Options of {@link segmentVideo}. */
export interface SegmentVideoOptions extends TrackOptions, FrameRange {
  /** Any file ffmpeg reads (mp4/h264, webm/vp9, mov, mkv, ...). */
  video: string;
  /** Mask of the first frame of the range (`start`); default `<masks>/<start as %05d>.png`. */
  mask?: string;
  /** Folder of `%05d.png` masks by video frame index; ids new in a later mask join from that frame on. */
  masks?: string;
  /**
   * Folder for one palette PNG per frame (`%05d.png`, the video frame index). Checked writable
   * before any decoding; a folder that already holds files is refused (ERR_STCN_OUTPUT_NOT_EMPTY)
   * unless `overwrite`.
   */
  out?: string;
  /** Write into a non-empty `out`. Default false. */
  overwrite?: boolean;
  /** Overlay video (.mp4, .mov or .mkv; H.264 yuv420p). */
  outVideo?: string;
  /** Lossless label video (.mkv; FFV1 gray). */
  outMasksVideo?: string;
  /** Stops decoding, segmentation and encoding; nothing is left written. Rejects with AbortError (`cause`: the signal's reason). */
  signal?: AbortSignal;
  /**
   * Cap on the memory bank's bytes (see {@link TrackOptions.memoryBudget}); default
   * {@link DEFAULT_VIDEO_MEMORY_BUDGET} (1 GiB), so that a long video cannot grow the bank without
   * bound. 0 = no cap (the official behaviour).
   */
  memoryBudget?: number | string;
  /** Called after each frame is segmented, with the frame's RGB pixels. */
  onFrame?: (frame: VideoTrackedFrame, total: number) => void;
}

/** A segmented frame of a video. */
export interface VideoTrackedFrame extends TrackedFrame {
  /** Index of the frame in the video (the output file name). */
  videoIndex: number;
  rgb: RgbImage;
}

/** What {@link segmentVideo} reports: {@link SegmentFolderResult}'s counters and timings, and the video's facts. */
export interface SegmentVideoResult extends SegmentFolderResult {
  video: VideoInfo;
  range: ResolvedRange;
  /** Frame rate of the output videos. */
  outputFrameRate: string;
  /** Files and folders written. */
  outputs: { masks?: string; video?: string; masksVideo?: string };
}

/**
 * The default memory budget of {@link segmentVideo}: 1 GiB. At the default working size (480p, 854x480
 * padded to 864x480) one memory frame with one object costs about 18 MB of bank bytes (its key and
 * values, their share of the read concatenations and of the read's affinity; docs/service.md has the
 * formula), so 1 GiB keeps about 59 memory frames: about 295 frames of video at `memEvery` 5 before
 * the oldest memory goes.
 */
export const DEFAULT_VIDEO_MEMORY_BUDGET = 2 ** 30;

/** The `%05d` name of video frame `index`. */
export function videoFrameName(index: number): string {
  return String(index).padStart(5, "0");
}

/** A folder written under a temporary name and moved into place by `commit`. */
class StagedFolder {
  readonly temp: string;
  constructor(readonly target: string) {
    this.temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.partial`);
  }
  async commit(): Promise<void> {
    try {
      await rename(this.temp, this.target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    }
    // The target folder exists already: move the files in one by one.
    for (const name of await readdir(this.temp)) await rename(join(this.temp, name), join(this.target, name));
    await rmdir(this.temp);
  }
  async abort(): Promise<void> {
    await rm(this.temp, { recursive: true, force: true });
  }
}

function dividedRate(rate: string, every: number): string {
  if (every === 1) return rate;
  const [n, d] = rate.split("/");
  return `${n}/${Number(d ?? 1) * every}`;
}

async function laterMasks(dir: string, range: ResolvedRange): Promise<Map<number, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new StcnError("ERR_STCN_INPUT", `masks folder not found: ${dir}`);
  }
  const out = new Map<number, string>();
  for (const name of names.sort()) {
    if (extname(name).toLowerCase() !== ".png") continue;
    const stem = basename(name, extname(name));
    const index = /^\d+$/.test(stem) ? Number(stem) : NaN;
    const inRange = index >= range.start && index <= range.end && (index - range.start) % range.every === 0;
    if (!inRange) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `mask ${join(dir, name)} is not a frame of the range (video frames ${range.start}..${range.end} every ${range.every}, named %05d.png)`,
      );
    }
    out.set(index, join(dir, name));
  }
  return out;
}

/**
 * Segments a video file with `model`. Throws StcnError with one line: ERR_STCN_ARGUMENT (bad range
 * or output name), ERR_STCN_INPUT (missing file, mask of another size than the decoded frames, which
 * are rotated as the metadata says), ERR_STCN_VIDEO (unreadable, corrupt or truncated video, no video
 * stream, ffmpeg failing), ERR_STCN_DEPENDENCY (no ffmpeg). Nothing is left written then.
 */
export async function segmentVideo(model: Stcn, options: SegmentVideoOptions): Promise<SegmentVideoResult> {
  const t0 = performance.now();
  const { signal } = options;
  if (!options.out && !options.outVideo && !options.outMasksVideo) {
    throw new StcnError("ERR_STCN_ARGUMENT", "no output: give --out DIR, --out-video FILE and/or --out-masks-video FILE");
  }
  if (options.outVideo) checkVideoOutput(options.outVideo, "overlay", "--out-video");
  if (options.outMasksVideo) checkVideoOutput(options.outMasksVideo, "labels", "--out-masks-video");
  if (options.out) await checkOutputFolder(options.out, { overwrite: options.overwrite ?? false, name: "--out", keep: false });
  const info = await probeVideo(options.video, signalOption(signal));
  const range = resolveRange(options, info);
  const later = options.masks ? await laterMasks(options.masks, range) : new Map<number, string>();
  const firstMask = options.mask ?? later.get(range.start);
  if (!firstMask) {
    throw new StcnError(
      "ERR_STCN_INPUT",
      options.masks
        ? `no first-frame mask: give --mask or put ${videoFrameName(range.start)}.png in ${options.masks}`
        : "no first-frame mask: give --mask FIRST.png (or --masks DIR)",
    );
  }
  later.delete(range.start);
  const first: LabelMap = await readLabelPng(firstMask);
  if ((first.width !== info.width || first.height !== info.height) && !options.resizeMasks) {
    const rotated = info.rotation ? ` (${info.codedWidth}x${info.codedHeight} stored, rotated ${info.rotation} degrees)` : "";
    throw new StcnError(
      "ERR_STCN_INPUT",
      `mask ${firstMask} is ${first.width}x${first.height} but ${options.video} decodes to ${info.width}x${info.height}${rotated} ` +
        "(pass --resize-masks to resize it, nearest, to the working size)",
    );
  }
  const palette: Palette = first.palette ?? davisPalette();
  const outputRate = dividedRate(info.frameRate, range.every);

  const staged = options.out ? new StagedFolder(resolve(options.out)) : undefined;
  const writers: VideoWriter[] = [];
  const pending: Promise<void>[] = [];
  const tracker = model.track({ ...options, memoryBudget: checkByteSize(options.memoryBudget ?? DEFAULT_VIDEO_MEMORY_BUDGET, "memoryBudget") });
  let decoder: AsyncGenerator<DecodedFrame, void, undefined> | undefined;
  let succeeded = false;
  try {
    if (staged) await mkdir(staged.temp, { recursive: true });
    const common = { width: info.width, height: info.height, frameRate: outputRate, ...signalOption(signal) };
    const overlayWriter = options.outVideo ? await VideoWriter.open(options.outVideo, { kind: "overlay", ...common }) : undefined;
    if (overlayWriter) writers.push(overlayWriter);
    const labelWriter = options.outMasksVideo ? await VideoWriter.open(options.outMasksVideo, { kind: "labels", ...common }) : undefined;
    if (labelWriter) writers.push(labelWriter);

    // RGB frames handed to the tracker, by tracker index, until their result comes back (a few).
    const rgbOf = new Map<number, RgbImage>();
    decoder = decodeVideo(options.video, { start: range.start, end: range.end, every: range.every, info, ...signalOption(signal) });
    const emit = async (frame: TrackedFrame): Promise<void> => {
      const rgb = rgbOf.get(frame.index) as RgbImage;
      rgbOf.delete(frame.index);
      const videoIndex = range.start + frame.index * range.every;
      if (staged) {
        // PNG encoding runs on the next turn, while the tracker's next native call is in flight;
        // at most 4 writes are pending, so results never pile up in memory.
        const png = new Promise<void>((done, fail) =>
          setImmediate(() => {
            try {
              const bytes = encodeLabelPng(frame.labels, frame.width, frame.height, palette);
              writeFile(join(staged.temp, `${videoFrameName(videoIndex)}.png`), bytes).then(done, fail);
            } catch (error) {
              fail(error as Error);
            }
          }),
        );
        png.catch(() => undefined);
        pending.push(png);
        if (pending.length > 4) await pending.shift();
      }
      if (overlayWriter) await overlayWriter.write(overlayLabels(rgb, frame.labels, { palette }).data);
      if (labelWriter) await labelWriter.write(frame.labels);
      options.onFrame?.({ ...frame, videoIndex, rgb }, range.count);
    };

    const head = await decoder.next();
    if (head.done) throw new StcnError("ERR_STCN_VIDEO", `${options.video}: no frame decoded`);
    const frame0: RgbImage = { data: head.value.data, width: head.value.width, height: head.value.height };
    rgbOf.set(0, frame0);
    const f0 = await tracker.start(frame0, first);
    await emit(f0);
    let tracked = 0;
    async function* rest(): AsyncGenerator<FrameItem> {
      for await (const decoded of decoder as AsyncGenerator<DecodedFrame, void, undefined>) {
        tracked += 1;
        const image: RgbImage = { data: decoded.data, width: decoded.width, height: decoded.height };
        rgbOf.set(tracked, image);
        const mask = later.get(decoded.index);
        yield mask ? { frame: image, mask } : { frame: image };
      }
    }
    let width = f0.width;
    let height = f0.height;
    for await (const frame of tracker.run(rest())) {
      width = frame.width;
      height = frame.height;
      await emit(frame);
    }
    await Promise.all(pending);
    for (const w of writers) await w.close();
    await staged?.commit();
    succeeded = true;
    return {
      ...trackerSummary(tracker, t0, width, height),
      video: info,
      range,
      outputFrameRate: outputRate,
      outputs: {
        ...(options.out ? { masks: options.out } : {}),
        ...(options.outVideo ? { video: options.outVideo } : {}),
        ...(options.outMasksVideo ? { masksVideo: options.outMasksVideo } : {}),
      },
    };
  } catch (error) {
    throw asAbortError(error, signal, "segmentVideo");
  } finally {
    // Stops ffmpeg when the tracker gave up before the end (it never closes the frame iterator).
    await decoder?.return(undefined).catch(() => undefined);
    tracker.dispose();
    if (!succeeded) {
      await Promise.allSettled(pending);
      await Promise.allSettled(writers.map((w) => w.abort()));
      await staged?.abort();
    }
  }
}
