/**
 * Cancellation of the calls service-cancel.test.ts does not cover: evaluateDavis (inline, inline with
 * `blocking` and a timer, worker threads), the LOST annotator (`lostAnnotateFile`, with and without
 * the CRF), `Module.runWithOptions` and the detector annotator (`detectorAnnotateFile`). Each aborted
 * call rejects with Node's AbortError shape (name "AbortError", code "ABORT_ERR", the reason as
 * `cause`), gives its in-flight slot back and leaves no output file (no CSV, no PNG, no temp file).
 *
 * Models: a random-weight DINO ViT-Tiny/16 (`stcn export dino --arch vit_tiny --random-init`, ~2 s)
 * and a reduced random-weight Mask R-CNN (`--min-size 128 --max-size 200`, ~4 s to export, ~1 s a
 * run on one thread) on a generated 160x128 frame.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError,
  detectorAnnotateFile,
  encodeRgb,
  evaluateDavis,
  generateClip,
  generateDavisRoot,
  inFlightStats,
  isAbortError,
  loadModule,
  lostAnnotateFile,
  runExporter,
  setNumThreads,
  Tensor,
  type Module,
} from "../dist/index.js";
import { tempDir } from "./helpers.js";

/** The AbortError shape every aborted call rejects with. */
function expectAbortError(error: unknown, reason?: string): void {
  expect(error).toBeInstanceOf(AbortError);
  expect(error).toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
  expect(isAbortError(error)).toBe(true);
  if (reason !== undefined) expect(((error as AbortError).cause as Error).message).toBe(reason);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to reject");
    },
    (error: unknown) => error,
  );
}

/**
 * Aborts `controller` as soon as a native job holds an in-flight slot (polled once per event-loop
 * turn): the abort arrives while a `Module.run` computes, which cannot be interrupted, so the call
 * must reject when the run returns. Resolves whether the abort came during a native run.
 */
function abortDuringNativeRun(controller: AbortController, reason: string): Promise<boolean> {
  return new Promise((resolve) => {
    const poll = (): void => {
      if (controller.signal.aborted) return resolve(false);
      if (inFlightStats().active > 0) {
        controller.abort(new Error(reason));
        return resolve(true);
      }
      setImmediate(poll);
    };
    setImmediate(poll);
  });
}

beforeAll(() => {
  // One intra-op thread, as the other native suites: OpenMP teams spinning against each other on a
  // shared 2-core machine made runs many times slower.
  setNumThreads(1);
});

describe("evaluateDavis", () => {
  let root: string;
  let results: string;

  beforeAll(async () => {
    root = tempDir("stcn-abort-davis-");
    // 4 sequences x 40 frames: 152 evaluated frames (inline under `blocking`: at most 300).
    await generateDavisRoot({ root, seeds: [21, 22, 23, 24], frames: 40 });
    // The ground truth as results: a valid results folder.
    results = join(root, "Annotations", "480p");
  });

  const base = () => ({ davisRoot: root, resultsPath: results, out: tempDir("stcn-abort-csv-") });

  it("the fixture evaluates and writes both CSVs without an abort", async () => {
    const options = base();
    const evaluation = await evaluateDavis({ ...options, workers: 0, signal: new AbortController().signal });
    expect(evaluation.global["J-Mean"]).toBe(1);
    expect(readdirSync(options.out).sort()).toEqual(["global_results-val.csv", "per-sequence_results-val.csv"]);
  });

  it("an already aborted signal rejects at once and writes nothing", async () => {
    const options = base();
    const error = await rejection(evaluateDavis({ ...options, signal: AbortSignal.abort(new Error("gone")) }));
    expectAbortError(error, "gone");
    expect(readdirSync(options.out)).toEqual([]);
  });

  it("inline (workers 0): an abort from onProgress stops before the next chunk; no CSV", async () => {
    const options = base();
    const controller = new AbortController();
    let calls = 0;
    let total = 0;
    const error = await rejection(
      evaluateDavis({
        ...options,
        workers: 0,
        chunkFrames: 2,
        signal: controller.signal,
        onProgress: (done, all) => {
          calls += 1;
          total = all;
          if (done >= 4) controller.abort(new Error("client left"));
        },
      }),
    );
    expectAbortError(error, "client left");
    expect(total).toBe(152);
    // Two chunks of 2 frames, then the abort: nothing after it.
    expect(calls).toBe(2);
    expect(readdirSync(options.out)).toEqual([]);
  });

  it("inline with blocking: a timer's abort is seen (the loop yields between chunks); no CSV", async () => {
    const options = base();
    const controller = new AbortController();
    let done = 0;
    let total = 0;
    let scheduled = false;
    const error = await rejection(
      evaluateDavis({
        ...options,
        blocking: true,
        chunkFrames: 1,
        signal: controller.signal,
        onProgress: (d, all) => {
          done = d;
          total = all;
          if (!scheduled) {
            scheduled = true;
            setTimeout(() => controller.abort(new Error("timer")), 0);
          }
        },
      }),
    );
    expectAbortError(error, "timer");
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(total);
    expect(readdirSync(options.out)).toEqual([]);
  });

  it("worker threads: an abort terminates the workers and rejects; no CSV; the next evaluation works", async () => {
    const options = base();
    const controller = new AbortController();
    let done = 0;
    let total = 0;
    const error = await rejection(
      evaluateDavis({
        ...options,
        workers: 2,
        chunkFrames: 2,
        signal: controller.signal,
        onProgress: (d, all) => {
          done = d;
          total = all;
          controller.abort(new Error("stop"));
        },
      }),
    );
    expectAbortError(error, "stop");
    expect(done).toBeLessThan(total);
    expect(readdirSync(options.out)).toEqual([]);
    const again = base();
    const evaluation = await evaluateDavis({ ...again, workers: 2, chunkFrames: 2, signal: new AbortController().signal });
    expect(evaluation.workers).toBe(2);
    expect(readdirSync(again.out).sort()).toEqual(["global_results-val.csv", "per-sequence_results-val.csv"]);
  });
});

/** A generated 160x128 frame as a PNG file in `dir`. */
async function framePng(dir: string): Promise<string> {
  const clip = generateClip({ seed: 5, width: 160, height: 128, frames: 2, objects: 2 });
  const path = join(dir, "frame.png");
  writeFileSync(path, await encodeRgb({ data: clip.frames[0] as Uint8Array, width: 160, height: 128 }));
  return path;
}

describe("LOST annotator", () => {
  let dir: string;
  let dino: string;
  let frame: string;

  beforeAll(async () => {
    dir = tempDir("stcn-abort-lost-");
    dino = join(dir, "dino.pt");
    await runExporter("dino", { arch: "vit_tiny", "random-init": true, seed: 3, out: dino }, { stdio: "pipe" });
    frame = await framePng(dir);
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true }); // ~22 MB archive
  });

  it("runs to the end without an abort (the fixture works)", async () => {
    const out = join(dir, "ok.png");
    const done = await lostAnnotateFile({ method: "lost-crf", model: dino, frames: frame, out, signal: new AbortController().signal });
    expect(done.objects.length).toBe(1);
    expect(existsSync(out)).toBe(true);
  });

  it("an already aborted signal rejects at once (lost and lost-crf); no file", async () => {
    for (const method of ["lost", "lost-crf"] as const) {
      const out = join(dir, `pre-${method}.png`);
      const error = await rejection(lostAnnotateFile({ method, model: dino, frames: frame, out, signal: AbortSignal.abort(new Error("pre")) }));
      expectAbortError(error, "pre");
      expect(existsSync(out)).toBe(false);
    }
  });

  it("a 0 ms timer's abort (an early stage) rejects; no file", async () => {
    for (const method of ["lost", "lost-crf"] as const) {
      const out = join(dir, `timer-${method}.png`);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error("timer")), 0);
      const error = await rejection(lostAnnotateFile({ method, model: dino, frames: frame, out, signal: controller.signal }));
      expectAbortError(error, "timer");
      expect(existsSync(out)).toBe(false);
    }
  });

  it("an abort while DINO runs takes effect when the run returns: the CRF is skipped, no file, the slot is back", async () => {
    for (const method of ["lost", "lost-crf"] as const) {
      const out = join(dir, `mid-${method}.png`);
      const controller = new AbortController();
      const during = abortDuringNativeRun(controller, "mid");
      const error = await rejection(lostAnnotateFile({ method, model: dino, frames: frame, out, signal: controller.signal }));
      expect(await during).toBe(true);
      expectAbortError(error, "mid");
      expect(existsSync(out)).toBe(false);
      expect(inFlightStats().active).toBe(0);
    }
    // Nothing but the exported model, the frame and the fixture's output: no temp file either.
    expect(readdirSync(dir).sort()).toEqual(["dino.pt", "frame.png", "ok.png"]);
  });

  describe("Module.runWithOptions", () => {
    let model: Module;
    beforeAll(async () => {
      model = await loadModule(dino);
    });
    afterAll(() => model?.dispose());

    const input = () => Tensor.fromTypedArray(new Uint8Array(64 * 48 * 3).fill(90), [48, 64, 3]);

    it("an aborted signal rejects before the run; an abort during the run rejects when it returns; run() still works", async () => {
      const x = input();
      try {
        expectAbortError(await rejection(model.runWithOptions("lost_gram", [x, "k"], { signal: AbortSignal.abort(new Error("pre")) })), "pre");
        expect(inFlightStats().active).toBe(0);
        const controller = new AbortController();
        const during = abortDuringNativeRun(controller, "mid");
        const error = await rejection(model.runWithOptions("lost_gram", [x, "k"], { signal: controller.signal }));
        expect(await during).toBe(true);
        expectAbortError(error, "mid");
        expect(inFlightStats().active).toBe(0);
        const [gram, rows, cols] = (await model.run("lost_gram", x, "k")) as [Tensor, number, number];
        expect([rows, cols]).toEqual([3, 4]);
        expect(gram.shape).toEqual([12, 12]);
        gram.dispose();
      } finally {
        x.dispose();
      }
    });
  });
});

describe("detector annotator", () => {
  let dir: string;
  let model: string;
  let frame: string;

  beforeAll(async () => {
    dir = tempDir("stcn-abort-detector-");
    model = join(dir, "maskrcnn.pt");
    await runExporter(
      "maskrcnn",
      { "random-init": true, seed: 3, "min-size": 128, "max-size": 200, "detections-per-img": 5, out: model },
      { stdio: "pipe" },
    );
    frame = await framePng(dir);
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true }); // ~180 MB archive
  });

  it("an already aborted signal rejects before the model is loaded; no file", async () => {
    const out = join(dir, "pre.png");
    const t0 = performance.now();
    const error = await rejection(detectorAnnotateFile({ method: "maskrcnn", model, frames: frame, out, noGt: true, signal: AbortSignal.abort(new Error("pre")) }));
    expectAbortError(error, "pre");
    // Loading the 180 MB archive alone takes most of a second.
    expect(performance.now() - t0).toBeLessThan(500);
    expect(existsSync(out)).toBe(false);
  });

  it("an abort while the detector runs takes effect when it returns; no file; the slot is back", async () => {
    const out = join(dir, "mid.png");
    const controller = new AbortController();
    const during = abortDuringNativeRun(controller, "mid");
    const error = await rejection(detectorAnnotateFile({ method: "maskrcnn", model, frames: frame, out, noGt: true, signal: controller.signal }));
    expect(await during).toBe(true);
    expectAbortError(error, "mid");
    expect(existsSync(out)).toBe(false);
    expect(inFlightStats().active).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["frame.png", "maskrcnn.pt"]);
  });
});
