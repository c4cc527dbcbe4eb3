/**
 * `stcn report OUT`: rebuilds `report.md`, `report.json`, `chart.svg` and `table-N.csv` of a finished or
 * partial `stcn reproduce` run from its output folder (methods whose sequences are all done are
 * evaluated if needed; the others are marked missing, skipped or not run).
 */
import type { CommandModule } from "yargs";
import { writeStudyReport, type StudyReport } from "../study/report.js";
import { ensureWritableDir } from "../io/fs-errors.js";
import { createProgress, printJson, withJson, withQuiet } from "./common.js";

/** The tables as the CLI prints them: one line per row, percent J&F / J / F beside the study's. */
export function formatStudyTables(report: StudyReport): string {
  const pct = (v: number | undefined) => (v === undefined ? "  -  " : (100 * v).toFixed(1).padStart(5));
  const out: string[] = [];
  for (const t of report.tables) {
    out.push(t.title);
    for (const r of t.rows) {
      const g = r.global;
      const p = r.published;
      const ours = `J&F ${pct(g?.["J&F-Mean"])}  J ${pct(g?.["J-Mean"])}  F ${pct(g?.["F-Mean"])}  FPS ${r.fps === undefined || !g ? "  -  " : r.fps.toFixed(2).padStart(5)}`;
      const study = p ? `  (study ${p.jf.toFixed(1)} / ${p.j.toFixed(1)} / ${p.f.toFixed(1)}, ${p.fps.toFixed(1)} FPS)` : "";
      const status = r.status === "done" ? "" : `  [${r.status === "partial" ? "missing" : r.status}${r.reason ? `: ${r.reason}` : ""}]`;
      out.push(`  ${r.method.padEnd(9)} ${ours}${study}${status}`);
    }
  }
  return out.join("\n");
}

interface ReportArgs {
  out: string;
  json: boolean;
  quiet: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: "report <out>",
  describe: "rebuild report.md / report.json / chart.svg / table-N.csv of a stcn reproduce output folder (finished or partial)",
  builder: (y) =>
    withQuiet(withJson(y)).positional("out", { type: "string", demandOption: true, describe: "the --out folder of stcn reproduce" }),
  handler: async (args) => {
    const progress = createProgress({ quiet: args.quiet });
    await ensureWritableDir(args.out, "the --out folder", false);
    const report = await writeStudyReport(args.out, { onEvent: (e) => progress.line(`evaluating table ${e.table} ${e.method} (${e.sequences} sequence(s))`) });
    if (args.json) {
      printJson("report", report);
      return;
    }
    console.log(formatStudyTables(report));
    console.log(`${report.complete ? "complete" : "partial run (missing rows marked)"}: wrote ${args.out}/report.md, report.json, chart.svg, ${report.tables.map((t) => `table-${t.table}.csv`).join(", ")}`);
  },
};
