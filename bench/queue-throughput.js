#!/usr/bin/env node
/**
 * bench/queue-throughput.js: `stcn queue` throughput with 1 worker vs 2 worker processes on this
 * machine, as a ratio (units per second), in one run: 1 worker, 2 workers, 1 worker again (ABA; the
 * 1-worker number is the mean of the two, so a load drifting on a shared machine favours neither).
 *
 * Work: a DAVIS root of 8 sequences x 8 frames cut from ../shared/data/davis-judo (854x480), the
 * bundled demo STCN at 128 px (models/demo), Table 1 (one unit per sequence). A real redis-server
 * on a free loopback port. Every worker is warmed up (TorchScript's profiling executor optimises on
 * its first calls) with jobs of a warm-up run before the timed run; a timed run is submit -> all done.
 *
 * Each worker uses LibTorch's default threads (every core), as a user would start one per machine.
 * On a machine with few cores two workers compete for the same cores, so the ratio says how much the
 * overlap of one worker's decoding/writing with the other's compute gains there, not how the queue
 * scales over machines (which adds whole machines).
 *
 * Usage: node bench/queue-throughput.js [--sequences 8] [--frames 8]   (needs dist/ and the addon)
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({ options: { sequences: { type: "string", default: "8" }, frames: { type: "string", default: "8" } } });
const nSeq = Number(args.sequences);
const nFrames = Number(args.frames);
const cli = join(root, "dist", "cli.js");
const model = join(root, "models", "demo", "stcn-demo.pt");
const judo = join(root, "..", "shared", "data", "davis-judo");
const work = mkdtempSync(join(tmpdir(), "stcn-queue-bench-"));

function makeRoot(dir, names) {
  mkdirSync(join(dir, "ImageSets", "2017"), { recursive: true });
  names.forEach((name, i) => {
    const start = i % (16 - nFrames + 1);
    for (const [kind, ext] of [["JPEGImages", "jpg"], ["Annotations", "png"]]) {
      mkdirSync(join(dir, kind, "480p", name), { recursive: true });
      for (let k = 0; k < nFrames; k++) {
        symlinkSync(join(judo, kind, "480p", "judo", `${String(start + k).padStart(5, "0")}.${ext}`), join(dir, kind, "480p", name, `${String(k).padStart(5, "0")}.${ext}`));
      }
    }
  });
  writeFileSync(join(dir, "ImageSets", "2017", "val.txt"), names.join("\n") + "\n");
}

const port = await new Promise((res) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
mkdirSync(join(work, "redis"));
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", join(work, "redis"), "--save", ""], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((res, rej) => {
  let log = "";
  redis.stdout.on("data", (d) => {
    log += d;
    if (log.includes("Ready to accept connections")) res();
  });
  redis.once("exit", (c) => rej(new Error(`redis-server exited ${c}`)));
});
const url = `redis://127.0.0.1:${port}`;

/** Runs the CLI asynchronously (the workers' output pipes must keep being read meanwhile). */
const cli$ = (a) =>
  new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, ...a], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => (code === 0 ? res(out.trim()) : rej(new Error(`stcn ${a.slice(0, 2).join(" ")} failed: ${err}`))));
  });
let runs = 0;
/** Submits `names` (a new root and out), waits; returns seconds from submit to the end. */
async function timedRun(names) {
  const id = runs++;
  const davis = join(work, `davis-${id}`);
  makeRoot(davis, names);
  const t0 = performance.now();
  const run = await cli$(["queue", "submit", "--redis", url, "--davis", davis, "--table", "1", "--stcn", model, "--size", "128", "--out", join(work, `out-${id}`)]);
  await cli$(["queue", "wait", "--redis", url, run, "--poll-ms", "100"]);
  return (performance.now() - t0) / 1000;
}

async function withWorkers(n) {
  const workers = [];
  for (let i = 0; i < n; i++) {
    const w = spawn(process.execPath, [cli, "queue", "worker", "--redis", url], { stdio: ["ignore", "pipe", "inherit"] });
    w.log = "";
    w.stdout.on("data", (d) => (w.log += d));
    workers.push(w);
  }
  // Warm up: until every worker has finished a job.
  for (let round = 0; workers.some((w) => !w.log.includes(": done ")); round++) {
    if (round > 10) throw new Error("a worker never got a warm-up job");
    await timedRun(Array.from({ length: 2 * n }, (_, i) => `warm-${round}-${i}`));
  }
  const seconds = await timedRun(Array.from({ length: nSeq }, (_, i) => `seq-${i}`));
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.once("exit", r)))));
  return seconds;
}

try {
  console.log(`machine: ${cpus()[0]?.model ?? "?"} x${availableParallelism()}, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(`work: ${nSeq} sequences x ${nFrames} frames (davis-judo, 854x480), demo STCN at 128 px, Table 1; workers use every core each`);
  const a1 = await withWorkers(1);
  const b = await withWorkers(2);
  const a2 = await withWorkers(1);
  const one = (a1 + a2) / 2;
  console.log(`1 worker : ${a1.toFixed(1)} s, ${a2.toFixed(1)} s -> ${(nSeq / one).toFixed(3)} units/s`);
  console.log(`2 workers: ${b.toFixed(1)} s -> ${(nSeq / b).toFixed(3)} units/s`);
  console.log(`ratio 2 workers / 1 worker: ${(one / b).toFixed(2)}x (${availableParallelism()} cores shared by both workers; load at the end ${loadavg()[0].toFixed(1)})`);
} finally {
  redis.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
