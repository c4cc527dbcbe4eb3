/**
 * The study's report, rebuilt from an output folder alone (`study.json`, the done markers, the
 * evaluations): `table-N.csv` per table, `report.md`, `report.json` and `chart.svg` (J&F per method,
 * ours beside the study's). A method whose sequences are all done is evaluated with the DAVIS
 * evaluator (its CSVs go to its folder, as `stcn evaluate` writes them) unless an evaluation of exactly
 * those units is already stored; other methods are reported as partial, skipped or not run.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { evaluateDavis, type DavisGlobalResults } from "../davis/evaluate.js";
import { formatFixed3 } from "../davis/statistics.js";
import { writeFileAtomic } from "../io/atomic.js";
import { renderBarChartSvg, type BarDatum } from "./chart.js";
import { readManifest, type PlannedTable, type StudyManifest } from "./manifest.js";
import { doneUnit, methodDir, type UnitMarker } from "./marker.js";
import { methodTitle, PUBLISHED, TABLE_CSV_COLUMNS, TABLE_METHODS, TABLE_TITLES, type PublishedRow, type StudyMethod, type StudyTable } from "./tables.js";

/** Per-sequence scores of a method (fractions): means over the sequence's objects. */
export interface SequenceScore {
  sequence: string;
  jf: number;
  j: number;
  f: number;
}

/** One row of a table. */
export interface StudyRow<M extends StudyMethod = StudyMethod> {
  table: StudyTable;
  method: M;
  title: string;
  /**
   * "done": every sequence propagated and evaluated; "partial": some sequences missing (an interrupted
   * or running study); "skipped": not run (see `reason`, e.g. its model was not given); "not-run": not
   * part of the run (methods filter).
   */
  status: "done" | "partial" | "skipped" | "not-run";
  reason?: string;
  sequences: number;
  sequencesDone: number;
  /** Frames propagated over the done sequences. */
  frames: number;
  /** The DAVIS global results (fractions), when done. */
  global?: DavisGlobalResults;
  /** Propagation FPS as the official STCN code counts it (IO and first-frame annotation excluded). */
  fps?: number;
  /** Frames / wall seconds of the units (annotation, decoding, propagation, writing). */
  endToEndFps?: number;
  /** Mean first-frame annotation time per sequence, ms (0 for gt). */
  firstFrameMs?: number;
  perSequence: SequenceScore[];
  published?: PublishedRow;
  warnings: string[];
}

export type Table1Row = StudyRow<"gt">;
export type Table2Row = StudyRow<"gt" | "maskrcnn" | "pointrend" | "lost-crf">;
export type Table3Row = StudyRow<"gt" | "maskrcnn" | "pointrend" | "lost">;

/** One table of the report. */
export interface StudyTableReport {
  table: StudyTable;
  title: string;
  root: string;
  set: string;
  sequences: string[];
  rows: StudyRow[];
  /** `table-N.csv` text. */
  csv: string;
}

/** `report.json`. */
export interface StudyReport {
  format: "stcn-study-report/1";
  generatedAt: string;
  /** True when every planned (not skipped) method of every table is done. */
  complete: boolean;
  tables: StudyTableReport[];
  manifest: StudyManifest;
}

/** Progress of {@link buildStudyReport}. */
export type ReportEvent = { type: "evaluate"; table: StudyTable; method: StudyMethod; sequences: number };

const EVALUATION_FORMAT = "stcn-study-eval/1";

interface StoredEvaluation {
  format: typeof EVALUATION_FORMAT;
  /** Which unit results were evaluated (sequence:finishedAt of each marker). */
  units: string;
  global: DavisGlobalResults;
  perSequence: SequenceScore[];
}

function fingerprint(markers: readonly UnitMarker[]): string {
  return markers.map((m) => `${m.sequence}:${m.finishedAt}`).join("|");
}

async function storedEvaluation(dir: string, units: string): Promise<StoredEvaluation | undefined> {
  try {
    const e = JSON.parse(await readFile(join(dir, "evaluation.json"), "utf8")) as StoredEvaluation;
    return e.format === EVALUATION_FORMAT && e.units === units ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Evaluates a method's results folder (writing the toolkit's CSVs there) unless already stored. */
async function evaluation(out: string, plan: PlannedTable, method: StudyMethod, markers: readonly UnitMarker[], onEvent?: (e: ReportEvent) => void): Promise<StoredEvaluation> {
  const dir = methodDir(out, plan.table, method);
  const units = fingerprint(markers);
  const stored = await storedEvaluation(dir, units);
  if (stored) return stored;
  onEvent?.({ type: "evaluate", table: plan.table, method, sequences: plan.sequences.length });
  const result = await evaluateDavis({ davisRoot: plan.root, resultsPath: dir, set: plan.set, sequences: plan.sequences, out: dir });
  const perSequence = plan.sequences.map((sequence): SequenceScore => {
    const objects = result.objects.filter((o) => o.sequence === sequence);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const j = mean(objects.map((o) => o.jMean));
    const f = mean(objects.map((o) => o.fMean));
    return { sequence, jf: (j + f) / 2, j, f };
  });
  const e: StoredEvaluation = { format: EVALUATION_FORMAT, units, global: result.global, perSequence };
  await writeFileAtomic(join(dir, "evaluation.json"), `${JSON.stringify(e, null, 2)}\n`);
  return e;
}

async function rowOf(out: string, plan: PlannedTable, method: StudyMethod, onEvent?: (e: ReportEvent) => void): Promise<StudyRow> {
  const planned = plan.methods.find((m) => m.method === method);
  const published = PUBLISHED[plan.table][method];
  const base = {
    table: plan.table,
    method,
    title: methodTitle(plan.table, method),
    sequences: plan.sequences.length,
    sequencesDone: 0,
    frames: 0,
    perSequence: [] as SequenceScore[],
    warnings: [] as string[],
    ...(published ? { published } : {}),
  };
  if (!planned) return { ...base, status: "not-run", reason: "not part of this run" };
  if (planned.status === "skipped" || planned.key === undefined) return { ...base, status: "skipped", reason: planned.reason ?? "skipped" };
  const markers: UnitMarker[] = [];
  for (const sequence of plan.sequences) {
    const marker = await doneUnit(out, plan.table, method, sequence, planned.key);
    if (marker) markers.push(marker);
  }
  const frames = markers.reduce((n, m) => n + m.frames, 0);
  const warnings = markers.flatMap((m) => m.warnings.map((w) => `${m.sequence}: ${w}`));
  const timing =
    markers.length > 0
      ? {
          fps: frames / markers.reduce((s, m) => s + m.propagationSeconds, 0),
          endToEndFps: frames / markers.reduce((s, m) => s + m.totalSeconds, 0),
          firstFrameMs: markers.reduce((s, m) => s + m.firstFrameMs, 0) / markers.length,
        }
      : {};
  const row = { ...base, sequencesDone: markers.length, frames, warnings, ...timing };
  if (markers.length < plan.sequences.length) {
    const missing = plan.sequences.filter((s) => !markers.some((m) => m.sequence === s));
    return { ...row, status: "partial", reason: `${markers.length}/${plan.sequences.length} sequences done (missing: ${missing.join(", ")})` };
  }
  const e = await evaluation(out, plan, method, markers, onEvent);
  return { ...row, status: "done", global: e.global, perSequence: e.perSequence };
}

/** `table-N.csv`: one row per method of the table in the study's order; values empty when not done. */
export function tableCsv(rows: readonly StudyRow[]): string {
  const lines = [TABLE_CSV_COLUMNS.join(",")];
  for (const r of rows) {
    if (r.status !== "done" || !r.global) {
      lines.push(`${r.method},,,,,`);
      continue;
    }
    lines.push(
      [r.method, formatFixed3(r.global["J&F-Mean"]), formatFixed3(r.global["J-Mean"]), formatFixed3(r.global["F-Mean"]), (r.fps ?? 0).toFixed(2), (r.firstFrameMs ?? 0).toFixed(1)].join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Reads an output folder and builds the report (evaluating complete methods when needed); writes nothing else. */
export async function buildStudyReport(out: string, options: { onEvent?: (e: ReportEvent) => void } = {}): Promise<StudyReport> {
  const manifest = await readManifest(out);
  const tables: StudyTableReport[] = [];
  for (const plan of manifest.tables) {
    const rows: StudyRow[] = [];
    for (const method of TABLE_METHODS[plan.table]) rows.push(await rowOf(out, plan, method, options.onEvent));
    tables.push({ table: plan.table, title: TABLE_TITLES[plan.table], root: plan.root, set: plan.set, sequences: plan.sequences, rows, csv: tableCsv(rows) });
  }
  const complete = tables.every((t) => t.rows.every((r) => r.status === "done" || r.status === "skipped" || r.status === "not-run"));
  return { format: "stcn-study-report/1", generatedAt: new Date().toISOString(), complete, tables, manifest };
}

const pct = (v: number | undefined) => (v === undefined ? "" : (100 * v).toFixed(1));
const diff = (ours: number | undefined, study: number | undefined) => {
  if (ours === undefined || study === undefined) return "";
  const d = 100 * ours - study;
  return `${d >= 0 ? "+" : ""}${d.toFixed(1)}`;
};

function statusText(r: StudyRow): string {
  if (r.status === "done") return "done";
  return `**${r.status === "partial" ? "missing" : r.status}**${r.reason ? `: ${r.reason}` : ""}`;
}

/** The report as Markdown. */
export function reportMarkdown(report: StudyReport): string {
  const m = report.manifest;
  const e = m.environment;
  const lines: string[] = [
    "# STCN study reproduction",
    "",
    `Run started ${m.startedAt}; report generated ${report.generatedAt}. ` +
      (report.complete ? "Every planned method is done." : "**Partial run**: rows marked missing have unfinished sequences (rerun `stcn reproduce` with the same options to resume)."),
    "",
    "J&F, J and F in percent (DAVIS 2017 semi-supervised protocol); differences are ours minus the study's, in points.",
    "FPS is the propagation speed as the official STCN code counts it (IO and first-frame annotation excluded); end-to-end FPS counts",
    "everything (annotation, decoding, propagation, writing). The study's FPS are from its Colab GPU.",
    "",
    "## Environment",
    "",
    "| LibTorch | device | threads | build | Node | CPU | platform |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    `| ${e.libtorch} | ${e.device} | ${e.threads} | ${e.flavour} | ${e.node} | ${e.cpu} | ${e.platform} |`,
    "",
    `STCN options: top-k ${m.options.topK}, memory every ${m.options.memEvery} frames, working size ${m.options.size}.`,
    "",
    "| model | file | SHA-256 |",
    "| --- | --- | --- |",
    ...Object.entries(m.models).map(([name, f]) => `| ${name} | \`${f.path}\` | \`${f.sha256}\` |`),
    ...(m.somethingElse ? ["", `Table 3 annotations: \`${m.somethingElse.annotations}\` (SHA-256 \`${m.somethingElse.annotationsSha256}\`), videos ${m.somethingElse.videos.join(", ")}.`] : []),
  ];
  for (const t of report.tables) {
    lines.push("", `## ${t.title}`, "", `${t.sequences.length} sequence(s) of \`${t.root}\` (${t.set}).`, "");
    lines.push(
      "| first frame | J&F | study | diff | J | study | diff | F | study | diff | FPS | study FPS | end-to-end FPS | first frame ms | status |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of t.rows) {
      const g = r.global;
      const p = r.published;
      lines.push(
        `| ${r.title} | ${pct(g?.["J&F-Mean"])} | ${p?.jf.toFixed(1) ?? ""} | ${diff(g?.["J&F-Mean"], p?.jf)} | ${pct(g?.["J-Mean"])} | ${p?.j.toFixed(1) ?? ""} | ${diff(g?.["J-Mean"], p?.j)} | ` +
          `${pct(g?.["F-Mean"])} | ${p?.f.toFixed(1) ?? ""} | ${diff(g?.["F-Mean"], p?.f)} | ${r.fps?.toFixed(2) ?? ""} | ${p ? p.fps.toFixed(1) + (p.paperFps ? ` (paper ${p.paperFps.toFixed(1)})` : "") : ""} | ` +
          `${r.endToEndFps?.toFixed(2) ?? ""} | ${r.firstFrameMs?.toFixed(0) ?? ""} | ${statusText(r)} |`,
      );
    }
    const evaluated = t.rows.filter((r) => r.perSequence.length > 0);
    if (evaluated.length > 0) {
      lines.push("", "Per-sequence J&F (percent, mean over the sequence's objects):", "");
      lines.push(`| sequence | ${evaluated.map((r) => r.method).join(" | ")} |`, `| --- |${evaluated.map(() => " --- |").join("")}`);
      for (const s of t.sequences) {
        lines.push(`| ${s} | ${evaluated.map((r) => pct(r.perSequence.find((x) => x.sequence === s)?.jf)).join(" | ")} |`);
      }
    }
    const warnings = t.rows.flatMap((r) => r.warnings.map((w) => `${r.method}: ${w}`));
    if (warnings.length > 0) lines.push("", "First-frame warnings:", "", ...warnings.map((w) => `- ${w}`));
  }
  lines.push("", "## J&F per method", "", "![J&F per method, ours beside the study's](chart.svg)", "");
  return `${lines.join("\n")}\n`;
}

/** The chart's bars: J&F (percent) per method of each table, ours and the study's. */
export function chartData(report: StudyReport): BarDatum[] {
  const bars: BarDatum[] = [];
  for (const t of report.tables) {
    for (const r of t.rows) {
      const group = `Table ${t.table}`;
      if (r.global) bars.push({ group, category: r.method, series: "ours", value: 100 * r.global["J&F-Mean"] });
      if (r.published) bars.push({ group, category: r.method, series: "study", value: r.published.jf });
    }
  }
  return bars;
}

/** Builds the report and writes `table-N.csv`, `report.md`, `report.json` and `chart.svg` into `out`. */
export async function writeStudyReport(out: string, options: { onEvent?: (e: ReportEvent) => void } = {}): Promise<StudyReport> {
  const report = await buildStudyReport(out, options);
  for (const t of report.tables) await writeFileAtomic(join(out, `table-${t.table}.csv`), t.csv);
  const svg = await renderBarChartSvg(chartData(report), { title: "J&F per first-frame method", yTitle: "J&F (%)", yDomain: [0, 100] });
  await writeFileAtomic(join(out, "chart.svg"), svg);
  await writeFileAtomic(join(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(out, "report.md"), reportMarkdown(report));
  return report;
}
