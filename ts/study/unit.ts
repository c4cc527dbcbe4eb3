/**
 * One unit of the study: (table, method, sequence) -> the first frame, the propagated result frames
 * and, written last, the done marker (see ./marker.ts). Units are independent: any runner (the
 * `reproduce` loop, a job queue) can run them in any order, and a unit that finds its marker (same
 * configuration key, every file present) does nothing.
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { AbortError, signalOption } from "../abort.js";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import type { RgbImage } from "../io/image.js";
import type { SomethingElseAnnotations, SomethingElseFrame } from "../davis/boxes-to-davis.js";
import type { Module } from "../module.js";
import { segmentFolder, type SegmentFolderResult } from "../stcn/segment.js";
import type { Stcn } from "../stcn/stcn.js";
import { listFrames } from "../stcn/video.js";
import { boxFirstFrame, maskFirstFrame, type FirstFrame } from "./first-frame.js";
import { doneUnit, methodDir, markerPath, UNIT_MARKER_FORMAT, unitKey, writeUnitMarker, type UnitConfig, type UnitMarker } from "./marker.js";
import { STUDY_TABLES, type StudyMethod, type StudyTable } from "./tables.js";

/** Where a table's sequences come from. */
export type StudySource =
  /** Tables 1 and 2: a DAVIS 2017 root (JPEGImages/480p, Annotations/480p). */
  | { kind: "davis"; root: string; set: string }
  /**
   * Table 3: the box root boxes-to-davis built (480p frames and GT box masks), the parsed
   * annotations.json and the folder of the original frames (`<frames>/<record name>`).
   */
  | { kind: "boxes"; root: string; set: string; annotations: SomethingElseAnnotations; frames: string };

/** Everything a unit needs besides its (table, method, sequence). */
export interface StudyUnitContext {
  /** The study's output root. */
  out: string;
  source: StudySource;
  /** The loaded STCN (one per run, shared by every unit), or a loader called only when the unit propagates. */
  stcn: Stcn | (() => Promise<Stcn>);
  /** The loaded first-frame model: detector for maskrcnn/pointrend, DINO for lost/lost-crf. */
  annotator?: Module;
  /** What the results depend on (its hash is the marker key). */
  config: UnitConfig;
  /** STCN options. */
  topK: number;
  memEvery: number;
  size: number;
  /** Recompute even when the unit is done (an identical unit of another table is then reused only if it finished after `runStartedAt`). */
  force?: boolean;
  /** ISO time the run started (with `force`: which twins count as redone in this run). */
  runStartedAt?: string;
  /** Stops at the next frame boundary (the unit then rejects with AbortError and writes no marker). */
  signal?: AbortSignal;
  /** Frames of this sequence decoded ahead (frame 0 first), e.g. while the previous unit ran. */
  preloaded?: readonly RgbImage[];
  /** Called after each propagated frame: (frames done, frames in the sequence). */
  onFrame?: (done: number, total: number) => void;
}

/** One unit. */
export interface StudyUnit {
  table: StudyTable;
  method: StudyMethod;
  sequence: string;
}

/** What {@link runStudyUnit} did. */
export interface StudyUnitOutcome extends StudyUnit {
  /**
   * "skipped": already done (marker found); "computed": run now; "reused": copied from the identical
   * unit of another table (same method, sequence and key: Tables 1 and 2 share their `gt` units).
   */
  status: "skipped" | "computed" | "reused";
  marker: UnitMarker;
}

/** The record of the first annotated frame of a Something-Else video (lowest frame number). */
export function firstRecord(annotations: SomethingElseAnnotations, video: string): SomethingElseFrame {
  const records = annotations.get(video);
  if (!records || records.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", `unknown video "${video}": not in the annotations`);
  return records.reduce((a, b) => (b.frame < a.frame ? b : a));
}

/** The folder of a sequence's 480p frames. */
export function sequenceFrames(source: StudySource, sequence: string): string {
  return join(source.root, "JPEGImages", "480p", sequence);
}

async function firstFrameOf(unit: StudyUnit, ctx: StudyUnitContext): Promise<FirstFrame> {
  const { source } = ctx;
  if (source.kind === "davis") {
    if (unit.method === "lost") throw new StcnError("ERR_STCN_ARGUMENT", "method lost (boxes) belongs to Table 3; Table 2 uses lost-crf");
    const frames = await listFrames(sequenceFrames(source, unit.sequence));
    const annotations = await listFrames(join(source.root, "Annotations", "480p", unit.sequence));
    const frame0 = ctx.preloaded?.[0] ?? (frames[0] as { path: string }).path;
    return maskFirstFrame({ method: unit.method, frame: frame0, gtMask: (annotations[0] as { path: string }).path, ...(ctx.annotator ? { model: ctx.annotator } : {}), ...signalOption(ctx.signal) });
  }
  if (unit.method === "lost-crf") throw new StcnError("ERR_STCN_ARGUMENT", "method lost-crf (masks) belongs to Table 2; Table 3 uses lost (boxes)");
  const record = firstRecord(source.annotations, unit.sequence);
  const stem = String(record.frame - 1).padStart(5, "0");
  return boxFirstFrame({
    method: unit.method,
    frame: join(source.frames, record.name),
    gtBoxes: record.labels,
    gtMask: join(source.root, "Annotations", "480p", unit.sequence, `${stem}.png`),
    ...(ctx.annotator ? { model: ctx.annotator } : {}),
    ...signalOption(ctx.signal),
  });
}

// The study's AbortError: its message tells how to resume.
function interrupted(signal: AbortSignal | undefined): AbortError {
  return new AbortError("interrupted; rerun the same command to resume from the next unfinished sequence", { cause: signal?.reason });
}

/**
 * Runs one unit: unless it is done (or `force`), clears its folder, writes the first frame
 * (`first-frames/<sequence>.png`) and every result frame (`<sequence>/<frame>.png`), each atomically,
 * then the done marker.
 */
export async function runStudyUnit(spec: StudyUnit, ctx: StudyUnitContext): Promise<StudyUnitOutcome> {
  const unit: StudyUnit = { table: spec.table, method: spec.method, sequence: spec.sequence };
  const key = unitKey(ctx.config);
  if (!ctx.force) {
    const marker = await doneUnit(ctx.out, unit.table, unit.method, unit.sequence, key);
    if (marker) return { ...unit, status: "skipped", marker };
  }
  if (ctx.signal?.aborted) throw interrupted(ctx.signal);
  const t0 = performance.now();
  const dir = methodDir(ctx.out, unit.table, unit.method);
  const seqDir = join(dir, unit.sequence);
  const firstPath = join(dir, "first-frames", `${unit.sequence}.png`);
  // A unit is redone from scratch: no frame of an earlier (interrupted or outdated) attempt survives.
  await rm(markerPath(ctx.out, unit.table, unit.method, unit.sequence), { force: true });
  await rm(seqDir, { recursive: true, force: true });
  await rm(firstPath, { force: true });

  // Tables 1 and 2 run the same gt units: a done twin with the same key is copied, not recomputed.
  for (const other of STUDY_TABLES) {
    if (other === unit.table) continue;
    const twin = await doneUnit(ctx.out, other, unit.method, unit.sequence, key);
    if (!twin || (ctx.force && !(ctx.runStartedAt !== undefined && twin.finishedAt >= ctx.runStartedAt))) continue;
    const from = methodDir(ctx.out, other, unit.method);
    for (const file of [twin.firstFrame, ...twin.files]) await writeFileAtomic(join(dir, file), await readFile(join(from, file)));
    const marker: UnitMarker = { ...twin, ...unit, reusedFrom: other, finishedAt: new Date().toISOString() };
    await writeUnitMarker(ctx.out, marker);
    return { ...unit, status: "reused", marker };
  }

  const first = await firstFrameOf(unit, ctx).catch((error: unknown) => {
    throw ctx.signal?.aborted ? interrupted(ctx.signal) : error;
  });
  await writeFileAtomic(firstPath, first.png);
  let result: SegmentFolderResult;
  try {
    result = await segmentUnit(unit, ctx, firstPath, seqDir);
  } catch (error) {
    // An unfinished unit leaves no files: segmentFolder removed its frames, the first frame goes too.
    await rm(firstPath, { force: true }).catch(() => undefined);
    throw error;
  }
  const files = (await listFrames(seqDir)).map((f) => `${unit.sequence}/${f.stem}.png`);
  if (files.length !== result.frames) {
    throw new StcnError("ERR_STCN_INTERNAL", `${unit.sequence}: ${result.frames} frames propagated but ${files.length} written`);
  }
  const marker: UnitMarker = {
    format: UNIT_MARKER_FORMAT,
    ...unit,
    key,
    config: ctx.config,
    files,
    firstFrame: `first-frames/${unit.sequence}.png`,
    frames: result.frames,
    firstFrameMs: first.ms,
    propagationSeconds: result.computeSeconds,
    totalSeconds: (performance.now() - t0) / 1000,
    warnings: first.warnings,
    finishedAt: new Date().toISOString(),
  };
  await writeUnitMarker(ctx.out, marker);
  return { ...unit, status: "computed", marker };
}

/** The unit's propagation into `seqDir` (a failed run leaves none of its frames there). */
async function segmentUnit(unit: StudyUnit, ctx: StudyUnitContext, firstPath: string, seqDir: string): Promise<SegmentFolderResult> {
  if (ctx.signal?.aborted) throw interrupted(ctx.signal);
  const stcn = typeof ctx.stcn === "function" ? await ctx.stcn() : ctx.stcn;
  return segmentFolder(stcn, {
    frames: sequenceFrames(ctx.source, unit.sequence),
    mask: firstPath,
    out: seqDir,
    topK: ctx.topK,
    memEvery: ctx.memEvery,
    size: ctx.size,
    ...(ctx.preloaded ? { preloaded: ctx.preloaded } : {}),
    ...signalOption(ctx.signal),
    onFrame: (frame, total) => ctx.onFrame?.(frame.index + 1, total),
  }).catch((error: unknown) => {
    throw ctx.signal?.aborted ? interrupted(ctx.signal) : error;
  });
}
