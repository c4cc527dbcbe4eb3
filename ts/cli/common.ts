/**
 * The CLI's style rules, in one place (docs/cli.md). Every command uses these helpers:
 * - errors: one line `stcn: <message> [CODE]` on stderr; a usage error (missing or bad option,
 *   ERR_STCN_ARGUMENT) ends that line with `; see: stcn <command> --help` and exits 2, any other
 *   error exits 1 ({@link reportCliError}, {@link exitCodeFor});
 * - `--json` ({@link withJson}, {@link printJson}): exactly one JSON document on stdout,
 *   `{"stcn": "<version>", "command": "<name>", "result": {...}}`, and nothing else on stdout;
 * - progress ({@link withQuiet}, {@link createProgress}): on stderr, a bar on a terminal, plain lines
 *   otherwise, nothing with `--quiet` (warnings and errors are still printed);
 * - help: defaults as a person writes them ({@link shownDefault}), each choice listed once (in the
 *   option's `[choices: ...]`, never again in a description).
 */
import { readFileSync } from "node:fs";
import cliProgress from "cli-progress";
import type { Argv } from "yargs";
import { isStcnError } from "../errors.js";
import { ioError } from "../io/fs-errors.js";

/** Exit status of a usage error (missing or bad option), as POSIX tools do. */
export const USAGE_EXIT = 2;

let version: string | undefined;

/** stcn-node's own version: read from OUR package.json (next to dist/), whatever the current directory. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  return version;
}

/** The command being run (`stcn <command> ...`), for the usage hint; undefined before one is named. */
export function currentCommand(argv: readonly string[] = process.argv): string | undefined {
  const name = argv[2];
  return name !== undefined && !name.startsWith("-") ? name : undefined;
}

function usageHint(command: string | undefined): string {
  return `see: stcn ${command ? `${command} ` : ""}--help`;
}

/** 2 for usage errors (ERR_STCN_ARGUMENT), 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  return isStcnError(error) && error.code === "ERR_STCN_ARGUMENT" ? USAGE_EXIT : 1;
}

/**
 * Prints the one error line on stderr: `stcn: <message> [CODE]` (stack only with STCN_DEBUG=1); a Node
 * fs error that escaped a command is reported as ERR_STCN_IO with its errno code and path; usage
 * errors (ERR_STCN_ARGUMENT) end with `; see: stcn <command> --help`. Multi-line messages are joined into one line.
 */
export function reportCliError(raw: unknown, command: string | undefined = currentCommand()): void {
  const error = ioError(raw);
  if (process.env.STCN_DEBUG && raw instanceof Error) console.error(raw.stack);
  const oneLine = (text: string): string => text.split("\n").map((l) => l.trim()).filter(Boolean).join("; ");
  if (isStcnError(error)) {
    const hint = error.code === "ERR_STCN_ARGUMENT" ? `; ${usageHint(command)}` : "";
    console.error(`stcn: ${oneLine(error.message)} [${error.code}]${hint}`);
  } else if (error instanceof Error) console.error(`stcn: ${oneLine(error.message)}`);
  else console.error(`stcn: ${oneLine(String(error))}`);
}

/** A yargs validation message (missing or unknown option, bad choice) as the one usage line; exits 2. */
export function reportUsage(message: string, command: string | undefined = currentCommand()): never {
  const text = message.split("\n").map((l) => l.trim()).filter(Boolean).join("; ");
  console.error(`stcn: ${text} [ERR_STCN_ARGUMENT]; ${usageHint(command)}`);
  process.exit(USAGE_EXIT);
}

/** Adds `--json` (one JSON document on stdout, shape in {@link printJson}). */
export function withJson<T>(y: Argv<T>): Argv<T & { json: boolean }> {
  return y.option("json", {
    type: "boolean",
    default: false,
    describe: 'print one JSON document on stdout: {"stcn", "command", "result"} (docs/cli.md)',
  });
}

/** Adds `--quiet` (no progress, no human-readable summary beyond what the command documents). */
export function withQuiet<T>(y: Argv<T>): Argv<T & { quiet: boolean }> {
  return y.option("quiet", { type: "boolean", default: false, describe: "no progress on stderr" });
}

/** The top-level shape of every `--json` document. */
export interface CliJson<R> {
  /** stcn-node's version. */
  stcn: string;
  /** The command, e.g. "evaluate" or "export stcn". */
  command: string;
  /** The command's result (its fields are documented with the command). */
  result: R;
}

/** Writes the command's one JSON document on stdout. */
export function printJson<R>(command: string, result: R): void {
  const doc: CliJson<R> = { stcn: packageVersion(), command, result };
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** Progress on stderr: {@link createProgress}. */
export interface Progress {
  /** A new stage with `total` steps (0: a stage without a count). */
  start(label: string, total?: number): void;
  /** `done` of the current stage's steps are finished. */
  update(done: number, info?: string): void;
  /** One line of text (above the bar on a terminal). */
  line(text: string): void;
  /** Ends the bar (call before printing the result). */
  stop(): void;
}

/**
 * Progress reporter: a cli-progress bar on stderr when it is a terminal, otherwise plain lines (a stage
 * line, then at most one line per 10% or per 10 s); nothing at all when `quiet`.
 */
export function createProgress(options: { quiet: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet) return { start: () => undefined, update: () => undefined, line: () => undefined, stop: () => undefined };
  const tty = stream.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let label = "";
  let total = 0;
  let lastShown = -1;
  let lastTime = 0;
  const write = (text: string): void => {
    if (bar) bar.stop();
    stream.write(`${text}\n`);
    bar = undefined;
  };
  return {
    start(name, count = 0) {
      if (bar) bar.stop();
      bar = undefined;
      label = name;
      total = count;
      lastShown = -1;
      lastTime = Date.now();
      if (tty && count > 0) {
        bar = new cliProgress.SingleBar(
          { stream, hideCursor: true, clearOnComplete: false, format: `${name} |{bar}| {value}/{total} {info}` },
          cliProgress.Presets.shades_classic,
        );
        bar.start(count, 0, { info: "" });
      } else stream.write(`${name}${count > 0 ? ` (${count})` : ""}\n`);
    },
    update(done, info = "") {
      if (bar) {
        bar.update(done, { info });
        return;
      }
      if (total <= 0) return;
      const tenth = Math.floor((done * 10) / total);
      if (tenth > lastShown || Date.now() - lastTime > 10_000 || done === total) {
        if (done === total && lastShown === 10) return;
        lastShown = tenth;
        lastTime = Date.now();
        stream.write(`${label}: ${done}/${total}${info ? ` ${info}` : ""}\n`);
      }
    },
    line: write,
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/**
 * A default as a person writes it, for yargs' `defaultDescription`: numbers with at most 4 significant
 * digits (0.9090909090909091 -> "0.9091"), so help text never shows float noise.
 */
export function shownDefault(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}
