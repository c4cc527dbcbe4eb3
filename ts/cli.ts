#!/usr/bin/env node
/**
 * The `stcn` command line. Each command lives in ts/cli/<name>.ts and exports a yargs CommandModule;
 * add new ones to `commands` below.
 */
import yargs, { type CommandModule } from "yargs";
import { hideBin } from "yargs/helpers";
import { infoCommand } from "./cli/info.js";
import { smokeCommand } from "./cli/smoke.js";
import { exportCommand } from "./cli/export.js";
import { segmentCommand } from "./cli/segment.js";
import { crfCommand } from "./cli/crf.js";
import { evaluateCommand } from "./cli/evaluate.js";
import { boxesToDavisCommand } from "./cli/boxes-to-davis.js";
import { demoCommand } from "./cli/demo.js";
import { annotateCommand } from "./cli/annotate.js";
import { reproduceCommand } from "./cli/reproduce.js";
import { reportCommand } from "./cli/report.js";
import { viewCommand } from "./cli/view.js";
import { reportCliError } from "./cli/common.js";

// Each command module is typed with its own argument shape; yargs takes them as CommandModule<object, any>.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands: CommandModule<object, any>[] = [
  demoCommand,
  segmentCommand,
  annotateCommand,
  evaluateCommand,
  reproduceCommand,
  reportCommand,
  viewCommand,
  crfCommand,
  exportCommand,
  boxesToDavisCommand,
  infoCommand,
  smokeCommand,
];

const cli = yargs(hideBin(process.argv))
  .scriptName("stcn")
  .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns) : null)
  .usage("$0 <command> [options]")
  .strict()
  .recommendCommands()
  .demandCommand(1, "name a command (stcn --help lists them)")
  .help()
  .version()
  .fail((message, error, y) => {
    if (error) reportCliError(error);
    else {
      y.showHelp();
      console.error(`\nstcn: ${message}`);
    }
    process.exit(1);
  });
cli.command(commands);
await cli.parseAsync();
