/**
 * `reproduceStudy`: the study's Tables 1-3 in one call, resumable. It plans the tables whose inputs
 * are given, skips (with a reason) every method whose model is missing, builds Table 3's box root with
 * boxes-to-davis, runs every unfinished (table, method, sequence) unit with one STCN model loaded for
 * the whole run (decoding the next sequence while the current one propagates), then evaluates and
 * writes the tables and the report (./report.ts).
 */
import { cpus } from "node:os";
import { readFile, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { boxesToDavis, readSomethingElseAnnotations, type SomethingElseAnnotations } from "../davis/boxes-to-davis.js";
import { openDavis, type DavisDataset } from "../davis/reader.js";
import { isAbortError, signalOption } from "../abort.js";
import { StcnError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { readRgb, type RgbImage } from "../io/image.js";
import { loadModule, type Module } from "../module.js";
import { runtimeInfo } from "../runtime.js";
import { Stcn } from "../stcn/stcn.js";
import { doneUnit, unitKey, type UnitConfig } from "./marker.js";
import { readManifest, sha256File, writeManifest, type ModelFile, type PlannedMethod, type PlannedTable, type StudyManifest, STUDY_MANIFEST_FORMAT } from "./manifest.js";
import { writeStudyReport, type ReportEvent, type StudyReport } from "./report.js";
import { isStudyTable, modelOf, STUDY_METHODS, TABLE_METHODS, type StudyMethod, type StudyModel, type StudyTable } from "./tables.js";
import { runStudyUnit, type StudySource, type StudyUnit, type StudyUnitOutcome } from "./unit.js";

/** Options of {@link reproduceStudy}. */
export interface ReproduceStudyOptions {
  /** Output root (see the README's "Reproduce the study" for the layout). */
  out: string;
  /** Tables to run (default: every table whose inputs are given: `davisRoot` -> 1 and 2, `somethingElse` -> 3). */
  tables?: readonly StudyTable[];
  /** DAVIS 2017 root for Tables 1 and 2. */
  davisRoot?: string;
  /** DAVIS ImageSets list (default "val"). */
  set?: string;
  /** Only these DAVIS sequences (default: the whole set). */
  sequences?: readonly string[];
  /** Table 3 inputs: Something-Else `annotations.json`, the original frames (`<frames>/<video>/<NNNN>.jpg`), optional video subset. */
  somethingElse?: { annotations: string; frames: string; videos?: readonly string[] };
  /** STCN TorchScript (stcn export stcn). */
  stcn: string;
  /** First-frame models; a method whose model is not given (or not found) is skipped with a reason. */
  maskrcnn?: string;
  pointrend?: string;
  dino?: string;
  /** Only these methods (default: all of each table). */
  methods?: readonly StudyMethod[];
  device?: string;
  /** STCN options (the study's: top-k 20, memory every 5 frames, working size 480). */
  topK?: number;
  memEvery?: number;
  size?: number;
  /** Redo finished units too. */
  force?: boolean;
  /** Aborting stops at the next frame boundary: the unfinished unit leaves no marker; rejects with AbortError. */
  signal?: AbortSignal;
  /** Progress events (no console output in the library). */
  onEvent?: (event: StudyEvent) => void;
}

/** A planned unit, as announced in the `plan` event. */
export interface PlannedUnit extends StudyUnit {
  /** Frames of the sequence. */
  frames: number;
  /** Already done (will be skipped) unless `force`. */
  done: boolean;
}

/** Progress of {@link reproduceStudy}. */
export type StudyEvent =
  | { type: "method-skipped"; table: StudyTable; method: StudyMethod; reason: string }
  | { type: "box-root"; root: string; videos: number; reused: boolean }
  | { type: "plan"; tables: PlannedTable[]; units: PlannedUnit[] }
  | { type: "unit-start"; unit: PlannedUnit; index: number; count: number }
  | { type: "frame"; unit: PlannedUnit; done: number; total: number }
  | { type: "unit-done"; unit: PlannedUnit; outcome: StudyUnitOutcome; index: number; count: number }
  | { type: "warning"; message: string }
  | ReportEvent;

/** What {@link reproduceStudy} returns. */
export interface StudyResult {
  report: StudyReport;
  /** Every unit, computed now or skipped as already done. */
  units: StudyUnitOutcome[];
}

const PREFETCH_FRAMES = 8;

function positive(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new StcnError("ERR_STCN_ARGUMENT", `${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function tablesOf(options: ReproduceStudyOptions): StudyTable[] {
  if (options.tables) {
    if (options.tables.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "tables is empty: name 1, 2 and/or 3");
    for (const t of options.tables) if (!isStudyTable(t)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown table ${String(t)}: the study has tables 1, 2 and 3`);
    const tables = [...new Set(options.tables)].sort();
    if ((tables.includes(1) || tables.includes(2)) && !options.davisRoot) {
      throw new StcnError("ERR_STCN_ARGUMENT", `table ${tables.includes(1) ? 1 : 2} needs a DAVIS 2017 root (--davis)`);
    }
    if (tables.includes(3) && !options.somethingElse) {
      throw new StcnError("ERR_STCN_ARGUMENT", "table 3 needs the Something-Else boxes (--something-else annotations.json --something-frames DIR)");
    }
    return tables;
  }
  const tables: StudyTable[] = [];
  if (options.davisRoot) tables.push(1, 2);
  if (options.somethingElse) tables.push(3);
  if (tables.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "nothing to reproduce: give --davis (Tables 1, 2) and/or --something-else with --something-frames (Table 3)");
  return tables;
}

/** Builds (or reuses) `<out>/something-root` with boxes-to-davis; its stamp records what it was built from. */
async function boxRoot(
  out: string,
  input: { annotations: string; frames: string },
  videos: string[],
  annotationsSha256: string,
  onEvent?: (e: StudyEvent) => void,
): Promise<string> {
  const root = join(out, "something-root");
  const stampPath = join(root, ".built.json");
  const stamp = JSON.stringify({ annotationsSha256, frames: resolve(input.frames), videos });
  let reused = false;
  try {
    reused = (await readFile(stampPath, "utf8")) === stamp;
  } catch {
    reused = false;
  }
  if (!reused) {
    await rm(root, { recursive: true, force: true });
    await boxesToDavis({ annotations: input.annotations, frames: input.frames, out: root, videos, set: "val" });
    await writeFileAtomic(stampPath, stamp);
  }
  onEvent?.({ type: "box-root", root, videos: videos.length, reused });
  return root;
}

function decodeAhead(paths: readonly string[]): Promise<RgbImage[] | undefined> {
  // Errors are not swallowed: the unit decodes the same files itself and reports the bad one.
  return Promise.all(paths.slice(0, PREFETCH_FRAMES).map((p) => readRgb(p))).catch(() => undefined);
}

/**
 * A planned run: what {@link planStudy} checked, resolved and wrote (`study.json`) before any unit
 * runs. `reproduceStudy` runs its units in this process; a job queue (`submitRun`) sends them to workers.
 */
export interface StudyPlan {
  /** Output root (absolute). */
  out: string;
  tables: PlannedTable[];
  /** Every unit of the planned methods, in table, method, sequence order. */
  units: PlannedUnit[];
  /** Marker configuration of each planned (table, method), keyed `"<table>/<method>"`. */
  configs: Map<string, UnitConfig>;
  /** Where each table's sequences come from. */
  sources: Map<StudyTable, StudySource>;
  datasets: Map<StudyTable, DavisDataset>;
  /** The models with their absolute paths and SHA-256 (only those the run uses). */
  models: StudyManifest["models"];
  manifest: StudyManifest;
  topK: number;
  memEvery: number;
  size: number;
  device: string;
}

/**
 * Checks the options, hashes the models, opens the datasets (building Table 3's box root), plans the
 * units (skipping methods without their model) and writes `study.json`. Emits `method-skipped`,
 * `box-root` and `plan` events. Computes nothing.
 */
export async function planStudy(options: Omit<ReproduceStudyOptions, "signal">): Promise<StudyPlan> {
  const onEvent = options.onEvent;
  const out = resolve(options.out);
  const device = options.device ?? "cpu";
  const topK = positive("topK", options.topK ?? 20, 1);
  const memEvery = positive("memEvery", options.memEvery ?? 5, 1);
  const size = positive("size", options.size ?? 480, 0);
  const tables = tablesOf(options);
  if (options.methods) {
    if (options.methods.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "methods is empty: name gt, maskrcnn, pointrend, lost-crf and/or lost");
    for (const m of options.methods) if (!STUDY_METHODS.includes(m)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown method ${String(m)} (${STUDY_METHODS.join(", ")})`);
  }
  if (!(await isFile(options.stcn))) throw new StcnError("ERR_STCN_MODEL_NOT_FOUND", `STCN model not found: ${options.stcn}`);

  // Table 3 inputs are checked before anything runs.
  let annotations: SomethingElseAnnotations | undefined;
  let videos: string[] = [];
  let annotationsSha256 = "";
  if (tables.includes(3) && options.somethingElse) {
    const se = options.somethingElse;
    annotations = await readSomethingElseAnnotations(se.annotations);
    if (se.videos) {
      if (se.videos.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "the videos list is empty: name at least one video of the annotations (or leave it out for all)");
      for (const v of se.videos) if (!annotations.has(v)) throw new StcnError("ERR_STCN_ARGUMENT", `unknown video "${v}": not in ${se.annotations}`);
      videos = [...new Set(se.videos)];
    } else videos = [...annotations.keys()];
    if (videos.length === 0) throw new StcnError("ERR_STCN_INPUT", `${se.annotations} holds no videos`);
    annotationsSha256 = await sha256File(se.annotations);
  }

  // Models: a missing one skips its methods.
  const modelPaths: Record<StudyModel, string | undefined> = { maskrcnn: options.maskrcnn, pointrend: options.pointrend, dino: options.dino };
  const models: StudyManifest["models"] = { stcn: { path: resolve(options.stcn), sha256: await sha256File(options.stcn) } };
  const modelProblem: Partial<Record<StudyModel, string>> = {};
  for (const name of ["maskrcnn", "pointrend", "dino"] as const) {
    const path = modelPaths[name];
    const needed = tables.some((t) => TABLE_METHODS[t].some((m) => modelOf(m) === name && (!options.methods || options.methods.includes(m))));
    if (!needed) continue;
    if (!path) modelProblem[name] = `no ${name} model given (--${name})`;
    else if (!(await isFile(path))) modelProblem[name] = `${name} model not found: ${path}`;
    else models[name] = { path: resolve(path), sha256: await sha256File(path) } satisfies ModelFile;
  }

  // Datasets.
  const sources = new Map<StudyTable, StudySource>();
  const datasets = new Map<StudyTable, DavisDataset>();
  if (tables.includes(1) || tables.includes(2)) {
    const set = options.set ?? "val";
    const dataset = await openDavis(resolve(options.davisRoot as string), { set, ...(options.sequences ? { sequences: options.sequences } : {}) });
    for (const t of [1, 2] as const) {
      if (!tables.includes(t)) continue;
      sources.set(t, { kind: "davis", root: dataset.root, set });
      datasets.set(t, dataset);
    }
  }
  if (annotations && options.somethingElse) {
    const root = await boxRoot(out, options.somethingElse, videos, annotationsSha256, onEvent);
    datasets.set(3, await openDavis(root, { set: "val" }));
    sources.set(3, { kind: "boxes", root, set: "val", annotations, frames: resolve(options.somethingElse.frames) });
  }

  // Plan: methods (skipped ones with a reason), unit keys, units.
  const planned: PlannedTable[] = [];
  const units: PlannedUnit[] = [];
  const configs = new Map<string, UnitConfig>();
  for (const table of tables) {
    const source = sources.get(table) as StudySource;
    const dataset = datasets.get(table) as DavisDataset;
    const methods: PlannedMethod[] = [];
    for (const method of TABLE_METHODS[table]) {
      if (options.methods && !options.methods.includes(method)) continue;
      const model = modelOf(method);
      const problem = model ? modelProblem[model] : undefined;
      if (problem) {
        methods.push({ method, status: "skipped", reason: problem });
        onEvent?.({ type: "method-skipped", table, method, reason: problem });
        continue;
      }
      const config: UnitConfig = {
        stcn: models.stcn.sha256,
        ...(model ? { annotator: (models[model] as ModelFile).sha256 } : {}),
        topK,
        memEvery,
        size,
        device,
        root: source.root,
        set: source.set,
        ...(table === 3 ? { annotations: annotationsSha256 } : {}),
      };
      const key = unitKey(config);
      configs.set(`${table}/${method}`, config);
      methods.push({ method, status: "run", key });
      for (const seq of dataset.sequences) {
        const done = !options.force && (await doneUnit(out, table, method, seq.name, key)) !== undefined;
        units.push({ table, method, sequence: seq.name, frames: seq.imagePaths.length, done });
      }
    }
    planned.push({ table, root: source.root, set: source.set, sequences: dataset.sequences.map((s) => s.name), methods });
  }

  const info = runtimeInfo();
  const manifest: StudyManifest = {
    format: STUDY_MANIFEST_FORMAT,
    startedAt: new Date().toISOString(),
    tables: planned,
    models,
    options: { topK, memEvery, size, device },
    ...(options.somethingElse ? { somethingElse: { annotations: resolve(options.somethingElse.annotations), annotationsSha256, frames: resolve(options.somethingElse.frames), videos } } : {}),
    environment: {
      libtorch: info.libtorch,
      device,
      threads: info.threads,
      flavour: info.flavour,
      node: info.node,
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      platform: `${process.platform}-${process.arch}`,
    },
  };
  // Tables planned by an earlier run into the same folder (and not planned now) stay in the report.
  const previous = await readManifest(out).catch(() => undefined);
  if (previous) {
    manifest.tables = [...previous.tables.filter((t) => !tables.includes(t.table)), ...planned].sort((a, b) => a.table - b.table);
    manifest.models = { ...previous.models, ...models };
    if (!manifest.somethingElse && previous.somethingElse && manifest.tables.some((t) => t.table === 3)) manifest.somethingElse = previous.somethingElse;
  }
  await writeManifest(out, manifest);
  onEvent?.({ type: "plan", tables: planned, units });
  return { out, tables: planned, units, configs, sources, datasets, models, manifest, topK, memEvery, size, device };
}

/** Runs the study (see the module comment). Resumable: finished units are skipped unless `force`. */
export async function reproduceStudy(options: ReproduceStudyOptions): Promise<StudyResult> {
  const onEvent = options.onEvent;
  const { out, units, configs, sources, datasets, models, manifest, topK, memEvery, size, device } = await planStudy(options);
  const outcomes: StudyUnitOutcome[] = [];
  // One STCN for the whole run (loaded at the first unit to compute); one first-frame model per method.
  let stcn: Stcn | undefined;
  let annotator: { name: string; module: Module } | undefined;
  let ahead: { unit: PlannedUnit; frames: Promise<RgbImage[] | undefined> } | undefined;
  try {
    for (let i = 0; i < units.length; i++) {
      const unit = units[i] as PlannedUnit;
      const config = configs.get(`${unit.table}/${unit.method}`) as UnitConfig;
      onEvent?.({ type: "unit-start", unit, index: i, count: units.length });
      if (unit.done) {
        const marker = await doneUnit(out, unit.table, unit.method, unit.sequence, unitKey(config));
        if (marker) {
          const outcome: StudyUnitOutcome = { table: unit.table, method: unit.method, sequence: unit.sequence, status: "skipped", marker };
          outcomes.push(outcome);
          onEvent?.({ type: "unit-done", unit, outcome, index: i, count: units.length });
          continue;
        }
      }
      const model = modelOf(unit.method);
      const name = `${unit.table}/${unit.method}`;
      if (model && annotator?.name !== name) {
        annotator?.module.dispose();
        annotator = undefined;
        const path = (models[model] as ModelFile).path;
        annotator = { name, module: await loadModule(path, { device }) };
        const declared = annotator.module.metadata?.model;
        if (model !== "dino" && (declared === "maskrcnn" || declared === "pointrend") && declared !== model) {
          throw new StcnError("ERR_STCN_ARGUMENT", `--${model} ${path} holds a ${declared} model`);
        }
      }
      const preloaded = ahead?.unit === unit ? await ahead.frames : undefined;
      // Decode the next unfinished sequence while this one propagates.
      const next = units.slice(i + 1).find((u) => !u.done);
      const nextPaths = next ? ((datasets.get(next.table) as DavisDataset).sequences.find((s) => s.name === next.sequence)?.imagePaths ?? []) : [];
      ahead = next ? { unit: next, frames: decodeAhead(nextPaths) } : undefined;
      const outcome = await runStudyUnit(unit, {
        out,
        source: sources.get(unit.table) as StudySource,
        stcn: async () => (stcn ??= await Stcn.load(options.stcn, { device })),
        ...(model && annotator ? { annotator: annotator.module } : {}),
        config,
        topK,
        memEvery,
        size,
        ...(options.force ? { force: true, runStartedAt: manifest.startedAt } : {}),
        ...signalOption(options.signal),
        ...(preloaded ? { preloaded } : {}),
        onFrame: (done, total) => onEvent?.({ type: "frame", unit, done, total }),
      });
      for (const w of outcome.status === "computed" ? outcome.marker.warnings : []) {
        onEvent?.({ type: "warning", message: `table ${unit.table} ${unit.method} ${unit.sequence}: ${w}` });
      }
      outcomes.push(outcome);
      onEvent?.({ type: "unit-done", unit, outcome, index: i, count: units.length });
    }
  } catch (error) {
    // An interrupted run still leaves an up-to-date (partial) report.
    if (isAbortError(error)) await writeStudyReport(out).catch(() => undefined);
    throw error;
  } finally {
    annotator?.module.dispose();
    stcn?.dispose();
  }
  const report = await writeStudyReport(out, { ...(onEvent ? { onEvent } : {}) });
  return { report, units: outcomes };
}
