import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { evaluateDavis, formatDavisTables } from "../davis/evaluate.js";
import type { DavisResolution } from "../davis/reader.js";
import { ensureWritableDir } from "../io/fs-errors.js";
import { createProgress, printJson, withJson } from "./common.js";
import { withInterrupts } from "./signals.js";

interface EvaluateArgs {
  davis: string;
  results: string;
  set: string;
  task: string;
  sequences?: string;
  out?: string;
  resolution: string;
  workers?: number;
  quiet: boolean;
  json: boolean;
}

/**
 * `stcn evaluate`: DAVIS 2017 semi-supervised evaluation with the official toolkit's numbers; prints
 * the global and per-object tables and writes the two CSVs (atomically, never reusing old ones).
 */
export const evaluateCommand: CommandModule<object, EvaluateArgs> = {
  command: "evaluate",
  describe: "DAVIS 2017 J&F of a results folder (official toolkit numbers and CSVs)",
  builder: (y) =>
    withJson(y)
      .option("davis", { type: "string", demandOption: true, describe: "DAVIS root (JPEGImages/, Annotations/, ImageSets/)" })
      .option("results", { type: "string", demandOption: true, describe: "results folder: <results>/<sequence>/<frame>.png" })
      .option("set", { type: "string", default: "val", describe: "ImageSets/2017/<set>.txt to evaluate" })
      .option("task", {
        type: "string",
        default: "semi-supervised",
        choices: ["semi-supervised"],
        describe: "evaluation task (only semi-supervised is implemented)",
      })
      .option("sequences", { type: "string", describe: "comma-separated subset of the set's sequences" })
      .option("out", { type: "string", describe: "folder for the CSVs (default: the results folder, as the official tool)" })
      .option("resolution", { type: "string", default: "480p", choices: ["480p", "Full-Resolution"], describe: "annotation resolution folder" })
      .option("workers", { type: "number", describe: "worker threads (default: none up to 300 frames, else one per core; 0 = main thread only)" })
      .option("quiet", { type: "boolean", default: false, describe: "no progress; print only the global table" }),
  handler: async (args) => {
    let sequences: string[] | undefined;
    if (args.sequences !== undefined) {
      sequences = String(args.sequences)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (sequences.length === 0) throw new StcnError("ERR_STCN_ARGUMENT", "--sequences names no sequence");
    }
    if (args.workers !== undefined && !Number.isInteger(args.workers)) {
      throw new StcnError("ERR_STCN_ARGUMENT", `--workers must be an integer, got ${String(args.workers)}`);
    }
    // The CSVs' folder must be writable before anything is evaluated.
    await ensureWritableDir(args.out ?? args.results, args.out ? "--out" : "--results (where the CSVs go)", false);
    const progress = createProgress({ quiet: args.quiet });
    let started = false;
    // SIGINT / SIGTERM stop the evaluation within one chunk of frames: no CSV is written, exit 130 / 143.
    const evaluation = await withInterrupts((signal) => evaluateDavis({
      signal,
      davisRoot: args.davis,
      resultsPath: args.results,
      set: args.set,
      task: "semi-supervised",
      sequences,
      resolution: args.resolution as DavisResolution,
      out: args.out,
      workers: args.workers,
      // A command-line process has nothing else on its event loop: small evaluations run inline.
      blocking: true,
      onProgress: (done, total) => {
        if (!started) {
          progress.start("evaluate: frames", total);
          started = true;
        }
        progress.update(done);
      },
    }), "no CSV was written");
    progress.stop();
    if (args.json) {
      printJson("evaluate", {
        global: evaluation.global,
        objects: evaluation.objects,
        files: evaluation.files ?? null,
        seconds: evaluation.seconds,
        workers: evaluation.workers,
      });
      return;
    }
    const tables = formatDavisTables(evaluation);
    console.log(args.quiet ? (tables.split("\n\n")[0] as string) : tables);
    if (evaluation.files) {
      console.log(`Global results saved in ${evaluation.files.global}`);
      console.log(`Per-sequence results saved in ${evaluation.files.perSequence}`);
    }
    const frames = evaluation.sequences.reduce((n, s) => n + s.frameIds.length, 0);
    console.log(
      `Evaluated ${evaluation.sequences.length} sequence(s), ${evaluation.objects.length} object(s), ${frames} evaluated frame(s) in ` +
        `${evaluation.seconds.toFixed(2)} s (${evaluation.workers} worker thread(s))`,
    );
  },
};
