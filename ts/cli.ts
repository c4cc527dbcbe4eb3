#!/usr/bin/env node
/**
 * The `stcn` command line. Each command lives in ts/cli/<name>.ts and exports a yargs CommandModule;
 * add new ones to `loaders` below.
 */
import yargs, { type CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { exitCodeFor, packageVersion, reportCliError, reportUsage } from "./cli/common.js";
import { setTrustedModelDir } from "./trust.js";

// Each command module is typed with its own argument shape; yargs takes them as CommandModule<object, any>.
// Loaded on demand: `stcn evaluate ...` imports only the evaluate command (start-up matters for short
// commands; the others pull in sharp, the addon, ...); help and unknown names load them all.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<object, any>;
const loaders: Record<string, () => Promise<AnyCommand>> = {
  demo: async () => (await import("./cli/demo.js")).demoCommand,
  segment: async () => (await import("./cli/segment.js")).segmentCommand,
  annotate: async () => (await import("./cli/annotate.js")).annotateCommand,
  evaluate: async () => (await import("./cli/evaluate.js")).evaluateCommand,
  reproduce: async () => (await import("./cli/reproduce.js")).reproduceCommand,
  report: async () => (await import("./cli/report.js")).reportCommand,
  queue: async () => (await import("./cli/queue.js")).queueCommand,
  view: async () => (await import("./cli/view.js")).viewCommand,
  crf: async () => (await import("./cli/crf.js")).crfCommand,
  export: async () => (await import("./cli/export.js")).exportCommand,
  "boxes-to-davis": async () => (await import("./cli/boxes-to-davis.js")).boxesToDavisCommand,
  info: async () => (await import("./cli/info.js")).infoCommand,
  smoke: async () => (await import("./cli/smoke.js")).smokeCommand,
};
const requested = process.argv[2];
const names = requested !== undefined && Object.hasOwn(loaders, requested) ? [requested] : Object.keys(loaders);
const commands: AnyCommand[] = await Promise.all(names.map((name) => (loaders[name] as () => Promise<AnyCommand>)()));

const cli = yargs(hideBin(process.argv))
  .scriptName("stcn")
  .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns) : null)
  .usage("$0 <command> [options]")
  .strict()
  .recommendCommands()
  .demandCommand(1, "name a command (stcn --help lists them)")
  .help()
  // Our version from our package.json (yargs' default reads the one nearest the current directory).
  .version(packageVersion())
  .option("trusted-models", {
    type: "string",
    global: true,
    describe: "load models only from this folder (real paths; a model file is code, see README Security)",
  })
  .middleware((a) => {
    if (typeof a["trusted-models"] === "string") setTrustedModelDir(a["trusted-models"]);
  })
  // A usage problem (missing or bad option, unknown command) is one line + `see: stcn <command> --help`,
  // exit 2; an error from a command is one line, exit 1 (2 for ERR_STCN_ARGUMENT). See ts/cli/common.ts.
  .fail((message, error) => {
    if (error) {
      reportCliError(error);
      process.exit(exitCodeFor(error));
    }
    reportUsage(message);
  });
cli.command(commands);
try {
  await cli.parseAsync();
} catch (error) {
  // A command whose handler throws synchronously does not always reach .fail(): same one line here.
  reportCliError(error);
  process.exit(exitCodeFor(error));
}
