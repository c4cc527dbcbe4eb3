/**
 * The study on many machines: every (table, method, sequence) unit of a planned run becomes a BullMQ
 * job on Redis (`submitRun`); workers on any machine that sees the same paths (shared storage) run
 * them with the study's own unit code, markers and atomic writes (`runWorker`); `runStatus` counts the
 * jobs per state; `waitRun` waits for the end and writes the same tables and report as
 * `reproduceStudy`. Jobs carry paths and options, never frames. No console output here: progress goes
 * to `onEvent`.
 *
 * Faults: a worker that dies mid-job loses its lock (renewed every `lockDurationMs / 2` while it
 * lives) and another worker's stalled-job check puts the job back in the queue; the unit is redone from
 * scratch (its folder is cleared first; the done marker, written last, is the commit point). A failing
 * job is retried with exponential backoff up to `attempts` times. Workers and waiters retry Redis with
 * backoff. A payload whose paths leave the run's declared roots is refused without retry.
 */
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { Queue, UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { readSomethingElseAnnotations, type SomethingElseAnnotations } from "../davis/boxes-to-davis.js";
import { StcnError } from "../errors.js";
import { loadModule, type Module } from "../module.js";
import { cudaAvailable, cudaDeviceCount } from "../runtime.js";
import { Stcn } from "../stcn/stcn.js";
import type { UnitConfig } from "../study/marker.js";
import { sha256File } from "../study/manifest.js";
import { writeStudyReport, type ReportEvent, type StudyReport } from "../study/report.js";
import { planStudy, type ReproduceStudyOptions, type StudyEvent } from "../study/study.js";
import { isStudyTable, modelOf, STUDY_METHODS, type StudyMethod, type StudyTable } from "../study/tables.js";
import { runStudyUnit, type StudySource, type StudyUnit } from "../study/unit.js";
import { openRedis, QUEUE_PREFIX, queueName, redactRedisUrl, redactSecrets, runKey, type ConnectionEvent } from "./redis.js";

export { redactRedisUrl } from "./redis.js";

export const RUN_RECORD_FORMAT = "stcn-queue-run/1";

/** Defaults of the fault settings (see the README's "Running on many machines"). */
export const QUEUE_DEFAULTS = {
  attempts: 3,
  backoffMs: 10_000,
  lockDurationMs: 60_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
} as const;

/** A unit job's payload: paths and options only. */
export interface UnitJobData {
  run: string;
  unit: StudyUnit;
  out: string;
  source: { kind: "davis"; root: string; set: string } | { kind: "boxes"; root: string; set: string; annotations: string; frames: string };
  /** STCN and first-frame model files (absolute). */
  stcn: string;
  annotator?: string;
  config: UnitConfig;
  topK: number;
  memEvery: number;
  size: number;
}

/** What a finished job returns (stored by BullMQ as the job's return value). */
export interface UnitJobResult {
  status: "skipped" | "computed" | "reused";
  frames: number;
  propagationSeconds: number;
}

/** The run record (`stcn:run:<id>` in Redis), written by {@link submitRun}. */
export interface RunRecord {
  format: typeof RUN_RECORD_FORMAT;
  id: string;
  createdAt: string;
  /** The study's output root (every worker writes there; `waitRun` reports there). */
  out: string;
  /** Files and folders the run's jobs may name; a worker refuses a payload outside them. */
  roots: string[];
  /** BullMQ queue name (one per device kind: `units-cpu`, `units-cuda`). */
  queue: string;
  device: string;
  /** Every planned unit with its job id; `done` ones were already finished at submit time (no job). */
  units: Array<StudyUnit & { job: string; frames: number; done: boolean }>;
}

/** Options of {@link submitRun}: the study's options (as `reproduceStudy`) plus the queue's. */
export interface SubmitRunOptions extends Omit<ReproduceStudyOptions, "signal" | "force" | "onEvent"> {
  /** `redis://[:password@]host:port[/db]`; never printed with its password. */
  redis: string;
  /** Tries per job before it is failed (default 3). */
  attempts?: number;
  /** First retry delay, doubled at each retry (default 10 s). */
  backoffMs?: number;
  onEvent?: (event: StudyEvent) => void;
}

/** What {@link submitRun} returns. */
export interface SubmitRunResult {
  run: string;
  queue: string;
  /** Jobs queued. */
  jobs: number;
  /** Units already done in `out` (same configuration), not queued. */
  alreadyDone: number;
}

function unitJobId(run: string, unit: StudyUnit): string {
  // BullMQ job ids may not contain ':'; sequence names are checked to be plain names.
  return `${run}.t${unit.table}.${unit.method}.${unit.sequence}`;
}

const SAFE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;

/**
 * Plans the study exactly as `reproduceStudy` does (writes `study.json` in `out`), records the run in
 * Redis and queues one job per unfinished (table, method, sequence). Returns the run id.
 */
export async function submitRun(options: SubmitRunOptions): Promise<SubmitRunResult> {
  const attempts = options.attempts ?? QUEUE_DEFAULTS.attempts;
  const backoffMs = options.backoffMs ?? QUEUE_DEFAULTS.backoffMs;
  if (!Number.isInteger(attempts) || attempts < 1) throw new StcnError("ERR_STCN_ARGUMENT", `attempts must be an integer >= 1, got ${attempts}`);
  if (!Number.isInteger(backoffMs) || backoffMs < 0) throw new StcnError("ERR_STCN_ARGUMENT", `backoffMs must be an integer >= 0, got ${backoffMs}`);
  const device = options.device ?? "cpu";
  const name = queueName(device);
  const { client } = await openRedis(options.redis, { persistent: false });
  try {
    const plan = await planStudy({ ...options, device });
    for (const u of plan.units) {
      if (!SAFE_NAME.test(u.sequence)) throw new StcnError("ERR_STCN_INPUT", `sequence name "${u.sequence}" cannot be a job: use letters, digits, '.', '_' and '-'`);
    }
    const run = `run-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    const roots = new Set<string>([plan.out, plan.models.stcn.path]);
    for (const m of ["maskrcnn", "pointrend", "dino"] as const) if (plan.models[m]) roots.add((plan.models[m] as { path: string }).path);
    for (const source of plan.sources.values()) {
      roots.add(source.root);
      if (source.kind === "boxes") roots.add(source.frames);
    }
    if (plan.manifest.somethingElse) roots.add(plan.manifest.somethingElse.annotations);
    const record: RunRecord = {
      format: RUN_RECORD_FORMAT,
      id: run,
      createdAt: new Date().toISOString(),
      out: plan.out,
      roots: [...roots],
      queue: name,
      device,
      units: plan.units.map((u) => ({ table: u.table, method: u.method, sequence: u.sequence, job: unitJobId(run, u), frames: u.frames, done: u.done })),
    };
    await client.set(runKey(run), JSON.stringify(record));
    const jobs = plan.units
      .filter((u) => !u.done)
      .map((u) => {
        const source = plan.sources.get(u.table) as StudySource;
        const model = modelOf(u.method);
        const data: UnitJobData = {
          run,
          unit: { table: u.table, method: u.method, sequence: u.sequence },
          out: plan.out,
          source:
            source.kind === "davis"
              ? { kind: "davis", root: source.root, set: source.set }
              : { kind: "boxes", root: source.root, set: source.set, annotations: (plan.manifest.somethingElse as { annotations: string }).annotations, frames: source.frames },
          stcn: plan.models.stcn.path,
          ...(model ? { annotator: (plan.models[model] as { path: string }).path } : {}),
          config: plan.configs.get(`${u.table}/${u.method}`) as UnitConfig,
          topK: plan.topK,
          memEvery: plan.memEvery,
          size: plan.size,
        };
        return {
          name: "unit",
          data,
          opts: { jobId: unitJobId(run, u), attempts, backoff: { type: "exponential", delay: backoffMs }, removeOnComplete: false, removeOnFail: false },
        };
      });
    const queue = new Queue<UnitJobData>(name, { connection: client, prefix: QUEUE_PREFIX });
    try {
      if (jobs.length > 0) await queue.addBulk(jobs);
    } finally {
      await queue.close();
    }
    return { run, queue: name, jobs: jobs.length, alreadyDone: plan.units.length - jobs.length };
  } catch (error) {
    throw rethrowRedacted(error, options.redis);
  } finally {
    client.disconnect();
  }
}

function rethrowRedacted(error: unknown, url: string): unknown {
  if (error instanceof Error && !(error instanceof StcnError)) {
    return new StcnError("ERR_STCN_QUEUE", `Redis ${redactRedisUrl(url)}: ${redactSecrets(error.message, url)}`);
  }
  if (error instanceof StcnError) error.message = redactSecrets(error.message, url);
  return error;
}

async function readRunRecord(client: Redis, run: string): Promise<RunRecord> {
  if (!SAFE_NAME.test(run)) throw new StcnError("ERR_STCN_ARGUMENT", `"${run}" is not a run id (stcn queue submit prints it)`);
  const text = await client.get(runKey(run));
  if (text === null) throw new StcnError("ERR_STCN_QUEUE", `no run ${run} in this Redis`);
  const record = JSON.parse(text) as RunRecord;
  if (record.format !== RUN_RECORD_FORMAT) throw new StcnError("ERR_STCN_QUEUE", `run ${run}: unknown record format ${JSON.stringify(record.format)}`);
  return record;
}

/** True when `path` is one of `roots` or inside one of them (after resolving `.` and `..`). */
function insideRoots(path: string, roots: readonly string[]): boolean {
  if (!isAbsolute(path)) return false;
  const p = resolve(path);
  return roots.some((root) => {
    const rel = relative(resolve(root), p);
    return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
  });
}

/**
 * Checks a payload against its run record (and the worker's own allow-list): every path inside the
 * declared roots, a known table/method, a plain sequence name, the unit planned by the run.
 * Returns the problem, or undefined.
 */
export function payloadProblem(data: UnitJobData, record: RunRecord, allowedRoots?: readonly string[]): string | undefined {
  const unit = data.unit;
  if (!unit || !isStudyTable(unit.table) || !STUDY_METHODS.includes(unit.method as StudyMethod) || typeof unit.sequence !== "string" || !SAFE_NAME.test(unit.sequence)) {
    return `unit ${JSON.stringify(unit)} is not a (table, method, sequence) of the study`;
  }
  if (!record.units.some((u) => u.table === unit.table && u.method === unit.method && u.sequence === unit.sequence)) {
    return `unit table ${unit.table} ${unit.method} ${unit.sequence} is not planned by run ${record.id}`;
  }
  if (typeof data.config !== "object" || data.config === null || typeof data.config.stcn !== "string") return "the payload has no unit configuration";
  for (const [what, v] of [["topK", data.topK], ["memEvery", data.memEvery], ["size", data.size]] as const) {
    if (!Number.isInteger(v) || (v as number) < 0) return `${what} ${JSON.stringify(v)} is not an integer >= 0`;
  }
  const paths: Array<[string, unknown]> = [
    ["out", data.out],
    ["source root", data.source?.root],
    ["stcn model", data.stcn],
    ...(data.annotator !== undefined ? ([["first-frame model", data.annotator]] as Array<[string, unknown]>) : []),
    ...(data.source?.kind === "boxes" ? ([["annotations", data.source.annotations], ["frames", data.source.frames]] as Array<[string, unknown]>) : []),
  ];
  for (const [what, path] of paths) {
    if (typeof path !== "string" || !insideRoots(path, record.roots)) return `${what} ${JSON.stringify(path)} is outside the run's declared roots`;
    if (allowedRoots && !insideRoots(path, allowedRoots)) return `${what} ${path} is outside this worker's allowed roots (--allow)`;
  }
  if (resolve(data.out) !== record.out) return `out ${data.out} is not the run's output root`;
  return undefined;
}

/** Progress of {@link runWorker}. */
export type WorkerEvent =
  | { type: "ready"; queue: string; redis: string; device: string; concurrency: number }
  | { type: "job-start"; job: string; unit: StudyUnit; attempt: number }
  | { type: "job-progress"; job: string; unit: StudyUnit; done: number; total: number }
  | { type: "job-done"; job: string; unit: StudyUnit; result: UnitJobResult; seconds: number }
  | { type: "job-failed"; job: string; unit?: StudyUnit; message: string; attempt: number; attempts: number; final: boolean }
  | { type: "model-loaded"; path: string; device: string }
  | { type: "closing" }
  /** BullMQ reported a problem that is not a lost connection (e.g. a job's lock lost during an outage: the job is redone). */
  | { type: "worker-error"; message: string }
  | ConnectionEvent;

/** Errors of a lost or refused Redis connection (as opposed to errors of a job or of BullMQ's bookkeeping). */
function isConnectionError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code) || /Connection is closed|connect E|Stream isn't writeable|socket/i.test(error.message);
}

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  redis: string;
  /** Device to compute on (default "cpu"); the worker serves the queue of its kind (`cuda:1` -> `units-cuda`). */
  device?: string;
  /** Jobs at once (default 1; they share the loaded models). */
  concurrency?: number;
  /** Job lock (ms, default 60 s): renewed every half of it; a dead worker's job is taken back after it expires. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (ms, default 30 s). */
  stalledIntervalMs?: number;
  /** Stalls (dead workers) a job survives before it is failed (default 2). */
  maxStalledCount?: number;
  /** Also refuse payload paths outside these folders (default: only the run's declared roots apply). */
  allowedRoots?: readonly string[];
  /** Aborting closes the worker gracefully: running jobs finish, no new job starts. */
  signal?: AbortSignal;
  onEvent?: (event: WorkerEvent) => void;
}

/** What {@link runWorker} returns once closed. */
export interface WorkerSummary {
  completed: number;
  failed: number;
}

/**
 * Serves the queue of `device`'s kind until `signal` aborts. Each model is loaded once (checked
 * against the SHA-256 the run was planned with) and kept across jobs; each job runs one study unit.
 */
export async function runWorker(options: RunWorkerOptions): Promise<WorkerSummary> {
  const device = options.device ?? "cpu";
  const name = queueName(device);
  const concurrency = options.concurrency ?? 1;
  const lockDuration = options.lockDurationMs ?? QUEUE_DEFAULTS.lockDurationMs;
  const stalledInterval = options.stalledIntervalMs ?? QUEUE_DEFAULTS.stalledIntervalMs;
  const maxStalledCount = options.maxStalledCount ?? QUEUE_DEFAULTS.maxStalledCount;
  for (const [what, v, min] of [["concurrency", concurrency, 1], ["lockDurationMs", lockDuration, 1000], ["stalledIntervalMs", stalledInterval, 100], ["maxStalledCount", maxStalledCount, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new StcnError("ERR_STCN_ARGUMENT", `${what} must be an integer >= ${min}, got ${v}`);
  }
  // A worker that cannot use its device would fail (and burn the attempts of) every job it takes.
  if (device !== "cpu") {
    const m = /^cuda(?::(\d+))?$/.exec(device);
    if (!m) throw new StcnError("ERR_STCN_DEVICE", `device "${device}": a worker runs on cpu, cuda or cuda:N`);
    const count = cudaAvailable() ? cudaDeviceCount() : 0;
    const index = Number(m[1] ?? 0);
    if (index >= count) throw new StcnError("ERR_STCN_DEVICE", `device ${device} is not available here (${count} CUDA device(s); stcn info shows the build flavour)`);
  }
  const allowed = options.allowedRoots?.map((r) => resolve(r));
  const onEvent = options.onEvent;
  const url = options.redis;
  const { client, lost } = await openRedis(url, { persistent: true, ...(onEvent ? { onConnection: onEvent } : {}) });

  // Models: loaded once per (path), checked against the planned SHA-256 once per file version.
  const stcns = new Map<string, Promise<Stcn>>();
  const annotators = new Map<string, Promise<Module>>();
  const hashes = new Map<string, Promise<string>>();
  const annotationFiles = new Map<string, Promise<SomethingElseAnnotations>>();
  const records = new Map<string, Promise<RunRecord>>();
  const checkHash = async (path: string, expected: string | undefined) => {
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile()) throw new UnrecoverableError(`model not found on this worker: ${path}`);
    const id = `${path}:${s.size}:${s.mtimeMs}`;
    if (!hashes.has(id)) hashes.set(id, sha256File(path));
    const actual = await (hashes.get(id) as Promise<string>);
    if (expected !== undefined && actual !== expected) throw new UnrecoverableError(`${path} changed since the run was submitted (SHA-256 ${actual.slice(0, 12)}..., planned ${expected.slice(0, 12)}...)`);
  };
  const once = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let p = cache.get(key);
    if (!p) {
      p = load();
      cache.set(key, p);
      p.catch(() => cache.delete(key));
    }
    return p;
  };

  let completed = 0;
  let failed = 0;
  const processor = async (job: Job<UnitJobData, UnitJobResult>): Promise<UnitJobResult> => {
    const data = job.data;
    const jobId = job.id ?? "?";
    const record = await once(records, data.run, () => readRunRecord(client, data.run)).catch((error: unknown) => {
      throw new UnrecoverableError(`job ${jobId} refused: ${(error as Error).message}`);
    });
    const problem = payloadProblem(data, record, allowed);
    if (problem) throw new UnrecoverableError(`job ${jobId} refused: ${problem}`);
    const unit: StudyUnit = { table: data.unit.table as StudyTable, method: data.unit.method, sequence: data.unit.sequence };
    onEvent?.({ type: "job-start", job: jobId, unit, attempt: job.attemptsMade + 1 });
    const t0 = performance.now();
    await checkHash(data.stcn, data.config.stcn);
    const stcn = await once(stcns, data.stcn, async () => {
      const s = await Stcn.load(data.stcn, { device });
      onEvent?.({ type: "model-loaded", path: data.stcn, device });
      return s;
    });
    let annotator: Module | undefined;
    if (data.annotator !== undefined) {
      await checkHash(data.annotator, data.config.annotator);
      const path = data.annotator;
      annotator = await once(annotators, path, async () => {
        const m = await loadModule(path, { device });
        onEvent?.({ type: "model-loaded", path, device });
        return m;
      });
    }
    const source: StudySource =
      data.source.kind === "davis"
        ? { kind: "davis", root: data.source.root, set: data.source.set }
        : {
            kind: "boxes",
            root: data.source.root,
            set: data.source.set,
            annotations: await once(annotationFiles, data.source.annotations, () => readSomethingElseAnnotations((data.source as { annotations: string }).annotations)),
            frames: data.source.frames,
          };
    let lastProgress = 0;
    const outcome = await runStudyUnit(unit, {
      out: data.out,
      source,
      stcn,
      ...(annotator ? { annotator } : {}),
      config: data.config,
      topK: data.topK,
      memEvery: data.memEvery,
      size: data.size,
      onFrame: (done, total) => {
        onEvent?.({ type: "job-progress", job: jobId, unit, done, total });
        const now = performance.now();
        if (done === total || now - lastProgress > 500) {
          lastProgress = now;
          job.updateProgress({ done, total }).catch(() => undefined);
        }
      },
    });
    const result: UnitJobResult = { status: outcome.status, frames: outcome.marker.frames, propagationSeconds: outcome.marker.propagationSeconds };
    onEvent?.({ type: "job-done", job: jobId, unit, result, seconds: (performance.now() - t0) / 1000 });
    return result;
  };

  const worker = new Worker<UnitJobData, UnitJobResult>(name, processor, {
    connection: client,
    prefix: QUEUE_PREFIX,
    concurrency,
    lockDuration,
    stalledInterval,
    maxStalledCount,
    autorun: false,
  });
  worker.on("error", (error) => {
    if (isConnectionError(error)) lost(error);
    else onEvent?.({ type: "worker-error", message: redactSecrets(error.message, url) });
  });
  worker.on("completed", () => {
    completed++;
  });
  worker.on("failed", (job, error) => {
    failed++;
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const final = error instanceof UnrecoverableError || job.attemptsMade >= attempts;
    onEvent?.({
      type: "job-failed",
      job: job.id ?? "?",
      ...(job.data?.unit ? { unit: job.data.unit } : {}),
      message: redactSecrets(error.message, url),
      attempt: job.attemptsMade,
      attempts,
      final,
    });
  });

  const closed = new Promise<void>((resolveClosed) => {
    const close = () => {
      onEvent?.({ type: "closing" });
      void worker.close().finally(() => resolveClosed());
    };
    if (options.signal?.aborted) close();
    else options.signal?.addEventListener("abort", close, { once: true });
  });
  onEvent?.({ type: "ready", queue: name, redis: redactRedisUrl(url), device, concurrency });
  const running = worker.run().catch((error: unknown) => {
    throw rethrowRedacted(error, url);
  });
  try {
    await Promise.race([closed, running]);
    await running;
  } finally {
    for (const p of [...stcns.values()]) await p.then((s) => s.dispose()).catch(() => undefined);
    for (const p of [...annotators.values()]) await p.then((m) => m.dispose()).catch(() => undefined);
    client.disconnect();
  }
  return { completed, failed };
}

/** BullMQ job states as {@link runStatus} counts them (`unknown`: the job is gone from Redis). */
export type JobState = "waiting" | "active" | "delayed" | "completed" | "failed" | "prioritized" | "waiting-children" | "unknown";

/** One job of a run in {@link RunStatus}. */
export interface RunJob extends StudyUnit {
  job: string;
  state: JobState;
  /** Tries started (BullMQ's attemptsStarted) and failed tries so far. */
  attemptsStarted: number;
  attemptsMade: number;
  /** The one-line error of the last failed try. */
  error?: string;
  /** Frames done of the sequence (active jobs). */
  progress?: { done: number; total: number };
  result?: UnitJobResult;
}

/** What {@link runStatus} returns. */
export interface RunStatus {
  run: string;
  out: string;
  queue: string;
  /** Jobs per state, plus `done-before` (units finished before the run was submitted, no job). */
  counts: Record<JobState | "done-before", number>;
  jobs: RunJob[];
  /** Jobs failed for good (after all their attempts, or refused). */
  failed: RunJob[];
  /** No job waits, runs or is delayed. */
  finished: boolean;
}

async function statusWith(client: Redis, run: string): Promise<RunStatus> {
  const record = await readRunRecord(client, run);
  const queue = new Queue<UnitJobData, UnitJobResult>(record.queue, { connection: client, prefix: QUEUE_PREFIX });
  try {
    const counts: RunStatus["counts"] = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, prioritized: 0, "waiting-children": 0, unknown: 0, "done-before": 0 };
    const jobs: RunJob[] = [];
    for (const u of record.units) {
      if (u.done) {
        counts["done-before"]++;
        continue;
      }
      const job = await queue.getJob(u.job);
      const state = (job ? await job.getState() : "unknown") as JobState;
      const known: JobState = state in counts ? state : "unknown";
      counts[known]++;
      const progress = job?.progress as { done?: number; total?: number } | undefined;
      jobs.push({
        table: u.table,
        method: u.method,
        sequence: u.sequence,
        job: u.job,
        state: known,
        attemptsStarted: job?.attemptsStarted ?? 0,
        attemptsMade: job?.attemptsMade ?? 0,
        ...(job?.failedReason ? { error: job.failedReason.split("\n")[0] as string } : {}),
        ...(known === "active" && typeof progress?.done === "number" && typeof progress.total === "number" ? { progress: { done: progress.done, total: progress.total } } : {}),
        ...(known === "completed" && job?.returnvalue ? { result: job.returnvalue } : {}),
      });
    }
    const failed = jobs.filter((j) => j.state === "failed");
    const finished = counts.waiting + counts.active + counts.delayed + counts.prioritized + counts["waiting-children"] === 0;
    return { run, out: record.out, queue: record.queue, counts, jobs, failed, finished };
  } finally {
    await queue.close();
  }
}

/** Counts of a run's jobs per state, and its failed jobs with their errors. */
export async function runStatus(options: { redis: string; run: string }): Promise<RunStatus> {
  const { client } = await openRedis(options.redis, { persistent: false });
  try {
    return await statusWith(client, options.run);
  } catch (error) {
    throw rethrowRedacted(error, options.redis);
  } finally {
    client.disconnect();
  }
}

/** Progress of {@link waitRun}. */
export type WaitEvent = { type: "status"; status: RunStatus } | ConnectionEvent | ReportEvent;

/** What {@link waitRun} returns. */
export interface WaitRunResult {
  status: RunStatus;
  /** The report written into the run's `out` (the same `stcn reproduce` writes). */
  report: StudyReport;
  /** Every job completed (none failed or lost). */
  ok: boolean;
}

/**
 * Waits until no job of the run waits or runs (polling every `pollMs`, default 1 s; Redis outages
 * are retried), then evaluates and writes the tables and the report exactly as `reproduceStudy` does.
 * `ok` is false when a job failed for good (the report then marks its rows missing).
 */
export async function waitRun(options: { redis: string; run: string; pollMs?: number; signal?: AbortSignal; onEvent?: (event: WaitEvent) => void }): Promise<WaitRunResult> {
  const pollMs = options.pollMs ?? 1000;
  const onEvent = options.onEvent;
  const { client } = await openRedis(options.redis, { persistent: true, ...(onEvent ? { onConnection: onEvent } : {}) });
  try {
    let status: RunStatus;
    for (;;) {
      if (options.signal?.aborted) throw new StcnError("ERR_STCN_INTERRUPTED", `stopped waiting for ${options.run}; the run goes on (stcn queue wait again to collect it)`);
      status = await statusWith(client, options.run);
      onEvent?.({ type: "status", status });
      if (status.finished) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    const report = await writeStudyReport(status.out, { ...(onEvent ? { onEvent } : {}) });
    return { status, report, ok: status.failed.length === 0 && status.counts.unknown === 0 };
  } catch (error) {
    throw rethrowRedacted(error, options.redis);
  } finally {
    client.disconnect();
  }
}
