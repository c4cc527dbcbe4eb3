/**
 * DAVIS 2017 semi-supervised evaluation with the official toolkit's numbers
 * (`evaluation_method.py --task semi-supervised`, davis2017-evaluation @ ac7c43f): per-frame J and F on
 * frames 1..T-2 of every object, per-object M/R/D, objects pooled over all sequences, the same two CSVs
 * with the same columns and `%.3f` rounding. Unlike the official script it never reuses CSVs left in
 * the output folder, writes them atomically and writes nothing when any input is wrong or the call
 * is aborted.
 */
import { rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { abortError, asAbortError, throwIfAborted } from "../abort.js";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { openDavis, type DavisResolution, type DavisTask } from "./reader.js";
import { TaskPool } from "./pool.js";
import { dbStatistics, formatFixed3, npMean } from "./statistics.js";
import type { ChunkResult, ChunkTask, HeaderResult, HeaderTask } from "./tasks.js";

/** Options of {@link evaluateDavis}. */
export interface EvaluateDavisOptions {
  /** DAVIS root (holding JPEGImages/, Annotations/, ImageSets/). */
  davisRoot: string;
  /** Results folder: `<results>/<sequence>/<frame id>.png`, palette or 8-bit grey PNGs. */
  resultsPath: string;
  /** ImageSets list (default "val"). */
  set?: string;
  /** Only "semi-supervised" is implemented (the default here; the official CLI defaults to unsupervised). */
  task?: DavisTask;
  /** Only these sequences of the set (default: all). */
  sequences?: readonly string[];
  /** Annotation resolution folder (default "480p"). */
  resolution?: DavisResolution;
  /**
   * Where to write `global_results-<set>.csv` and `per-sequence_results-<set>.csv`: default the results
   * folder (as the official tool); `false` writes nothing.
   */
  out?: string | false;
  /**
   * Worker threads that read, decode and score frames (default: available cores, at most one per
   * chunk of work). 0 runs everything on the calling thread.
   */
  workers?: number;
  /**
   * The calling thread may block (a command-line process with nothing else on its event loop). With
   * `workers` unset, an evaluation of at most {@link INLINE_MAX_FRAMES} frames then runs on the calling
   * thread: a worker thread's start-up costs about as much CPU as scoring 130 frames, so small jobs
   * finish sooner and cheaper inline. Default false: a library caller's event loop stays free.
   */
  blocking?: boolean;
  /** Evaluated frames per work unit (default: chosen from the frame count and worker count). */
  chunkFrames?: number;
  /** Called as frames are scored: (done, total) evaluated frames. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Cancels the evaluation: it rejects with AbortError (`name` "AbortError", `code` "ABORT_ERR", the
   * signal's reason as `cause`) and writes no CSV. With worker threads, an abort terminates them at
   * once (the frames they were scoring are dropped). On the calling thread (`workers: 0`, or small
   * evaluations with `blocking`), the signal is checked before each unit of work (a sequence's first
   * annotation, or a chunk of at most `chunkFrames` frames of one sequence) and, because that work
   * is synchronous, the thread yields to its event loop (one `setImmediate`) before each unit when a
   * signal is given: an abort from a timer, a request or SIGINT is seen within one chunk, at a cost
   * of a few microseconds per chunk. Without a signal nothing yields.
   */
  signal?: AbortSignal;
}

/** The global numbers, named as the CSV columns. */
export interface DavisGlobalResults {
  "J&F-Mean": number;
  "J-Mean": number;
  "J-Recall": number;
  "J-Decay": number;
  "F-Mean": number;
  "F-Recall": number;
  "F-Decay": number;
}

/** Columns of `global_results-<set>.csv`, in order. */
export const GLOBAL_COLUMNS = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"] as const;

/** One object of one sequence. */
export interface DavisObjectResult {
  /** `<sequence>_<k>`, the per-sequence CSV's row name. */
  name: string;
  sequence: string;
  /** 1-based object id. */
  object: number;
  jMean: number;
  jRecall: number;
  jDecay: number;
  fMean: number;
  fRecall: number;
  fDecay: number;
  /** Per evaluated frame (frames 1..T-2), in frame order. */
  j: Float64Array;
  f: Float64Array;
}

/** One evaluated sequence. */
export interface DavisSequenceResult {
  name: string;
  objects: number;
  width: number;
  height: number;
  /** Evaluated frame ids (first and last dropped). */
  frameIds: string[];
}

/** What {@link evaluateDavis} returns. */
export interface DavisEvaluation {
  set: string;
  task: DavisTask;
  global: DavisGlobalResults;
  objects: DavisObjectResult[];
  sequences: DavisSequenceResult[];
  /** CSV texts, as written. */
  globalCsv: string;
  perSequenceCsv: string;
  /** Paths written (absent with `out: false`). */
  files?: { global: string; perSequence: string };
  /** Wall time of the evaluation in seconds. */
  seconds: number;
  /** Worker threads used (0 = inline). */
  workers: number;
}

/** With `blocking`, evaluations of at most this many frames run inline (see {@link EvaluateDavisOptions.blocking}). */
export const INLINE_MAX_FRAMES = 300;

function checkWorkers(workers: number | undefined): void {
  if (workers === undefined) return;
  if (!Number.isInteger(workers) || workers < 0 || workers > 256) {
    throw new StcnError("ERR_STCN_ARGUMENT", `workers must be an integer from 0 to 256, got ${workers}`);
  }
}

/**
 * Evaluates a results folder against a DAVIS root, exactly as the official DAVIS 2017 toolkit's
 * semi-supervised protocol, and (unless `out: false`) writes its two CSVs atomically. Throws
 * StcnError (ERR_STCN_INPUT / ERR_STCN_ARGUMENT) with one line naming sequence and frame for a missing
 * result frame, a size mismatch, a non-label PNG, more objects than the ground truth, an unknown
 * sequence or an empty ImageSets list; nothing is written then. With `signal`, an abort rejects
 * with AbortError (see {@link EvaluateDavisOptions.signal}); the CSVs are the last step, written only
 * after the last check (an abort seen between the two writes removes the first), so an aborted call
 * leaves no CSV and no temporary file.
 */
export async function evaluateDavis(options: EvaluateDavisOptions): Promise<DavisEvaluation> {
  const started = performance.now();
  const { signal } = options;
  const what = "evaluateDavis";
  throwIfAborted(signal, what);
  const task = options.task ?? "semi-supervised";
  if (task !== "semi-supervised") {
    throw new StcnError("ERR_STCN_ARGUMENT", `task "${String(task)}" is not supported; only semi-supervised evaluation is implemented`);
  }
  checkWorkers(options.workers);
  if (options.chunkFrames !== undefined && (!Number.isInteger(options.chunkFrames) || options.chunkFrames < 1)) {
    throw new StcnError("ERR_STCN_ARGUMENT", `chunkFrames must be a positive integer, got ${options.chunkFrames}`);
  }
  const set = options.set ?? "val";
  const resultsPath = resolve(options.resultsPath);
  const dataset = await openDavis(resolve(options.davisRoot), {
    set,
    task,
    resolution: options.resolution,
    sequences: options.sequences,
  });
  for (const seq of dataset.sequences) {
    if (seq.annotationPaths.length === 0) {
      throw new StcnError("ERR_STCN_INPUT", `sequence ${seq.name}: no annotations (*.png) in ${seq.annotationDir}`);
    }
    if (seq.annotationPaths.length < seq.imagePaths.length) {
      // The toolkit pads the mask list with -1 entries here and then fails to open them.
      throw new StcnError(
        "ERR_STCN_INPUT",
        `sequence ${seq.name}: ${seq.imagePaths.length} images but only ${seq.annotationPaths.length} annotations in ${seq.annotationDir}`,
      );
    }
    if (seq.frameIds.length < 3) {
      throw new StcnError(
        "ERR_STCN_INPUT",
        `sequence ${seq.name}: ${seq.frameIds.length} annotated frame(s); the semi-supervised protocol drops the first and last and needs at least 3`,
      );
    }
  }
  throwIfAborted(signal, what);
  const totalFrames = dataset.sequences.reduce((sum, s) => sum + s.frameIds.length - 2, 0);
  const defaultWorkers = Math.max(1, Math.min(availableParallelism(), 16));
  const inline = options.blocking === true && totalFrames <= INLINE_MAX_FRAMES;
  const requested = options.workers ?? (inline ? 0 : Math.min(defaultWorkers, Math.max(1, Math.ceil(totalFrames / 8))));
  const chunkFrames = options.chunkFrames ?? Math.max(4, Math.min(32, Math.ceil(totalFrames / (Math.max(1, requested) * 6))));
  // No more threads than units of work.
  const units = dataset.sequences.reduce((n, s) => n + Math.ceil((s.frameIds.length - 2) / chunkFrames), 0);
  const workers = Math.min(requested, Math.max(units, dataset.sequences.length));

  const pool = new TaskPool(workers, signal, what);
  try {
    // 1. First annotation of every sequence: object count and frame size.
    const headers: HeaderResult[] = new Array<HeaderResult>(dataset.sequences.length);
    const headerTasks: HeaderTask[] = dataset.sequences.map((s) => ({ kind: "header", sequence: s.name, path: s.annotationPaths[0] as string }));
    await pool.runAll(headerTasks, (_t, result, index) => {
      headers[index] = result as HeaderResult;
    });

    // 2. Evaluated frames 1..T-2, in chunks.
    const chunks: Array<ChunkTask & { seqIndex: number; offset: number }> = [];
    dataset.sequences.forEach((seq, seqIndex) => {
      const header = headers[seqIndex] as HeaderResult;
      const last = seq.frameIds.length - 1;
      for (let from = 1; from < last; from += chunkFrames) {
        const to = Math.min(last, from + chunkFrames);
        chunks.push({
          kind: "chunk",
          sequence: seq.name,
          objects: header.objects,
          width: header.width,
          height: header.height,
          resultsDir: join(resultsPath, seq.name),
          frameIds: seq.frameIds.slice(from, to),
          gtPaths: seq.annotationPaths.slice(from, to),
          seqIndex,
          offset: from - 1,
        });
      }
    });
    const perSeq = dataset.sequences.map((seq, i) => {
      const n = seq.frameIds.length - 2;
      const objects = (headers[i] as HeaderResult).objects;
      return { j: new Float64Array(n * objects), f: new Float64Array(n * objects), n, objects };
    });
    let done = 0;
    await pool.runAll(chunks, (chunk, result) => {
      const target = perSeq[chunk.seqIndex] as (typeof perSeq)[number];
      const r = result as ChunkResult;
      target.j.set(r.j, chunk.offset * chunk.objects);
      target.f.set(r.f, chunk.offset * chunk.objects);
      done += chunk.frameIds.length;
      options.onProgress?.(done, totalFrames);
    });

    // 3. Statistics per object, pooled over sequences.
    const objects: DavisObjectResult[] = [];
    const sequences: DavisSequenceResult[] = [];
    dataset.sequences.forEach((seq, i) => {
      const { j, f, n, objects: count } = perSeq[i] as (typeof perSeq)[number];
      const header = headers[i] as HeaderResult;
      sequences.push({ name: seq.name, objects: count, width: header.width, height: header.height, frameIds: seq.frameIds.slice(1, -1) });
      for (let k = 0; k < count; k++) {
        const jk = new Float64Array(n);
        const fk = new Float64Array(n);
        for (let t = 0; t < n; t++) {
          jk[t] = j[t * count + k] as number;
          fk[t] = f[t * count + k] as number;
        }
        const js = dbStatistics(jk);
        const fs = dbStatistics(fk);
        objects.push({
          name: `${seq.name}_${k + 1}`,
          sequence: seq.name,
          object: k + 1,
          jMean: js.mean,
          jRecall: js.recall,
          jDecay: js.decay,
          fMean: fs.mean,
          fRecall: fs.recall,
          fDecay: fs.decay,
          j: jk,
          f: fk,
        });
      }
    });
    const pick = (key: keyof DavisObjectResult) => objects.map((o) => o[key] as number);
    const jMean = npMean(pick("jMean"));
    const fMean = npMean(pick("fMean"));
    const global: DavisGlobalResults = {
      "J&F-Mean": (jMean + fMean) / 2,
      "J-Mean": jMean,
      "J-Recall": npMean(pick("jRecall")),
      "J-Decay": npMean(pick("jDecay")),
      "F-Mean": fMean,
      "F-Recall": npMean(pick("fRecall")),
      "F-Decay": npMean(pick("fDecay")),
    };
    // The last check before the CSVs (nothing awaits from here to the first write).
    throwIfAborted(signal, what);
    const globalCsv = globalResultsCsv(global);
    const perSequenceCsv = perSequenceResultsCsv(objects);
    let files: DavisEvaluation["files"];
    if (options.out !== false) {
      const outDir = resolve(options.out ?? resultsPath);
      files = { global: join(outDir, `global_results-${set}.csv`), perSequence: join(outDir, `per-sequence_results-${set}.csv`) };
      await writeFileAtomic(files.global, globalCsv);
      if (signal?.aborted) {
        // Both CSVs or neither: the one just written goes.
        await rm(files.global, { force: true }).catch(() => undefined);
        throw abortError(signal, what);
      }
      await writeFileAtomic(files.perSequence, perSequenceCsv);
    }
    return {
      set,
      task,
      global,
      objects,
      sequences,
      globalCsv,
      perSequenceCsv,
      files,
      seconds: (performance.now() - started) / 1000,
      workers,
    };
  } catch (error) {
    throw asAbortError(error, signal, what);
  } finally {
    await pool.close();
  }
}

/** `global_results-<set>.csv` text (pandas `to_csv(index=False, float_format="%.3f")`). */
export function globalResultsCsv(global: DavisGlobalResults): string {
  return `${GLOBAL_COLUMNS.join(",")}\n${GLOBAL_COLUMNS.map((c) => formatFixed3(global[c])).join(",")}\n`;
}

/** Quotes a CSV field the way pandas (csv.QUOTE_MINIMAL) does. */
function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `per-sequence_results-<set>.csv` text: `Sequence,J-Mean,F-Mean`, one row per object. */
export function perSequenceResultsCsv(objects: readonly DavisObjectResult[]): string {
  const lines = ["Sequence,J-Mean,F-Mean"];
  for (const o of objects) lines.push(`${csvField(o.name)},${formatFixed3(o.jMean)},${formatFixed3(o.fMean)}`);
  return `${lines.join("\n")}\n`;
}

function table(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => (c === 0 && header[0] === "Sequence" ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** The global and per-object tables as the CLI prints them (values with 3 decimals). */
export function formatDavisTables(evaluation: DavisEvaluation): string {
  const g = evaluation.global;
  const global = table(GLOBAL_COLUMNS, [GLOBAL_COLUMNS.map((c) => formatFixed3(g[c]) || "nan")]);
  const perSeq = table(
    ["Sequence", "J-Mean", "F-Mean"],
    evaluation.objects.map((o) => [o.name, formatFixed3(o.jMean) || "nan", formatFixed3(o.fMean) || "nan"]),
  );
  return (
    `--------------------------- Global results for ${evaluation.set} ---------------------------\n${global}\n\n` +
    `---------- Per sequence results for ${evaluation.set} ----------\n${perSeq}\n`
  );
}
