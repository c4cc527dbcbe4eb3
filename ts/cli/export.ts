/**
 * `stcn export <model>`: one subcommand per exporter of ts/export.ts; the options are declared there
 * and passed through to the Python script unchanged (its defaults apply).
 */
import type { Argv, CommandModule, Options } from "yargs";
import { exporters, runExporter, type ExporterSpec } from "../export.js";
import { checkOutputFile } from "../io/fs-errors.js";
import { createProgress, printJson } from "./common.js";

function yargsOptions(spec: ExporterSpec): Record<string, Options> {
  const out: Record<string, Options> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    out[name] = {
      describe: o.describe,
      ...(o.type ? { type: o.type } : {}),
      ...(o.choices ? { choices: [...o.choices] } : {}),
      ...(o.array ? { array: true } : {}),
      ...(o.demandOption ? { demandOption: true } : {}),
    };
  }
  return out;
}

function subcommand(name: string, spec: ExporterSpec): CommandModule<object, Record<string, unknown>> {
  return {
    command: name,
    describe: spec.describe,
    builder: (y: Argv) => y.options(yargsOptions(spec)).epilogue(`Defaults are the script's: ${spec.script} --help (in torchscript/) lists them.`),
    handler: async (args) => {
      if (typeof args.out === "string") await checkOutputFile(args.out, "--out");
      const progress = createProgress({ quiet: args.quiet === true });
      const started = performance.now();
      progress.start(`export ${name}: running ${spec.script}`);
      // The script's own lines are progress (stderr); stdout keeps only the result.
      await runExporter(name, args, { python: args.python as string | undefined, verbose: args.verbose === true, onLine: (line) => progress.line(`  ${line}`) });
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      if (args.json === true) printJson(`export ${name}`, { model: name, out: args.out ?? null, seconds });
      else console.log(`exported ${name} to ${String(args.out)} in ${seconds.toFixed(1)} s`);
    },
  };
}

/** `stcn export <model>` with one subcommand per {@link exporters} entry. */
export const exportCommand: CommandModule<object, object> = {
  command: "export",
  describe: "export a model to TorchScript with Python (export time only)",
  builder: (y: Argv) => {
    let out = y
      .option("python", {
        type: "string",
        default: process.env.STCN_PYTHON ?? "/usr/bin/python3",
        describe: "Python interpreter with torch/torchvision (STCN_PYTHON)",
      })
      .option("json", { type: "boolean", default: false, describe: 'print one JSON document on stdout: {"stcn", "command", "result"} (docs/cli.md)' })
      .option("quiet", { type: "boolean", default: false, describe: "do not echo the exporter's output (stderr)" })
      .option("verbose", { type: "boolean", default: false, describe: "show the exporter's stderr (a failure's Python traceback included)" });
    for (const [name, spec] of Object.entries(exporters)) out = out.command(subcommand(name, spec));
    return out.demandCommand(1, `name a model: ${Object.keys(exporters).join(", ")}`);
  },
  handler: () => {
    // The subcommands do the work.
  },
};
