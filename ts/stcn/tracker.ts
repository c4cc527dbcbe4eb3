/**
 * `StcnTracker`: propagation of first-frame masks through one video, exactly as the official STCN
 * loop (docs/stcn-python.md, normative rules 8-13) with the YouTube-VOS rule for objects that join later.
 *
 * The native session owns everything heavy (preprocessing, key/value encoding, memory bank and
 * memory read, decoding, soft aggregation, unpad/resize/argmax); this file decides:
 *  - which frames become memory: frame 0, frames whose absolute index is a multiple of `memEvery`,
 *    and frames where objects join; never the last frame; with `includeLast` every other frame
 *    goes to the single temporary slot;
 *  - which objects exist: the first mask's ids (sorted), then ids that first appear in a later mask
 *    (sorted), in that channel order; labels keep the original ids;
 *  - decoding ahead: frames (paths) are decoded by sharp while the previous frame is computed;
 *    at most `prefetch` frames are pulled from the input ahead, so a fast producer (a video decoder)
 *    waits while the native side is behind;
 *  - cancellation: the signal is checked between native calls (several per frame); an aborted call
 *    disposes the tracker (its memory bank is freed) and rejects with AbortError;
 *  - the memory budget: the bank drops its oldest regular frames natively; a budget too small for
 *    the frames it must keep is ERR_STCN_MEMORY_BUDGET.
 * Every native call takes a slot of the process-wide in-flight limit (ts/in-flight.ts).
 */
import { stat } from "node:fs/promises";
import { asAbortError, throwIfAborted } from "../abort.js";
import { checkByteSize, checkInteger, checkLabelMap, checkRgbImage } from "../check.js";
import { inFlight } from "../in-flight.js";
import { StcnError, withCallerStack } from "../errors.js";
import { readRgb, type RgbImage } from "../io/image.js";
import { labelIds } from "../io/labels.js";
import { getMaxImagePixels, readLabelPng, type LabelMap } from "../io/png.js";
import { native } from "../native.js";
import type { NativeStcnSession } from "./native-types.js";
import type { Stcn } from "./stcn.js";

/** A frame: a file path (decoded with sharp) or RGB bytes (`data[(y * width + x) * 3 + c]`). */
export type FrameSource = string | RgbImage;
/** A mask: a label PNG path (palette or greyscale) or a label map (`data[y * width + x]` = id, 0 = background). */
export type MaskSource = string | LabelMap;
/** A frame for {@link StcnTracker.run}, optionally with a mask introducing new objects on that frame. */
export interface FrameItem {
  frame: FrameSource;
  /** Objects whose ids are not tracked yet join the video from this frame on; known ids are ignored. */
  mask?: MaskSource;
}
/** What {@link StcnTracker.run} accepts per frame. */
export type FrameInput = FrameSource | FrameItem;

/** Options for {@link Stcn.track}. */
export interface TrackOptions {
  /** Top-k of the memory read (default 20). */
  topK?: number;
  /** A frame whose absolute index is a multiple of this becomes memory (default 5). */
  memEvery?: number;
  /** Also keep the latest non-memory frame in a temporary memory slot (official `--include_last`). */
  includeLast?: boolean;
  /**
   * Working resolution: the shorter side becomes `size` (default 480; frames are resized bilinearly and
   * the labels resized back to the input size). 0 = the input resolution.
   */
  size?: number;
  /** Cap on memory frames; the oldest frames that are neither frame 0 nor a join frame go first. 0 (default) = no cap. */
  maxMemoryFrames?: number;
  /**
   * Cap on the memory bank's bytes (see {@link TrackerStats.memoryBytes}): a number of bytes or a
   * size such as "512MiB" / "2GiB". Past it the oldest memory frames that are neither frame 0, a join
   * frame nor the newest are dropped. 0 (default) = no cap, as the official code (the bank grows by
   * one frame every `memEvery` frames). A budget smaller than the frames that must stay rejects with
   * ERR_STCN_MEMORY_BUDGET.
   */
  memoryBudget?: number | string;
  /** Aborts every call of this tracker (see {@link StcnTracker.run}). */
  signal?: AbortSignal;
  /** Accept masks whose size differs from the frames by resizing them (nearest) to the working size. Default false: refused. */
  resizeMasks?: boolean;
  /** Debug: also return the aggregated probabilities of every frame (see {@link TrackedFrame.probabilities}). */
  probabilities?: boolean;
  /** Frames decoded ahead of the computation (default 2). */
  prefetch?: number;
}

/** One segmented frame. */
export interface TrackedFrame {
  /** Absolute frame index (the start frame is 0). */
  index: number;
  /** `labels[y * width + x]` = object id (0 = background), at the input resolution. */
  labels: Uint8Array;
  width: number;
  height: number;
  /** Ids of the tracked objects, in channel order. */
  objectIds: number[];
  /**
   * With `probabilities: true`: float32 `[objectIds.length + 1, height, width]`, channel 0 the
   * background, then the objects in `objectIds` order (soft-aggregated, at the input resolution).
   */
  probabilities?: Float32Array;
}

/** Options of one {@link StcnTracker.start} or {@link StcnTracker.run} call. */
export interface TrackCallOptions {
  /** Stops the call at the next native-call boundary; it rejects with AbortError and the tracker is disposed. */
  signal?: AbortSignal;
}

/** Counters of a tracker ({@link StcnTracker.stats}). */
export interface TrackerStats {
  /** Frames segmented so far (the start frame included). */
  frames: number;
  /**
   * Seconds spent in the native propagation (encode, memory read, decode, aggregate, memorize,
   * unpad/resize/argmax), i.e. the official STCN timing: decoding, writing and waits for an
   * in-flight slot excluded.
   */
  computeSeconds: number;
  /** Memory frames held by the bank now. */
  memoryFrames: number;
  /**
   * Bytes of the memory bank now: its keys and values plus the concatenations a memory read builds
   * from them (tensor payloads; about twice the stored frames). 0 after dispose.
   */
  memoryBytes: number;
  /** The bank's byte cap (0 = none). */
  memoryBudget: number;
  /** Per-frame native seconds: the last frame, the mean and the slowest over all frames so far. */
  frameSeconds: { last: number; mean: number; max: number };
}

function positiveInt(value: number | undefined, fallback: number, name: string, min: number, max?: number): number {
  return checkInteger(value ?? fallback, name, min, max);
}

function describe(source: FrameSource | MaskSource, what: string, index: number): string {
  return typeof source === "string" ? source : `${what} ${index}`;
}

async function loadFrame(source: FrameSource, index: number): Promise<RgbImage & { name: string }> {
  const name = describe(source, "frame", index);
  if (typeof source === "string") {
    try {
      const s = await stat(source);
      if (!s.isFile()) throw new Error("not a file");
    } catch {
      throw new StcnError("ERR_STCN_INPUT", `frame not found: ${source}`);
    }
    return { ...(await readRgb(source)), name };
  }
  return { ...checkRgbImage(source, name), name };
}

async function loadMask(source: MaskSource, index: number): Promise<LabelMap & { name: string }> {
  const name = describe(source, "mask of frame", index);
  if (typeof source === "string") return { ...(await readLabelPng(source)), name };
  return { ...checkLabelMap(source, name), name };
}

interface Loaded {
  index: number;
  frame: RgbImage & { name: string };
  mask?: LabelMap & { name: string };
}

/** Tracks the objects of one video. Create with {@link Stcn.track}. */
export class StcnTracker {
  private readonly session: NativeStcnSession;
  private readonly memEvery: number;
  private readonly includeLast: boolean;
  private readonly resizeMasks: boolean;
  private readonly withProbs: boolean;
  private readonly prefetch: number;
  private readonly ids: number[] = [];
  private next = 0;
  private size: { width: number; height: number } | undefined;
  private busy = false;
  private readonly memoryBudget: number;
  private readonly signal: AbortSignal | undefined;
  private counters = { frames: 0, computeSeconds: 0, frameSeconds: 0, lastFrame: 0, maxFrame: 0 };
  // Native seconds of the frame being computed (reset when its result is out).
  private frameClock = 0;

  /** @internal Use {@link Stcn.track}. */
  constructor(model: Stcn, options: TrackOptions) {
    const topK = positiveInt(options.topK, 20, "topK", 1);
    this.memEvery = positiveInt(options.memEvery, 5, "memEvery", 1);
    // The working frame holds at least size x size pixels: bounded by the process-wide image limit.
    const size = positiveInt(options.size, 480, "size", 0, Math.floor(Math.sqrt(getMaxImagePixels())));
    const maxMemoryFrames = positiveInt(options.maxMemoryFrames, 0, "maxMemoryFrames", 0);
    this.prefetch = positiveInt(options.prefetch, 2, "prefetch", 1);
    this.includeLast = options.includeLast ?? false;
    this.resizeMasks = options.resizeMasks ?? false;
    this.withProbs = options.probabilities ?? false;
    this.memoryBudget = checkByteSize(options.memoryBudget ?? 0, "memoryBudget");
    this.signal = options.signal;
    const Session = native().StcnSession;
    this.session = new Session(model.native, topK, maxMemoryFrames, size, this.memoryBudget);
  }

  /** Ids of the tracked objects in channel order. */
  get objectIds(): number[] {
    return [...this.ids];
  }

  /** Memory frames held by the native memory bank. */
  get memoryFrames(): number {
    return this.session.memoryFrames;
  }

  /** The working resolution (before padding to a multiple of 16); 0x0 before the first frame. */
  get workingSize(): { width: number; height: number } {
    return this.session.workingSize;
  }

  /** Frames, propagation seconds, the memory bank's frames and bytes, per-frame timings. Readable while a call runs. */
  stats(): TrackerStats {
    const c = this.counters;
    const disposed = this.session.disposed;
    return {
      frames: c.frames,
      computeSeconds: c.computeSeconds,
      memoryFrames: disposed ? 0 : this.session.memoryFrames,
      memoryBytes: disposed ? 0 : this.session.memoryBytes,
      memoryBudget: this.memoryBudget,
      frameSeconds: { last: c.lastFrame, mean: c.frames > 0 ? c.frameSeconds / c.frames : 0, max: c.maxFrame },
    };
  }

  /** True after {@link StcnTracker.dispose}. */
  get disposed(): boolean {
    return this.session.disposed;
  }

  // One native call: the abort check, an in-flight slot, the timing (of the call itself, not the wait).
  private async timed<T>(work: () => Promise<T>): Promise<T> {
    const signal = this.callSignal;
    throwIfAborted(signal, "STCN tracker");
    return inFlight(
      async () => {
        const t0 = performance.now();
        try {
          return await withCallerStack(work(), new Error());
        } finally {
          const seconds = (performance.now() - t0) / 1000;
          this.counters.computeSeconds += seconds;
          this.frameClock += seconds;
        }
      },
      signal,
      "STCN tracker",
    );
  }

  // The signal of the call in progress: the tracker's and the call's, combined.
  private callSignal: AbortSignal | undefined;

  private begin(options: TrackCallOptions): void {
    const signals = [this.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
    this.callSignal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }

  // An abort leaves the session mid-frame: dispose it (frees the memory bank) and reject with AbortError.
  private failed(error: unknown): unknown {
    const out = asAbortError(error, this.callSignal, "STCN tracker");
    if (this.callSignal?.aborted) this.session.dispose();
    return out;
  }

  private checkBudget(): void {
    if (this.memoryBudget === 0) return;
    const bytes = this.session.memoryBytes;
    if (bytes > this.memoryBudget) {
      const size = this.session.workingSize;
      throw new StcnError(
        "ERR_STCN_MEMORY_BUDGET",
        `memoryBudget ${this.memoryBudget} bytes is too small: the memory frames that must stay (frame 0, frames where objects join, the newest) ` +
          `take ${bytes} bytes at the working size ${size.width}x${size.height} (${this.session.memoryFrames} frames)`,
      );
    }
  }

  private checkMask(mask: LabelMap & { name: string }, frame: RgbImage): void {
    if ((mask.width !== frame.width || mask.height !== frame.height) && !this.resizeMasks) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `mask ${mask.name} is ${mask.width}x${mask.height} but the frames are ${frame.width}x${frame.height} ` +
          "(pass resizeMasks / --resize-masks to resize it, nearest, to the working size)",
      );
    }
  }

  private checkFrame(frame: RgbImage & { name: string }): void {
    if (!this.size) return;
    if (frame.width !== this.size.width || frame.height !== this.size.height) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `${frame.name} is ${frame.width}x${frame.height} but the video's first frame is ${this.size.width}x${this.size.height}`,
      );
    }
  }

  private enter(what: string): void {
    if (this.session.disposed) throw new StcnError("ERR_STCN_DISPOSED", `${what}: the tracker was disposed`);
    if (this.busy) throw new StcnError("ERR_STCN_ARGUMENT", `${what}: the tracker is busy (await the previous call)`);
    this.busy = true;
  }

  private async result(index: number, width: number, height: number): Promise<TrackedFrame> {
    const ids = [0, ...this.ids];
    const out = await this.timed(() => this.session.labels(ids, this.withProbs));
    const c = this.counters;
    c.frames += 1;
    c.frameSeconds += this.frameClock;
    c.lastFrame = this.frameClock;
    c.maxFrame = Math.max(c.maxFrame, this.frameClock);
    this.frameClock = 0;
    const frame: TrackedFrame = { index, labels: out.labels, width, height, objectIds: [...this.ids] };
    if (out.probs) frame.probabilities = out.probs;
    return frame;
  }

  /**
   * Starts the video: frame 0 and its mask (every non-zero id is an object). Returns frame 0's
   * segmentation (the soft-aggregated mask, as the official code writes it). ERR_STCN_INPUT names
   * the file when a frame or mask cannot be read, the mask has no objects, or the sizes differ.
   */
  async start(frame: FrameSource, mask: MaskSource, options: TrackCallOptions = {}): Promise<TrackedFrame> {
    this.enter("start");
    this.begin(options);
    try {
      if (this.next !== 0) throw new StcnError("ERR_STCN_ARGUMENT", "start: the tracker has already started (one tracker per video)");
      const [image, labels] = await Promise.all([loadFrame(frame, 0), loadMask(mask, 0)]);
      this.checkMask(labels, image);
      const ids = labelIds(labels.data, { void: null });
      if (ids.length === 0) throw new StcnError("ERR_STCN_INPUT", `first mask ${labels.name} has no objects (all pixels are 0)`);
      await this.timed(() => this.session.encodeFrame(image.data, image.width, image.height));
      const kept = await this.timed(() => this.session.addObjects(labels.data, labels.width, labels.height, ids, this.resizeMasks));
      if (kept.length === 0) {
        const size = this.session.workingSize;
        throw new StcnError("ERR_STCN_INPUT", `first mask ${labels.name} has no objects left at the working size ${size.width}x${size.height}`);
      }
      this.ids.push(...kept);
      await this.timed(() => this.session.memorize("permanent"));
      this.checkBudget();
      this.size = { width: image.width, height: image.height };
      this.next = 1;
      return await this.result(0, image.width, image.height);
    } catch (error) {
      throw this.failed(error);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Propagates through the frames after the start frame (indices 1, 2, ...), yielding each frame's
   * labels as soon as it is computed. Frames given as paths are decoded ahead while the previous
   * frame is computed. The last frame of `frames` is never added to the memory. At most `prefetch`
   * frames are pulled ahead from `frames`: an async producer is paused while the native side is behind.
   *
   * Aborting `options.signal` (or the tracker's signal) stops at the next native-call boundary: the
   * generator rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR") and the tracker is
   * disposed, which frees its memory bank.
   */
  async *run(frames: Iterable<FrameInput> | AsyncIterable<FrameInput>, options: TrackCallOptions = {}): AsyncGenerator<TrackedFrame, void, undefined> {
    this.enter("run");
    this.begin(options);
    try {
      if (this.next === 0) throw new StcnError("ERR_STCN_ARGUMENT", "run: call start(frame0, mask) first");
      const iterator: AsyncIterator<FrameInput> | Iterator<FrameInput> =
        Symbol.asyncIterator in frames ? (frames as AsyncIterable<FrameInput>)[Symbol.asyncIterator]() : (frames as Iterable<FrameInput>)[Symbol.iterator]();
      const queue: Promise<Loaded>[] = [];
      let exhausted = false;
      let pulled = this.next;
      const fill = async (): Promise<void> => {
        while (!exhausted && queue.length < this.prefetch) {
          const step = await iterator.next();
          if (step.done) {
            exhausted = true;
            break;
          }
          const index = pulled++;
          const item = step.value;
          const source: FrameItem = typeof item === "string" || !("frame" in item) ? { frame: item } : item;
          const loading = Promise.all([loadFrame(source.frame, index), source.mask === undefined ? undefined : loadMask(source.mask, index)]).then(
            ([frame, mask]): Loaded => (mask ? { index, frame, mask } : { index, frame }),
          );
          loading.catch(() => undefined);  // awaited in order below; avoid an unhandled rejection meanwhile
          queue.push(loading);
        }
      };
      for (;;) {
        throwIfAborted(this.callSignal, "STCN tracker");
        await fill();
        const head = queue.shift();
        if (!head) break;
        const current = await head;
        await fill();  // starts decoding the next frames, and tells whether this one is the last
        const isLast = exhausted && queue.length === 0;
        yield await this.step(current, isLast);
      }
    } catch (error) {
      throw this.failed(error);
    } finally {
      this.busy = false;
    }
  }

  private async step({ index, frame, mask }: Loaded, isLast: boolean): Promise<TrackedFrame> {
    this.checkFrame(frame);
    if (mask) this.checkMask(mask, frame);
    await this.timed(() => this.session.encodeFrame(frame.data, frame.width, frame.height));
    await this.timed(() => this.session.segment());
    let joining = false;
    if (mask) {
      const fresh = labelIds(mask.data, { void: null }).filter((id) => !this.ids.includes(id));
      if (fresh.length > 0) {
        const kept = await this.timed(() => this.session.addObjects(mask.data, mask.width, mask.height, fresh, this.resizeMasks));
        this.ids.push(...kept);
        joining = kept.length > 0;
      }
    }
    if (!isLast) {
      const isMemory = joining || index % this.memEvery === 0;
      if (this.includeLast || isMemory) {
        const kind = joining ? "permanent" : isMemory ? "regular" : "temporary";
        await this.timed(() => this.session.memorize(kind));
        this.checkBudget();
      }
    }
    this.next = index + 1;
    return this.result(index, frame.width, frame.height);
  }

  /** Releases the native memory bank and features. Safe while a call is in flight (it finishes first). */
  dispose(): void {
    this.session.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
