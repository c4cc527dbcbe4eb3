/**
 * Cancellation (the library inside a service): an aborted tracker run rejects with Node's AbortError
 * shape within one frame's time, frees its memory bank (RSS back near its level before the call),
 * and the model keeps serving new runs. Also segmentFolder, the CLI's SIGINT/SIGTERM, and the
 * in-flight limit's queue (FIFO, abort while waiting).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, encodeLabelPng, encodeRgb, generateClip, getMaxInFlight, inFlightStats, isAbortError, segmentFolder, setMaxInFlight, setNumThreads, Stcn } from "../dist/index.js";
import type { GeneratedClip, RgbImage } from "../dist/index.js";
import { repoRoot, tempDir } from "./helpers.js";

const model = join(repoRoot, "models", "demo", "stcn-demo.pt");
const W = 160;
const H = 128;
const FRAMES = 60;

let stcn: Stcn;
let clip: GeneratedClip;
const frame = (i: number): RgbImage => ({ data: clip.frames[i % clip.frames.length] as Uint8Array, width: W, height: H });
const mask0 = () => ({ data: clip.masks[0] as Uint8Array, width: W, height: H });

beforeAll(async () => {
  // One intra-op thread: on a shared 2-core machine OpenMP teams spinning against each other made
  // frames 10-50x slower; the test measures memory and latency, not throughput.
  setNumThreads(1);
  stcn = await Stcn.load(model);
  clip = generateClip({ seed: 11, width: W, height: H, frames: 30, objects: 2 });
});
afterAll(() => stcn?.dispose());

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function rssMb(): number {
  gc();
  return process.memoryUsage().rss / 2 ** 20;
}

function same(a: Uint8Array, b: Uint8Array | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

// Every frame becomes memory (memEvery 1, input resolution): the bank grows by about 0.5 MB a frame,
// so a leaked bank shows in RSS.
const OPTIONS = { size: 0, memEvery: 1 } as const;

async function fullRun(): Promise<Uint8Array[]> {
  const tracker = stcn.track(OPTIONS);
  try {
    const out = [(await tracker.start(frame(0), mask0())).labels];
    for await (const f of tracker.run(Array.from({ length: FRAMES - 1 }, (_, i) => frame(i + 1)))) out.push(f.labels);
    return out;
  } finally {
    tracker.dispose();
  }
}

describe("cancellation", () => {
  it("abort mid-video: AbortError within one frame, the bank is freed, RSS back near its level, the model serves the next run", async () => {
    const reference = await fullRun();  // warm-up: the process reaches its steady heap
    await fullRun();
    const before = rssMb();
    const samples: string[] = [];
    let bankAtAbort = 0;
    for (let round = 0; round < 3; round++) {
      const controller = new AbortController();
      const tracker = stcn.track({ ...OPTIONS, signal: controller.signal });
      await tracker.start(frame(0), mask0());
      let abortedAt = 0;
      let seen = 0;
      let mismatches = 0;
      const run = (async () => {
        for await (const f of tracker.run(Array.from({ length: FRAMES - 1 }, (_, i) => frame(i + 1)))) {
          seen = f.index;
          if (!same(f.labels, reference[f.index])) mismatches += 1;
          if (f.index === FRAMES / 2) {
            bankAtAbort = tracker.stats().memoryBytes;
            // Abort while the next frame's native calls are in flight.
            setTimeout(() => {
              abortedAt = performance.now();
              controller.abort(new Error("client left"));
            }, 5);
          }
        }
      })();
      const error = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      const latency = performance.now() - abortedAt;
      const stats = tracker.stats();
      expect(mismatches).toBe(0);
      expect(error).toBeInstanceOf(AbortError);
      expect((error as AbortError).name).toBe("AbortError");
      expect((error as AbortError).code).toBe("ABORT_ERR");
      expect(((error as AbortError).cause as Error).message).toBe("client left");
      expect(isAbortError(error)).toBe(true);
      // It stopped at the next boundary: at most one more frame came out after the abort.
      expect(seen).toBeLessThanOrEqual(FRAMES / 2 + 1);
      // Within one frame's time: the slowest frame this process has computed (plus a little scheduling).
      const oneFrameMs = 1000 * Math.max(stats.frameSeconds.max, stats.frameSeconds.mean);
      samples.push(`round ${round}: aborted after ${latency.toFixed(1)} ms (one frame <= ${oneFrameMs.toFixed(1)} ms), bank ${(bankAtAbort / 2 ** 20).toFixed(1)} MiB`);
      expect(latency).toBeLessThan(oneFrameMs + 50);
      expect(tracker.disposed).toBe(true);
      expect(stats.memoryBytes).toBe(0);
      // The native calls of the aborted run are over: nothing holds an in-flight slot.
      expect(inFlightStats().active).toBe(0);
    }
    const after = rssMb();
    samples.push(`RSS before ${before.toFixed(1)} MiB, after three aborted runs ${after.toFixed(1)} MiB`);
    console.log(samples.join("\n"));
    // Three leaked banks would add 3 x bankAtAbort; the bound is below that.
    const leakMb = (3 * bankAtAbort) / 2 ** 20;
    const boundMb = 20;
    expect(leakMb).toBeGreaterThan(boundMb);
    expect(after - before).toBeLessThan(boundMb);
    // A new run on the same model works and gives the same labels.
    expect(await fullRun()).toEqual(reference);
  }, 600_000);

  it("an already aborted signal rejects at once; start() and segmentFolder take signals too", async () => {
    const tracker = stcn.track(OPTIONS);
    await expect(tracker.start(frame(0), mask0(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
    expect(tracker.disposed).toBe(true);

    const dir = tempDir("stcn-cancel-");
    const frames = join(dir, "frames");
    mkdirSync(frames);
    for (let i = 0; i < 20; i++) writeFileSync(join(frames, `${String(i).padStart(5, "0")}.png`), await encodeRgb(frame(i)));
    writeFileSync(join(dir, "mask.png"), encodeLabelPng(mask0().data, W, H));
    const controller = new AbortController();
    const out = join(dir, "out");
    const run = segmentFolder(stcn, {
      frames,
      mask: join(dir, "mask.png"),
      out,
      ...OPTIONS,
      signal: controller.signal,
      onFrame: (f) => {
        if (f.index === 5) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
    // An aborted run is an unfinished one: it removes the frames it wrote (and the folder it made).
    expect(existsSync(out), `${out} left behind`).toBe(false);
  }, 300_000);

  it("the in-flight limit queues native calls first come first served; an abort while waiting leaves the line", async () => {
    const previous = getMaxInFlight();
    setMaxInFlight(1);
    try {
      const trackers = [0, 1, 2].map(() => stcn.track(OPTIONS));
      const controller = new AbortController();
      const order: number[] = [];
      const starts = trackers.map((t, i) =>
        t.start(frame(0), mask0(), i === 1 ? { signal: controller.signal } : {}).then(() => order.push(i)),
      );
      // Wait until all three are in line (each first decodes its inputs), then abort the middle one.
      const t0 = performance.now();
      while (inFlightStats().waiting < 2 && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
      expect(inFlightStats()).toMatchObject({ limit: 1, active: 1, waiting: 2 });
      controller.abort();
      const settled = await Promise.allSettled(starts);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(AbortError);
      expect(order).toEqual([0, 2]);
      expect(inFlightStats()).toMatchObject({ active: 0, waiting: 0 });
      for (const t of trackers) t.dispose();
    } finally {
      setMaxInFlight(previous);
    }
  }, 120_000);
});

describe("CLI signals", () => {
  it("stcn segment: SIGINT exits 130 and SIGTERM 143 with one ERR_STCN_INTERRUPTED line; the unfinished run leaves no frames", async () => {
    const dir = tempDir("stcn-cancel-cli-");
    const frames = join(dir, "frames");
    mkdirSync(frames);
    const n = 200;
    for (let i = 0; i < n; i++) writeFileSync(join(frames, `${String(i).padStart(5, "0")}.png`), await encodeRgb(frame(i)));
    writeFileSync(join(dir, "mask.png"), encodeLabelPng(mask0().data, W, H));
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const out = join(dir, `out-${signal}`);
      const child = spawn(process.execPath, [join(repoRoot, "dist", "cli.js"), "segment", "--model", model, "--frames", frames, "--mask", join(dir, "mask.png"), "--out", out, "--size", "0", "--no-progress"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, STCN_NUM_THREADS: "1" },
      });
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      // Signal once a few frames are written.
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (existsSync(out) && readdirSync(out).filter((f) => f.endsWith(".png")).length >= 3) {
            clearInterval(poll);
            resolve();
          }
        }, 20);
      });
      child.kill(signal);
      const status = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      expect(status, stderr).toBe(code);
      expect(stderr).toMatch(new RegExp(`stcn: interrupted by ${signal}; finished outputs are complete, nothing is half-written \\[ERR_STCN_INTERRUPTED\\]`));
      // An unfinished run removes what it wrote (here the folder it created), as any failed run does.
      expect(existsSync(out), `${out} left behind`).toBe(false);
    }
  }, 300_000);
});
