/**
 * `segmentFolder`: a whole video folder through STCN, writing one palette PNG per frame (what
 * `stcn segment` runs). PNG encoding and writing overlap with the native computation of the next
 * frame; frames are decoded ahead by the tracker.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { asAbortError } from "../abort.js";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { checkOutputFolder, ioError } from "../io/fs-errors.js";
import { davisPalette, type Palette } from "../io/palette.js";
import { encodeLabelPng, readLabelPng } from "../io/png.js";
import type { RgbImage } from "../io/image.js";
import type { Stcn } from "./stcn.js";
import type { FrameItem, StcnTracker, TrackedFrame, TrackOptions } from "./tracker.js";
import { listFrames, matchMasks } from "./video.js";

/** Options for {@link segmentFolder}. */
export interface SegmentFolderOptions extends TrackOptions {
  /** Folder of frames (*.jpg, *.jpeg, *.png, sorted by name). */
  frames: string;
  /** First-frame mask; default: `<masks>/<first frame stem>.png`. */
  mask?: string;
  /** Folder of `<frame stem>.png` masks; ids that are new in a later mask join from that frame on. */
  masks?: string;
  /**
   * Output folder: `<frame stem>.png` per frame (frame 0 included). Checked writable before any
   * compute; a folder that already holds files is refused (ERR_STCN_OUTPUT_NOT_EMPTY) unless
   * `overwrite`. A failed run removes the frames it wrote (and the folder, if it created it).
   */
  out: string;
  /** Write into a non-empty `out` (its files with our frame names are replaced). Default false. */
  overwrite?: boolean;
  /** Called after each frame is computed. */
  onFrame?: (frame: TrackedFrame, total: number) => void;
  /**
   * Frames already decoded, in order from frame 0 (e.g. decoded while the previous video ran); the
   * remaining frames are read from their files. Each must be the decoded file of the same index.
   */
  preloaded?: readonly RgbImage[];
}

/** What {@link segmentFolder} reports. */
export interface SegmentFolderResult {
  frames: number;
  objectIds: number[];
  /** Native propagation time (official STCN timing: decoding and writing excluded). */
  computeSeconds: number;
  /** Wall time from the first decode to the last file written. */
  totalSeconds: number;
  /** frames / computeSeconds. */
  fps: number;
  /** frames / totalSeconds. */
  endToEndFps: number;
  width: number;
  height: number;
  workingSize: { width: number; height: number };
}

/**
 * Segments a video folder with `model`. ERR_STCN_INPUT names the file on bad input; ERR_STCN_IO and
 * ERR_STCN_OUTPUT_NOT_EMPTY concern `out` (see {@link SegmentFolderOptions.out}). With
 * `signal` (TrackOptions), an abort stops at the next native-call boundary and rejects with
 * AbortError; the frames written before it are complete files (each written atomically), and they
 * are removed like those of any failed run.
 */
export async function segmentFolder(model: Stcn, options: SegmentFolderOptions): Promise<SegmentFolderResult> {
  const t0 = performance.now();
  const frames = await listFrames(options.frames);
  const later = options.masks ? await matchMasks(options.masks, frames) : new Map<number, string>();
  const firstMask = options.mask ?? later.get(0);
  if (!firstMask) {
    throw new StcnError(
      "ERR_STCN_INPUT",
      options.masks
        ? `no first-frame mask: give --mask or put ${frames[0]?.stem}.png in ${options.masks}`
        : "no first-frame mask: give --mask FIRST.png (or --masks DIR)",
    );
  }
  later.delete(0);
  const first = await readLabelPng(firstMask);
  const palette: Palette = first.palette ?? davisPalette();
  // The tracker checks its options before anything is written.
  const tracker = model.track(options);
  let existed: boolean;
  try {
    existed = await checkOutputFolder(options.out, { overwrite: options.overwrite ?? false });
    await mkdir(options.out, { recursive: true }).catch((error: unknown) => Promise.reject(ioError(error, "create", options.out)));
  } catch (error) {
    tracker.dispose();
    throw error;
  }
  const writes: Promise<void>[] = [];
  const written: string[] = [];
  const write = (frame: TrackedFrame): void => {
    const stem = frames[frame.index]?.stem as string;
    // Deferred to the next turn of the event loop: the tracker issues the next native call first,
    // so PNG encoding runs on the main thread while the worker computes.
    writes.push(
      new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          try {
            const png = encodeLabelPng(frame.labels, frame.width, frame.height, palette);
            const path = join(options.out, `${stem}.png`);
            written.push(path);
            writeFileAtomic(path, png).then(resolve, reject);
          } catch (error) {
            reject(error as Error);
          }
        });
      }),
    );
    writes[writes.length - 1]?.catch(() => undefined);
  };
  try {
    const source = (i: number) => options.preloaded?.[i] ?? (frames[i] as { path: string }).path;
    const f0 = await tracker.start(source(0), firstMask);
    write(f0);
    options.onFrame?.(f0, frames.length);
    const rest: FrameItem[] = frames.slice(1).map((_, i) => {
      const mask = later.get(i + 1);
      return mask ? { frame: source(i + 1), mask } : { frame: source(i + 1) };
    });
    let width = f0.width;
    let height = f0.height;
    for await (const frame of tracker.run(rest)) {
      write(frame);
      width = frame.width;
      height = frame.height;
      options.onFrame?.(frame, frames.length);
    }
    await Promise.all(writes);
    return trackerSummary(tracker, t0, width, height);
  } catch (error) {
    // A failed run leaves no frames of its own behind (a folder it created goes too).
    await Promise.allSettled(writes);
    if (!existed) await rm(options.out, { recursive: true, force: true }).catch(() => undefined);
    else for (const path of written) await rm(path, { force: true }).catch(() => undefined);
    throw asAbortError(error, options.signal, "segmentFolder");
  } finally {
    await Promise.allSettled(writes);
    tracker.dispose();
  }
}

/** A finished tracker's counters and timings as {@link SegmentFolderResult} (`t0`: `performance.now()` at the start). */
export function trackerSummary(tracker: StcnTracker, t0: number, width: number, height: number): SegmentFolderResult {
  const stats = tracker.stats();
  const totalSeconds = (performance.now() - t0) / 1000;
  return {
    frames: stats.frames,
    objectIds: tracker.objectIds,
    computeSeconds: stats.computeSeconds,
    totalSeconds,
    fps: stats.frames / stats.computeSeconds,
    endToEndFps: stats.frames / totalSeconds,
    width,
    height,
    workingSize: tracker.workingSize,
  };
}
