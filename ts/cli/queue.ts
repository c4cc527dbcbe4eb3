/**
 * `stcn queue submit|worker|status|wait`: the study as BullMQ jobs on Redis (ts/queue/queue.ts). The
 * Redis URL comes from `--redis` or `STCN_REDIS_URL` and is printed only with its password masked.
 */
import type { Argv, CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { QUEUE_DEFAULTS, runStatus, runWorker, submitRun, waitRun, type RunStatus, type WorkerEvent } from "../queue/queue.js";
import { redactRedisUrl } from "../queue/redis.js";
import { printJson, withJson, withQuiet } from "./common.js";
import { EXIT_CODES, withInterrupts } from "./signals.js";
import { formatStudyTables } from "./report.js";
import { studyInputs, studyOptions, type StudyArgs } from "./reproduce.js";

interface RedisArgs {
  redis?: string;
}

function withRedis<T>(y: Argv<T>): Argv<T & RedisArgs> {
  return y.option("redis", { type: "string", describe: "redis://[:password@]host:port[/db] (default: $STCN_REDIS_URL)" }) as Argv<T & RedisArgs>;
}

function redisUrl(a: RedisArgs): string {
  const url = a.redis ?? process.env.STCN_REDIS_URL;
  if (!url) throw new StcnError("ERR_STCN_ARGUMENT", "no Redis: give --redis redis://host:port (or set STCN_REDIS_URL)");
  return url;
}

const unitName = (u: { table: number; method: string; sequence: string }) => `table ${u.table} ${u.method} ${u.sequence}`;

/**
 * The worker's SIGINT/SIGTERM: the first aborts `controller` (the worker finishes its running jobs and
 * returns), the second exits at once with 130 / 143 as withInterrupts does. Commands that stop
 * mid-work use withInterrupts instead.
 */
function onSignals(controller: AbortController, what: string): () => void {
  let signals = 0;
  const handler = (signal: keyof typeof EXIT_CODES) => {
    signals++;
    if (signals > 1) process.exit(EXIT_CODES[signal]);
    console.error(`stcn: ${signal}: ${what} (again to quit at once)`);
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

function formatStatus(s: RunStatus): string {
  const c = s.counts;
  const lines = [
    `run ${s.run} (queue ${s.queue}, out ${s.out}): ${s.jobs.length} job(s): ${c.completed} completed, ${c.active} active, ${c.waiting + c.prioritized} waiting, ` +
      `${c.delayed} delayed (retry backoff), ${c.failed} failed${c.unknown ? `, ${c.unknown} missing from Redis` : ""}${c["done-before"] ? `; ${c["done-before"]} unit(s) done before submit` : ""}`,
  ];
  for (const j of s.jobs) if (j.progress) lines.push(`  active: ${unitName(j)}: ${j.progress.done}/${j.progress.total} frames`);
  for (const j of s.jobs) if (j.state === "delayed" && j.error) lines.push(`  retrying: ${unitName(j)} after ${j.attemptsMade} failed attempt(s): ${j.error}`);
  for (const j of s.failed) lines.push(`  failed: ${unitName(j)} after ${j.attemptsMade} attempt(s): ${j.error ?? "(no error recorded)"}`);
  return lines.join("\n");
}

interface SubmitArgs extends StudyArgs, RedisArgs {
  attempts: number;
  backoffMs: number;
  json: boolean;
  quiet: boolean;
}

const submit: CommandModule<object, SubmitArgs> = {
  command: "submit",
  describe: "plan the study (as reproduce) and queue one job per (table, method, sequence); prints the run id",
  builder: (y) =>
    withQuiet(withJson(studyOptions(withRedis(y))))
      .option("attempts", { type: "number", default: QUEUE_DEFAULTS.attempts, describe: "tries per job before it is marked failed" })
      .option("backoff-ms", { type: "number", default: QUEUE_DEFAULTS.backoffMs, describe: "first retry delay, doubled at each retry" })
      .example("$0 queue submit --redis redis://queue:6379 --davis /shared/DAVIS --stcn /shared/stcn.pt --table 2 --maskrcnn /shared/maskrcnn.pt --out /shared/study", "") as unknown as Argv<SubmitArgs>,
  handler: async (a) => {
    const url = redisUrl(a);
    const result = await submitRun({
      ...studyInputs(a),
      redis: url,
      attempts: a.attempts,
      backoffMs: a.backoffMs,
      onEvent: (e) => {
        // A skipped method is a warning: printed even with --quiet.
        if (e.type === "method-skipped") console.error(`table ${e.table} ${e.method}: skipped (${e.reason})`);
      },
    });
    if (!a.quiet) console.error(`queued ${result.jobs} job(s) on ${redactRedisUrl(url)} queue ${result.queue}${result.alreadyDone ? ` (${result.alreadyDone} unit(s) already done in ${a.out})` : ""}`);
    if (a.json) printJson("queue submit", { run: result.run, queue: result.queue, jobs: result.jobs, alreadyDone: result.alreadyDone });
    else console.log(result.run);
  },
};

interface WorkerArgs extends RedisArgs {
  device: string;
  concurrency: number;
  lockMs: number;
  stalledMs: number;
  maxStalled: number;
  allow?: string[];
}

function workerLine(e: WorkerEvent): string | undefined {
  switch (e.type) {
    case "ready":
      return `worker: serving queue ${e.queue} on ${e.redis} (device ${e.device}, concurrency ${e.concurrency})`;
    case "model-loaded":
      return `worker: loaded ${e.path} on ${e.device}`;
    case "job-start":
      return `job ${e.job}: start ${unitName(e.unit)} (attempt ${e.attempt})`;
    case "job-done":
      return `job ${e.job}: done ${unitName(e.unit)}: ${e.result.status}, ${e.result.frames} frames in ${e.seconds.toFixed(1)} s`;
    case "job-failed":
      return `job ${e.job}: failed${e.final ? "" : ` (attempt ${e.attempt}/${e.attempts}, will retry)`}: ${e.message}`;
    case "connection-lost":
      return `worker: lost Redis ${e.redis} (${e.message}); reconnecting with backoff`;
    case "reconnected":
      return `worker: reconnected to Redis ${e.redis}`;
    case "worker-error":
      return `worker: ${e.message}`;
    case "closing":
      return "worker: closing after the running job(s)";
    case "job-progress":
      return undefined;
  }
}

const worker: CommandModule<object, WorkerArgs> = {
  command: "worker",
  describe: "run queued study jobs on this machine until SIGINT/SIGTERM (models loaded once, kept across jobs)",
  builder: (y) =>
    withRedis(y)
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N (serves the jobs of runs submitted for this device kind)" })
      .option("concurrency", { type: "number", default: 1, describe: "jobs at once (sharing the models)" })
      .option("lock-ms", { type: "number", default: QUEUE_DEFAULTS.lockDurationMs, describe: "job lock: renewed every half of it; a dead worker's job is taken back after it" })
      .option("stalled-ms", { type: "number", default: QUEUE_DEFAULTS.stalledIntervalMs, describe: "how often to look for jobs of dead workers" })
      .option("max-stalled", { type: "number", default: QUEUE_DEFAULTS.maxStalledCount, describe: "worker deaths a job survives before it is failed" })
      .option("allow", { type: "string", array: true, describe: "only accept jobs whose paths are inside these folders (repeatable)" }) as unknown as Argv<WorkerArgs>,
  handler: async (a) => {
    const url = redisUrl(a);
    const controller = new AbortController();
    const off = onSignals(controller, "finishing the running job(s), then stopping");
    try {
      const summary = await runWorker({
        redis: url,
        device: a.device,
        concurrency: a.concurrency,
        lockDurationMs: a.lockMs,
        stalledIntervalMs: a.stalledMs,
        maxStalledCount: a.maxStalled,
        ...(a.allow ? { allowedRoots: a.allow } : {}),
        signal: controller.signal,
        onEvent: (e) => {
          const line = workerLine(e);
          if (line) console.log(line);
        },
      });
      console.log(`worker: stopped (${summary.completed} job(s) completed, ${summary.failed} failed)`);
    } finally {
      off();
    }
  },
};

interface StatusArgs extends RedisArgs {
  run: string;
  json: boolean;
}

const status: CommandModule<object, StatusArgs> = {
  command: "status <run>",
  describe: "jobs of a run per state, and failed jobs with their errors",
  builder: (y) =>
    withJson(withRedis(y)).positional("run", { type: "string", demandOption: true, describe: "run id (printed by submit)" }) as unknown as Argv<StatusArgs>,
  handler: async (a) => {
    const s = await runStatus({ redis: redisUrl(a), run: a.run });
    if (a.json) printJson("queue status", s);
    else console.log(formatStatus(s));
  },
};

interface WaitArgs extends RedisArgs {
  run: string;
  pollMs: number;
  json: boolean;
  quiet: boolean;
}

const wait: CommandModule<object, WaitArgs> = {
  command: "wait <run>",
  describe: "wait until every job of a run ended, then evaluate and write the tables and report (as reproduce); non-zero exit if a job failed",
  builder: (y) =>
    withQuiet(withJson(withRedis(y)))
      .positional("run", { type: "string", demandOption: true, describe: "run id (printed by submit)" })
      .option("poll-ms", { type: "number", default: 1000, describe: "how often to look at the jobs" }) as unknown as Argv<WaitArgs>,
  handler: async (a) => {
    let last = "";
    const result = await withInterrupts(
      (signal) =>
        waitRun({
          redis: redisUrl(a),
          run: a.run,
          pollMs: a.pollMs,
          signal,
          onEvent: (e) => {
            if (e.type === "status") {
              const c = e.status.counts;
              const line = `${a.run}: ${c.completed}/${e.status.jobs.length} completed, ${c.active} active, ${c.failed} failed`;
              if (line !== last && !a.quiet) console.error(line);
              last = line;
            } else if (e.type === "connection-lost") console.error(`wait: lost Redis ${e.redis} (${e.message}); reconnecting with backoff`);
            else if (e.type === "reconnected") console.error(`wait: reconnected to Redis ${e.redis}`);
            else if (e.type === "evaluate" && !a.quiet) console.error(`evaluating table ${e.table} ${e.method} (${e.sequences} sequence(s))`);
          },
        }),
      `stopped waiting for ${a.run}; the run goes on (stcn queue wait again to collect it)`,
    );
    if (a.json) {
      printJson("queue wait", { run: a.run, ok: result.ok, status: result.status, complete: result.report.complete, tables: result.report.tables.map((t) => ({ table: t.table, rows: t.rows })) });
    } else {
      console.log(formatStudyTables(result.report));
      console.log(`report: ${result.status.out}/report.md (and report.json, chart.svg, table-N.csv)`);
    }
    if (!result.ok) {
      console.error(formatStatus(result.status));
      throw new StcnError("ERR_STCN_QUEUE", `${result.status.failed.length} job(s) of ${a.run} failed for good; their rows are missing from the report`);
    }
  },
};

/** `stcn queue`: the study on many machines (BullMQ on Redis). */
export const queueCommand: CommandModule = {
  command: "queue <command>",
  describe: "the study as jobs on Redis (BullMQ): submit, worker, status, wait",
  builder: (y) =>
    y
      .command(submit as unknown as CommandModule)
      .command(worker as unknown as CommandModule)
      .command(status as unknown as CommandModule)
      .command(wait as unknown as CommandModule)
      .demandCommand(1, "name a queue command: submit, worker, status or wait"),
  handler: () => undefined,
};
