/**
 * `stcn queue` on a real redis-server (started by this file on a free loopback port, with a password,
 * in a temporary folder) and worker processes (`dist/cli.js queue worker`), with the bundled demo STCN
 * on 4 short sequences cut from ../shared/data/davis-judo (8 frames each, 128 px working size):
 * - 2 workers: `queue wait`'s table equals `stcn reproduce`'s on the same inputs, result PNGs equal;
 * - a truncated frame: its job fails after its attempts, `status` shows the error, the rest completes;
 *   a forged payload pointing outside the run's roots is refused without retry;
 * - Redis stopped and restarted during a run: workers log the loss once, reconnect and finish;
 * - SIGKILL of a worker holding a job: the job is taken over, each unit done once, outputs identical;
 * - the password never appears in any output.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPath, repoRoot, tempDir } from "./helpers.js";

const cli = join(repoRoot, "dist", "cli.js");
const model = join(repoRoot, "models", "demo", "stcn-demo.pt");
const PASSWORD = "pw-Zq81-never-printed";
const SEQUENCES: Array<[string, number]> = [["judo-a", 0], ["judo-b", 2], ["judo-c", 4], ["judo-d", 8]];
const FRAMES = 8;
// Test fault settings: a dead worker's job is taken back within ~8 s (defaults: 60 s lock, 30 s check).
const WORKER_ARGS = ["--lock-ms", "8000", "--stalled-ms", "1000"];

/** Every byte any CLI process printed (checked for the password at the end). */
const printed: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A redis-server child with AOF persistence (fsync always), so a restart keeps the queue. */
class RedisServer {
  proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  async start(): Promise<void> {
    const proc = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--requirepass", PASSWORD, "--appendonly", "yes", "--appendfsync", "always", "--save", ""], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${log}`)), 20_000);
      proc.stdout?.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${log}`)));
    });
  }
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    await exited;
  }
}

/** A CLI child whose output is collected; `waitFor` resolves when a line matches. */
class CliProcess {
  out = "";
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (d: Buffer) => {
      this.out += d.toString();
    };
    this.proc.stdout?.on("data", collect);
    this.proc.stderr?.on("data", collect);
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => {
      printed.push(this.out);
      resolve(code);
    }));
  }
  async waitFor(pattern: RegExp, timeoutMs = 180_000): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    for (;;) {
      const m = this.out.match(pattern);
      if (m) return m;
      if (this.proc.exitCode !== null) throw new Error(`process exited ${this.proc.exitCode} before ${pattern}:\n${this.out}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`timeout waiting for ${pattern}:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", maxBuffer: 64 << 20, timeout: 300_000 });
  printed.push(r.stdout, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A DAVIS root of 4 sequences of 8 frames cut from davis-judo (links; `truncate` copies one frame cut in half). */
function makeRoot(root: string, truncate?: { sequence: string; frame: number }): void {
  const judo = dataPath("davis-judo");
  mkdirSync(join(root, "ImageSets", "2017"), { recursive: true });
  for (const [name, start] of SEQUENCES) {
    for (const [kind, ext] of [["JPEGImages", "jpg"], ["Annotations", "png"]] as const) {
      const dir = join(root, kind, "480p", name);
      mkdirSync(dir, { recursive: true });
      for (let k = 0; k < FRAMES; k++) {
        const src = join(judo, kind, "480p", "judo", `${String(start + k).padStart(5, "0")}.${ext}`);
        const dst = join(dir, `${String(k).padStart(5, "0")}.${ext}`);
        if (kind === "JPEGImages" && truncate?.sequence === name && truncate.frame === k) {
          const bytes = readFileSync(src);
          writeFileSync(dst, bytes.subarray(0, bytes.length >> 1));
        } else symlinkSync(src, dst);
      }
    }
  }
  writeFileSync(join(root, "ImageSets", "2017", "val.txt"), SEQUENCES.map(([n]) => n).join("\n") + "\n");
}

/** J&F, J, F of table-1.csv (FPS and first-frame time are timings, not results). */
function scores(out: string): string[] {
  return readFileSync(join(out, "table-1.csv"), "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(",").slice(0, 4).join(","));
}

/** Every file under the gt method folder with its bytes, except the markers and evaluation.json (they hold timings). */
function resultFiles(out: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const base = join(out, "table-1", "gt");
  const walk = (rel: string) => {
    for (const name of readdirSync(join(base, rel))) {
      const path = join(base, rel, name);
      if (statSync(path).isDirectory()) {
        if (name !== ".done") walk(join(rel, name));
      } else if (name !== "evaluation.json") files.set(join(rel, name), readFileSync(path));
    }
  };
  walk("");
  return files;
}

describe("stcn queue (BullMQ on redis-server)", () => {
  let dir: string;
  let root: string;
  let redis: RedisServer;
  let url: string;
  let baseline: string;
  const workers: CliProcess[] = [];
  const submit = (out: string, extra: string[] = [], davis = root) => {
    const r = runCli(["queue", "submit", "--redis", url, "--davis", davis, "--table", "1", "--stcn", model, "--size", "128", "--out", out, ...extra]);
    expect(r.status, r.stderr).toBe(0);
    const run = r.stdout.trim();
    expect(run).toMatch(/^run-[a-z0-9]+-[0-9a-f]{6}$/);
    return run;
  };
  const startWorker = async () => {
    const w = new CliProcess(["queue", "worker", "--redis", url, ...WORKER_ARGS]);
    workers.push(w);
    await w.waitFor(/worker: serving queue units-cpu/);
    return w;
  };
  const status = (run: string) => {
    const r = runCli(["queue", "status", "--redis", url, run, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { stcn: string; command: string; result: unknown };
    expect(doc.command).toBe("queue status");
    return doc.result as { counts: Record<string, number>; jobs: Array<{ sequence: string; state: string; attemptsStarted: number; attemptsMade: number; error?: string; job: string }>; failed: Array<{ sequence: string; error?: string; attemptsMade: number }> };
  };

  beforeAll(async () => {
    dir = tempDir("stcn-queue-");
    root = join(dir, "davis");
    makeRoot(root);
    mkdirSync(join(dir, "redis"));
    redis = new RedisServer(await freePort(), join(dir, "redis"));
    await redis.start();
    url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    // The uninterrupted single-process run the queue's results are compared with.
    baseline = join(dir, "reproduce");
    const r = runCli(["reproduce", "--davis", root, "--table", "1", "--stcn", model, "--size", "128", "--out", baseline, "--no-progress"]);
    expect(r.status, r.stderr).toBe(0);
    await startWorker();
    await startWorker();
  });

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
    await redis?.stop();
    // The password never reached any output (submit, workers, status, wait, errors).
    for (const text of printed) expect(text).not.toContain(PASSWORD);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("2 worker processes run the 4 sequences; wait's table equals reproduce's, result files identical", async () => {
    const out = join(dir, "run-two");
    const run = submit(out);
    const wait = new CliProcess(["queue", "wait", "--redis", url, run, "--poll-ms", "250"]);
    expect(await wait.exited, wait.out).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // the workers' last lines through their pipes
    expect(scores(out)).toEqual(scores(baseline));
    expect(scores(out)[1]).toMatch(/^gt,0\.\d{3},0\.\d{3},0\.\d{3}$/);
    // Both workers took jobs, and every unit was done once.
    const [a, b] = workers as [CliProcess, CliProcess];
    const doneLines = (w: CliProcess) => [...w.out.matchAll(new RegExp(`job ${run}\\.t1\\.gt\\.(judo-[a-d]): done`, "g"))].map((m) => m[1]);
    expect(doneLines(a).length, a.out).toBeGreaterThan(0);
    expect(doneLines(b).length, b.out).toBeGreaterThan(0);
    expect([...doneLines(a), ...doneLines(b)].sort()).toEqual(SEQUENCES.map(([n]) => n));
    expect(resultFiles(out)).toEqual(resultFiles(baseline));
    // The report is the one reproduce writes (same files).
    for (const f of ["report.md", "report.json", "chart.svg", "study.json", "table-1/gt/global_results-val.csv"]) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, "table-1", "gt", "per-sequence_results-val.csv"), "utf8")).toBe(readFileSync(join(baseline, "table-1", "gt", "per-sequence_results-val.csv"), "utf8"));
    // status after the end: all completed.
    expect(status(run).counts).toMatchObject({ completed: 4, failed: 0, active: 0, waiting: 0, delayed: 0 });
  }, 300_000);

  it("a truncated frame fails its job after 2 attempts; status shows the error; the others complete; forged paths are refused", async () => {
    const poisoned = join(dir, "davis-poisoned");
    makeRoot(poisoned, { sequence: "judo-c", frame: 5 });
    const out = join(dir, "run-poisoned");
    const run = submit(out, ["--attempts", "2", "--backoff-ms", "300"], poisoned);
    const wait = runCli(["queue", "wait", "--redis", url, run, "--poll-ms", "250"]);
    expect(wait.status).toBe(1);
    expect(wait.stderr).toMatch(/stcn: 1 job\(s\) of run-\S+ failed for good; their rows are missing from the report \[ERR_STCN_QUEUE\]/);
    const s = status(run);
    expect(s.counts).toMatchObject({ completed: 3, failed: 1 });
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]?.sequence).toBe("judo-c");
    expect(s.failed[0]?.attemptsMade).toBe(2);
    expect(s.failed[0]?.error).toMatch(/judo-c\/00005\.jpg.*premature end of JPEG/);
    const text = runCli(["queue", "status", "--redis", url, run]);
    expect(text.stdout).toContain("3 completed");
    expect(text.stdout).toMatch(/failed: table 1 gt judo-c after 2 attempt\(s\): .*00005\.jpg/);
    // The report marks the row missing (3 of 4 sequences), like a partial reproduce.
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/3\/4 sequences done \(missing: judo-c\)/);
    for (const seq of ["judo-a", "judo-b", "judo-d"]) expect(existsSync(join(out, "table-1", "gt", ".done", `${seq}.json`))).toBe(true);
    expect(existsSync(join(out, "table-1", "gt", ".done", "judo-c.json"))).toBe(false);

    // A payload naming paths outside the run's declared roots: refused at once, no retry.
    const queue = new Queue("units-cpu", { connection: { host: "127.0.0.1", port: redis.port, password: PASSWORD }, prefix: "stcn" });
    try {
      // A real job's payload with its output root pointed elsewhere.
      const real = await queue.getJob(`${run}.t1.gt.judo-a`);
      expect(real?.data.out).toBe(out);
      const forged = await queue.add("unit", { ...real?.data, out: join(out, "..", "..", "elsewhere") }, { jobId: `${run}.forged`, attempts: 3 });
      let state = "";
      for (let i = 0; i < 600 && state !== "failed"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = await queue.getJobState(forged.id as string);
      }
      const job = await queue.getJob(forged.id as string);
      expect(state).toBe("failed");
      expect(job?.attemptsMade).toBe(1);
      expect(job?.failedReason).toMatch(/refused: out ".*elsewhere" is outside the run's declared roots/);
      expect(existsSync(join(dir, "elsewhere"))).toBe(false);
    } finally {
      await queue.close();
    }
  }, 300_000);

  it("Redis stopped and restarted during a run: workers log one line, reconnect and finish", async () => {
    const out = join(dir, "run-restart");
    const run = submit(out);
    const before = workers.map((w) => w.out.length);
    const wait = new CliProcess(["queue", "wait", "--redis", url, run, "--poll-ms", "250"]);
    await Promise.race(workers.map((w) => w.waitFor(new RegExp(`job ${run}\\S+: start`))));
    await redis.stop();
    await new Promise((r) => setTimeout(r, 2000));
    await redis.start();
    expect(await wait.exited, wait.out).toBe(0);
    expect(scores(out)).toEqual(scores(baseline));
    expect(resultFiles(out)).toEqual(resultFiles(baseline));
    for (const [i, w] of workers.entries()) {
      const during = w.out.slice(before[i]);
      expect(during.match(/worker: lost Redis/g), during).toHaveLength(1);
      expect(during).toMatch(new RegExp(`worker: lost Redis redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} \\(.+\\); reconnecting with backoff`));
      expect(during).toContain("worker: reconnected to Redis");
      expect(w.proc.exitCode).toBeNull();
    }
    expect(status(run).counts).toMatchObject({ completed: 4, failed: 0 });
  }, 300_000);

  it("SIGKILL of a worker holding a job: the job is taken over; each unit done once; outputs identical", async () => {
    const out = join(dir, "run-kill");
    const [victim, survivor] = workers as [CliProcess, CliProcess];
    const from = victim.out.length;
    const run = submit(out);
    const wait = new CliProcess(["queue", "wait", "--redis", url, run, "--poll-ms", "250"]);
    // Kill the victim once it has written 2 result frames of its job (it holds the job's lock).
    const start = new RegExp(`job ${run}\\.t1\\.gt\\.(judo-[a-d]): start`);
    let held = "";
    for (let i = 0; !held; i++) {
      const m = victim.out.slice(from).match(start);
      if (m) {
        const seqDir = join(out, "table-1", "gt", m[1] as string);
        if (existsSync(seqDir) && readdirSync(seqDir).filter((f) => f.endsWith(".png")).length >= 2) held = m[1] as string;
      }
      if (i > 9000) throw new Error(`the victim never held a job:\n${victim.out.slice(from)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    victim.proc.kill("SIGKILL");
    expect(victim.out.slice(from)).not.toMatch(new RegExp(`job ${run}\\.t1\\.gt\\.${held}: done`));
    expect(await wait.exited, wait.out).toBe(0);
    // The survivor took the stalled job over and redid it from scratch.
    expect(survivor.out).toMatch(new RegExp(`job ${run}\\.t1\\.gt\\.${held}: start table 1 gt ${held} \\(attempt 1\\)`));
    expect(survivor.out).toMatch(new RegExp(`job ${run}\\.t1\\.gt\\.${held}: done table 1 gt ${held}: computed, 8 frames`));
    const s = status(run);
    expect(s.counts).toMatchObject({ completed: 4, failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(s.jobs.find((j) => j.sequence === held)?.attemptsStarted).toBe(2);
    // Exactly once in the final state: one marker per unit listing exactly the files present; same bytes
    // as the uninterrupted run; no temp file.
    for (const [seq] of SEQUENCES) {
      const marker = JSON.parse(readFileSync(join(out, "table-1", "gt", ".done", `${seq}.json`), "utf8")) as { files: string[]; frames: number };
      expect(marker.frames).toBe(FRAMES);
      expect(readdirSync(join(out, "table-1", "gt", seq)).map((f) => `${seq}/${f}`).sort()).toEqual([...marker.files].sort());
    }
    expect(readdirSync(join(out, "table-1", "gt", ".done")).sort()).toEqual(SEQUENCES.map(([n]) => `${n}.json`));
    expect(resultFiles(out)).toEqual(resultFiles(baseline));
    expect([...resultFiles(out).keys()].filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(scores(out)).toEqual(scores(baseline));
  }, 300_000);

  it("bad Redis URLs, unreachable servers, a missing device: one line, password masked", () => {
    const port = redis.port;
    const wrong = runCli(["queue", "status", "--redis", `redis://:${PASSWORD}x@127.0.0.1:${port}`, "run-x-000000"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrong.stderr).toMatch(/^stcn: .*redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.*\[ERR_STCN_QUEUE\]$/m);
    const missing = runCli(["queue", "status", "--redis", url, "run-nope-000000"]);
    expect(missing.stderr.trim()).toBe("stcn: no run run-nope-000000 in this Redis [ERR_STCN_QUEUE]");
    const down = runCli(["queue", "submit", "--redis", `redis://:${PASSWORD}@127.0.0.1:1`, "--davis", root, "--stcn", model, "--out", join(dir, "never")]);
    expect(down.status).toBe(1);
    expect(down.stderr.trim()).toMatch(/^stcn: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED.* \[ERR_STCN_QUEUE\]$/);
    expect(existsSync(join(dir, "never"))).toBe(false);
    // A worker that cannot use its device stops at once instead of failing every job it would take.
    const noDevice = runCli(["queue", "worker", "--redis", url, "--device", "cuda:99"]);
    expect(noDevice.status).toBe(1);
    expect(noDevice.stderr.trim()).toMatch(/^stcn: device cuda:99 is not available here \(\d+ CUDA device\(s\); stcn info shows the build flavour\) \[ERR_STCN_DEVICE\]$/);
    const notUrl = runCli(["queue", "worker", "--redis", PASSWORD]);
    expect(notUrl.status).toBe(2);
    expect(notUrl.stderr.trim()).toBe("stcn: --redis must be a redis:// or rediss:// URL, got <redis url> [ERR_STCN_ARGUMENT]; see: stcn queue --help");
  });
});
