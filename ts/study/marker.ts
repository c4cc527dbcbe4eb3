/**
 * Done markers of study units. A unit is one (table, method, sequence); when it has written every
 * result frame (each atomically) it writes its marker last, atomically:
 *
 *   `<out>/table-<N>/<method>/.done/<sequence>.json`
 *
 * The marker is {@link UnitMarker} (format `stcn-study-unit/1`). A unit counts as done when its
 * marker parses, its `key` equals the key of the current configuration (models' SHA-256, STCN options,
 * device, dataset root) and every file it lists exists. Anything else means "not done": the unit's
 * folder is cleared and recomputed. Other runners (a job queue) may reuse these functions to share
 * the same notion of "done".
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import type { StudyMethod, StudyTable } from "./tables.js";

export const UNIT_MARKER_FORMAT = "stcn-study-unit/1";

/** What a unit's result depends on; its SHA-256 is the marker's key. */
export interface UnitConfig {
  /** SHA-256 of the STCN model file. */
  stcn: string;
  /** SHA-256 of the first-frame model (detector or DINO); absent for gt. */
  annotator?: string;
  topK: number;
  memEvery: number;
  size: number;
  device: string;
  /** The dataset root the frames come from (absolute path) and its set. */
  root: string;
  set: string;
  /** Table 3: SHA-256 of annotations.json (the GT boxes the first frames and the box root come from). */
  annotations?: string;
}

/** The JSON of a done marker. */
export interface UnitMarker {
  format: typeof UNIT_MARKER_FORMAT;
  table: StudyTable;
  method: StudyMethod;
  sequence: string;
  /** SHA-256 of {@link UnitConfig} as canonical JSON. */
  key: string;
  config: UnitConfig;
  /** Result frames written, `<sequence>/<name>` relative to the method folder. */
  files: string[];
  /** First-frame mask, relative to the method folder (`first-frames/<sequence>.png`). */
  firstFrame: string;
  /** Frames propagated (frame 0 included). */
  frames: number;
  /** First-frame annotation time (0 for gt), ms. */
  firstFrameMs: number;
  /** Propagation seconds as the official STCN code counts them (IO excluded). */
  propagationSeconds: number;
  /** Wall seconds of the whole unit (annotation, decoding, propagation, writing). */
  totalSeconds: number;
  /** Warnings of the first-frame method (e.g. a GT object without a detection). */
  warnings: string[];
  /** Set when the files were copied from the identical unit of this other table (timings are the twin's). */
  reusedFrom?: StudyTable;
  finishedAt: string;
}

/** The key of a configuration: SHA-256 of its JSON with sorted keys. */
export function unitKey(config: UnitConfig): string {
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash("sha256").update(JSON.stringify(sorted)).digest("hex");
}

/** `<out>/table-<N>/<method>`: the DAVIS-layout results folder of one method. */
export function methodDir(out: string, table: StudyTable, method: StudyMethod): string {
  return join(out, `table-${table}`, method);
}

/** The marker path of a unit. */
export function markerPath(out: string, table: StudyTable, method: StudyMethod, sequence: string): string {
  return join(methodDir(out, table, method), ".done", `${sequence}.json`);
}

/** Reads a unit's marker; undefined when it is absent or not a marker of this format. */
export async function readUnitMarker(out: string, table: StudyTable, method: StudyMethod, sequence: string): Promise<UnitMarker | undefined> {
  let text: string;
  try {
    text = await readFile(markerPath(out, table, method, sequence), "utf8");
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Partial<UnitMarker>;
    if (m.format !== UNIT_MARKER_FORMAT || m.table !== table || m.method !== method || m.sequence !== sequence) return undefined;
    if (!Array.isArray(m.files) || typeof m.key !== "string" || typeof m.frames !== "number") return undefined;
    return m as UnitMarker;
  } catch {
    return undefined;
  }
}

/** The marker of a finished unit whose key is `key` and whose files all exist; undefined otherwise. */
export async function doneUnit(out: string, table: StudyTable, method: StudyMethod, sequence: string, key?: string): Promise<UnitMarker | undefined> {
  const marker = await readUnitMarker(out, table, method, sequence);
  if (!marker || (key !== undefined && marker.key !== key)) return undefined;
  const dir = methodDir(out, table, method);
  for (const file of [...marker.files, marker.firstFrame]) {
    try {
      if (!(await stat(join(dir, file))).isFile()) return undefined;
    } catch {
      return undefined;
    }
  }
  return marker;
}

/** Writes a unit's marker (atomically; call it after every result file is in place). */
export async function writeUnitMarker(out: string, marker: UnitMarker): Promise<void> {
  await writeFileAtomic(markerPath(out, marker.table, marker.method, marker.sequence), `${JSON.stringify(marker, null, 2)}\n`);
}
