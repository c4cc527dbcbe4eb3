/**
 * `<out>/study.json`: what a `reproduce` run planned (tables, methods, sequences, models and their
 * SHA-256, options, environment). Written atomically when the run starts, so `stcn report` can
 * rebuild the report of a finished or partial run from the output folder alone.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import type { StudyMethod, StudyModel, StudyTable } from "./tables.js";

export const STUDY_MANIFEST_FORMAT = "stcn-study/1";

/** A model file as the run used it. */
export interface ModelFile {
  path: string;
  sha256: string;
}

/** One method of a planned table. */
export interface PlannedMethod {
  method: StudyMethod;
  /** "run": planned; "skipped": not run, see `reason` (e.g. its model is missing). */
  status: "run" | "skipped";
  reason?: string;
  /** The marker key of its units (see ./marker.ts); absent when skipped. */
  key?: string;
}

/** One planned table. */
export interface PlannedTable {
  table: StudyTable;
  /** The DAVIS(-like) root the table is scored on, and its ImageSets list. */
  root: string;
  set: string;
  sequences: string[];
  methods: PlannedMethod[];
}

/** The machine and library the run used. */
export interface StudyEnvironment {
  libtorch: string;
  device: string;
  threads: number;
  flavour: string;
  node: string;
  cpu: string;
  platform: string;
}

/** The JSON of `study.json`. */
export interface StudyManifest {
  format: typeof STUDY_MANIFEST_FORMAT;
  startedAt: string;
  tables: PlannedTable[];
  models: { stcn: ModelFile } & Partial<Record<StudyModel, ModelFile>>;
  options: { topK: number; memEvery: number; size: number; device: string };
  /** Table 3 inputs, when given. */
  somethingElse?: { annotations: string; annotationsSha256: string; frames: string; videos: string[] };
  environment: StudyEnvironment;
}

export function manifestPath(out: string): string {
  return join(out, "study.json");
}

/** SHA-256 of a file (streamed), hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return hash.digest("hex");
}

export async function writeManifest(out: string, manifest: StudyManifest): Promise<void> {
  await writeFileAtomic(manifestPath(out), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads `<out>/study.json`; ERR_STCN_INPUT when it is missing or not a study manifest. */
export async function readManifest(out: string): Promise<StudyManifest> {
  const path = manifestPath(out);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new StcnError("ERR_STCN_INPUT", `${path} not found: ${out} is not the output folder of stcn reproduce`);
  }
  let manifest: Partial<StudyManifest>;
  try {
    manifest = JSON.parse(text) as Partial<StudyManifest>;
  } catch (error) {
    throw new StcnError("ERR_STCN_INPUT", `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (manifest.format !== STUDY_MANIFEST_FORMAT || !Array.isArray(manifest.tables)) {
    throw new StcnError("ERR_STCN_INPUT", `${path} is not a study manifest (format ${JSON.stringify(manifest.format ?? null)})`);
  }
  return manifest as StudyManifest;
}
