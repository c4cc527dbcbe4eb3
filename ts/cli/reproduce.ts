/**
 * `stcn reproduce`: the study's Tables 1-3 (reproduceStudy), resumable, with progress bars on a
 * terminal (plain lines otherwise), SIGINT/SIGTERM stopping cleanly between frames, and the report.
 */
import cliProgress from "cli-progress";
import type { Argv, CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { printJson } from "./common.js";
import { formatStudyTables } from "./report.js";
import { reproduceStudy, type PlannedUnit, type ReproduceStudyOptions, type StudyEvent } from "../study/study.js";
import { STUDY_METHODS, methodTitle, type StudyMethod, type StudyTable } from "../study/tables.js";
import { ensureWritableDir } from "../io/fs-errors.js";
import { withInterrupts } from "./signals.js";

/** The study's inputs as `stcn reproduce` and `stcn queue submit` take them. */
export interface StudyArgs {
  table?: string;
  davis?: string;
  set: string;
  sequences?: string;
  somethingElse?: string;
  somethingFrames?: string;
  videos?: string;
  stcn: string;
  maskrcnn?: string;
  pointrend?: string;
  dino?: string;
  methods?: string;
  out: string;
  device: string;
  topK: number;
  memEvery: number;
  size: number;
}

interface ReproduceArgs extends StudyArgs {
  force: boolean;
  json: boolean;
  progress: boolean;
  quiet: boolean;
}

/** "a, b" -> ["a", "b"]; undefined stays undefined; an empty list is refused naming the option. */
function list(value: string | undefined, option: string, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = String(value)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", `--${option} is empty: name at least one ${what}`);
  return items;
}

function parseTables(value: string | undefined): StudyTable[] | undefined {
  return list(value, "table", "table (1, 2 or 3)")?.map((t) => {
    if (t !== "1" && t !== "2" && t !== "3") throw new StcnError("ERR_STCN_ARGUMENT", `--table ${t}: the study has tables 1, 2 and 3`);
    return Number(t) as StudyTable;
  });
}

const unitName = (u: { table: StudyTable; method: StudyMethod; sequence: string }) => `table ${u.table} ${u.method} ${u.sequence}`;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}:` : ""}${String(m).padStart(h > 0 ? 2 : 1, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * Renders study events: two bars on a TTY (the run: table, method, sequence, frames, FPS, ETA; the
 * current sequence's frames), plain lines otherwise. Skipped methods and warnings are always printed.
 */
function progressRenderer(showProgress: boolean): { onEvent: (e: StudyEvent) => void; stop: () => void } {
  const tty = showProgress && process.stderr.isTTY === true;
  let multi: cliProgress.MultiBar | undefined;
  let runBar: cliProgress.SingleBar | undefined;
  let seqBar: cliProgress.SingleBar | undefined;
  let totalFrames = 0;
  let framesDone = 0;
  let unitFrames = 0;
  let computeStart = 0;
  let unitStart = 0;
  let tables: StudyTable[] = [];
  let units: PlannedUnit[] = [];
  const line = (text: string) => (multi ? multi.log(`${text}\n`) : console.error(text));
  const eta = () => {
    const seconds = (performance.now() - computeStart) / 1000;
    return framesDone > 0 ? ((totalFrames - framesDone) * seconds) / framesDone : Number.NaN;
  };
  const where = (u: PlannedUnit) => {
    const methods = [...new Set(units.filter((x) => x.table === u.table).map((x) => x.method))];
    const seqs = units.filter((x) => x.table === u.table && x.method === u.method);
    return {
      table: `${tables.indexOf(u.table) + 1}/${tables.length} (Table ${u.table})`,
      method: `${methods.indexOf(u.method) + 1}/${methods.length} ${methodTitle(u.table, u.method)}`,
      sequence: `${seqs.findIndex((x) => x.sequence === u.sequence) + 1}/${seqs.length} ${u.sequence}`,
    };
  };
  const onEvent = (e: StudyEvent): void => {
    switch (e.type) {
      case "method-skipped":
        line(`table ${e.table} ${e.method}: skipped (${e.reason})`);
        break;
      case "box-root":
        if (showProgress) line(`Table 3 box root: ${e.root} (${e.videos} video(s), ${e.reused ? "reused" : "built with boxes-to-davis"})`);
        break;
      case "plan": {
        tables = e.tables.map((t) => t.table);
        units = e.units;
        totalFrames = e.units.filter((u) => !u.done).reduce((n, u) => n + u.frames, 0);
        computeStart = performance.now();
        const done = e.units.filter((u) => u.done).length;
        if (showProgress) line(`plan: ${e.units.length} sequence run(s) over table(s) ${tables.join(", ")}; ${done} already done, ${totalFrames} frame(s) to compute`);
        if (tty && totalFrames > 0) {
          multi = new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: false, format: "{label} |{bar}| {value}/{total} {unit} | {info}" });
          runBar = multi.create(totalFrames, 0, { label: "study   ", unit: "frames", info: "" });
        }
        break;
      }
      case "unit-start": {
        if (e.unit.done) break;
        unitFrames = 0;
        unitStart = performance.now();
        const w = where(e.unit);
        if (multi) {
          seqBar?.stop();
          if (seqBar) multi.remove(seqBar);
          seqBar = multi.create(e.unit.frames, 0, { label: "sequence", unit: "frames", info: `${e.unit.sequence}` });
          runBar?.update(framesDone, { info: `table ${w.table} | method ${w.method} | sequence ${w.sequence} | ETA ${clock(eta())}` });
        } else if (showProgress) {
          line(`${unitName(e.unit)}: start (${e.unit.frames} frames) [table ${w.table}, method ${w.method}, sequence ${w.sequence}]`);
        }
        break;
      }
      case "frame": {
        framesDone += e.done - unitFrames;
        unitFrames = e.done;
        const fps = e.done / ((performance.now() - unitStart) / 1000);
        seqBar?.update(e.done, { info: `${e.unit.sequence} | ${fps.toFixed(2)} FPS` });
        if (runBar) {
          const w = where(e.unit);
          runBar.update(framesDone, { info: `table ${w.table} | method ${w.method} | sequence ${w.sequence} | ETA ${clock(eta())}` });
        }
        break;
      }
      case "unit-done": {
        const m = e.outcome.marker;
        if (e.outcome.status === "skipped") {
          if (showProgress) line(`${unitName(e.unit)}: already done (${m.frames} frames), skipped`);
          break;
        }
        if (e.outcome.status === "reused") {
          framesDone += e.unit.frames;
          if (showProgress) line(`${unitName(e.unit)}: copied from table ${m.reusedFrom} (same frames, models and options)`);
          break;
        }
        if (showProgress) {
          line(
            `${unitName(e.unit)}: done, ${m.frames} frames, ${(m.frames / m.propagationSeconds).toFixed(2)} FPS propagation, ` +
              `${(m.frames / m.totalSeconds).toFixed(2)} FPS end-to-end, first frame ${m.firstFrameMs.toFixed(0)} ms; ETA ${clock(eta())}`,
          );
        }
        break;
      }
      case "warning":
        line(`warning: ${e.message}`);
        break;
      case "evaluate":
        if (showProgress) line(`evaluating table ${e.table} ${e.method} (${e.sequences} sequence(s))`);
        break;
    }
  };
  return { onEvent, stop: () => multi?.stop() };
}

/** Adds the study's input options (tables, data, models, STCN options, output) to a command. */
export function studyOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option("table", { type: "string", describe: "tables to run: 1, 2, 3 or a list (default: every table whose inputs are given)" })
    .option("davis", { type: "string", describe: "DAVIS 2017 root (Tables 1 and 2)" })
    .option("set", { type: "string", default: "val", describe: "DAVIS ImageSets list (Tables 1 and 2)" })
    .option("sequences", { type: "string", describe: "comma-separated DAVIS sequences (default: the whole set)" })
    .option("something-else", { type: "string", describe: "Something-Else annotations.json (Table 3)" })
    .option("something-frames", { type: "string", describe: "original Something-Something frames: <dir>/<video>/<NNNN>.jpg (Table 3)" })
    .option("videos", { type: "string", describe: "comma-separated videos of annotations.json (default: all)" })
    .option("stcn", { type: "string", demandOption: true, describe: "STCN TorchScript (stcn export stcn)" })
    .option("maskrcnn", { type: "string", describe: "Mask R-CNN TorchScript (stcn export maskrcnn); without it the method is skipped" })
    .option("pointrend", { type: "string", describe: "PointRend TorchScript (stcn export pointrend); without it the method is skipped" })
    .option("dino", { type: "string", describe: "DINO TorchScript for LOST (stcn export dino); without it lost-crf / lost are skipped" })
    .option("methods", { type: "string", describe: `comma-separated subset of ${STUDY_METHODS.join(",")}` })
    .option("out", { type: "string", demandOption: true, describe: "output root (table-N/<method>/<sequence>/*.png, table-N.csv, report.md, ...)" })
    .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
    .option("top-k", { type: "number", default: 20 })
    .option("mem-every", { type: "number", default: 5 })
    .option("size", { type: "number", default: 480, describe: "working resolution (shorter side); 0 = input size" })
    .group(["davis", "set", "sequences"], "Tables 1 and 2:")
    .group(["something-else", "something-frames", "videos"], "Table 3:")
    .group(["stcn", "maskrcnn", "pointrend", "dino"], "Models:");
}

/** The study's inputs from parsed arguments (lists split and checked, one line per problem). */
export function studyInputs(a: StudyArgs): Omit<ReproduceStudyOptions, "signal" | "force" | "onEvent"> {
  if ((a.somethingElse === undefined) !== (a.somethingFrames === undefined)) {
    throw new StcnError("ERR_STCN_ARGUMENT", "Table 3 needs both --something-else annotations.json and --something-frames DIR");
  }
  if (a.videos !== undefined && a.somethingElse === undefined) throw new StcnError("ERR_STCN_ARGUMENT", "--videos selects Table 3 videos: give --something-else too");
  const tables = parseTables(a.table);
  const methods = list(a.methods, "methods", "method") as StudyMethod[] | undefined;
  const sequences = list(a.sequences, "sequences", "sequence");
  const videos = list(a.videos, "videos", "video");
  return {
    out: a.out,
    stcn: a.stcn,
    device: a.device,
    topK: a.topK,
    memEvery: a.memEvery,
    size: a.size,
    ...(tables ? { tables } : {}),
    ...(a.davis !== undefined ? { davisRoot: a.davis, set: a.set } : {}),
    ...(sequences ? { sequences } : {}),
    ...(a.somethingElse !== undefined && a.somethingFrames !== undefined
      ? { somethingElse: { annotations: a.somethingElse, frames: a.somethingFrames, ...(videos ? { videos } : {}) } }
      : {}),
    ...(a.maskrcnn !== undefined ? { maskrcnn: a.maskrcnn } : {}),
    ...(a.pointrend !== undefined ? { pointrend: a.pointrend } : {}),
    ...(a.dino !== undefined ? { dino: a.dino } : {}),
    ...(methods ? { methods } : {}),
  };
}

/** `stcn reproduce`: the study's Tables 1-3, resumable. */
export const reproduceCommand: CommandModule = {
  command: "reproduce",
  describe: "the study's Tables 1-3: first frames (gt, maskrcnn, pointrend, lost-crf / lost boxes), STCN, evaluation, report; resumable",
  builder: (y) =>
    studyOptions(y)
      .option("force", { type: "boolean", default: false, describe: "redo finished sequences too" })
      .option("json", { type: "boolean", default: false, describe: 'print one JSON document on stdout: {"stcn", "command", "result": {out, complete, units, tables}} (docs/cli.md)' })
      .option("progress", { type: "boolean", default: true, describe: "progress bars on a terminal, plain lines otherwise (--no-progress: only skips and warnings)" })
      .option("quiet", { type: "boolean", default: false, describe: "same as --no-progress" })
      .group(["davis", "set", "sequences"], "Tables 1 and 2:")
      .group(["something-else", "something-frames", "videos"], "Table 3:")
      .group(["stcn", "maskrcnn", "pointrend", "dino"], "Models:")
      .example("$0 reproduce --davis DAVIS --stcn stcn.pt --maskrcnn maskrcnn.pt --pointrend pointrend.pt --dino dino.pt --out study/", "Tables 1 and 2")
      .example("$0 reproduce --table 3 --something-else annotations.json --something-frames frames/ --stcn stcn.pt --dino dino.pt --out study/", "Table 3"),
  handler: async (raw) => {
    const a = raw as unknown as ReproduceArgs;
    const inputs = studyInputs(a);
    await ensureWritableDir(a.out, "--out", false);
    const progress = progressRenderer(a.progress && !a.quiet);
    try {
      const result = await withInterrupts((signal) => reproduceStudy({
        ...inputs,
        force: a.force,
        signal,
        onEvent: progress.onEvent,
      }));
      progress.stop();
      if (a.json) {
        const units = result.units.map((u) => ({ table: u.table, method: u.method, sequence: u.sequence, status: u.status, frames: u.marker.frames }));
        printJson("reproduce", { out: a.out, complete: result.report.complete, units, tables: result.report.tables.map((t) => ({ table: t.table, rows: t.rows })) });
      } else {
        console.log(formatStudyTables(result.report));
        console.log(`report: ${a.out}/report.md (and report.json, chart.svg, table-N.csv)`);
      }
    } catch (error) {
      progress.stop();
      throw error;
    }
  },
};
