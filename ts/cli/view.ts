/**
 * `stcn view RESULTS [--davis ROOT] [--port N | --out report.html]`: the result viewer, served on
 * 127.0.0.1 until Ctrl-C, or written as one self-contained HTML file.
 */
import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { startViewServer, writeViewReport } from "../view/server.js";

interface ViewArgs {
  results: string;
  davis?: string;
  frames?: string;
  set?: string;
  port: number;
  host: string;
  out?: string;
}

export const viewCommand: CommandModule<object, ViewArgs> = {
  command: "view <results>",
  describe: "look at results: frames with masks, J&F table and per-frame J (local page, or --out report.html)",
  builder: (y) =>
    y
      .positional("results", { type: "string", demandOption: true, describe: "results folder (<seq>/<frame>.png), stcn demo or stcn reproduce output" })
      .option("davis", { type: "string", describe: "DAVIS root: frames, and J&F / per-frame J against its annotations" })
      .option("frames", { type: "string", describe: "folder of <seq>/<frame>.jpg|png frames (default: the DAVIS root's, or RESULTS/frames)" })
      .option("set", { type: "string", describe: "ImageSets list for the evaluation (default: the first naming every sequence, val first)" })
      .option("port", { type: "number", default: 8080, describe: "port to serve on (0 = any free port)" })
      .option("host", { type: "string", default: "127.0.0.1", describe: "address to bind (default: this machine only)" })
      .option("out", { type: "string", describe: "write a self-contained HTML file instead of serving" })
      .check((a) => {
        if (a.out !== undefined && process.argv.some((v) => v === "--port" || v.startsWith("--port="))) {
          throw new StcnError("ERR_STCN_ARGUMENT", "give --port or --out, not both");
        }
        return true;
      }),
  handler: async (args) => {
    const scan = {
      results: args.results,
      ...(args.davis ? { davis: args.davis } : {}),
      ...(args.frames ? { frames: args.frames } : {}),
      ...(args.set ? { set: args.set } : {}),
    };
    if (args.out) {
      const r = await writeViewReport({ ...scan, out: args.out });
      console.log(`wrote ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.index.sequences.length} sequence(s), ${r.index.scores.length} scored object(s))`);
      return;
    }
    const server = await startViewServer({ ...scan, port: args.port, host: args.host });
    console.log(`stcn view: ${server.index.sequences.length} sequence(s), ${server.index.scores.length} scored object(s)`);
    console.log(`serving ${server.url} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        void server.close().then(resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    console.log("stcn view: stopped");
  },
};
