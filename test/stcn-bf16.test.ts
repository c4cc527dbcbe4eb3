/**
 * CPU bfloat16 (`half: true`) against float32 on the trained demo model: J&F on held-out generated
 * clips (seeds 900000-900004, never seen in training) may drift by at most 0.3 points,
 * and on real frames (../shared/data/clips) the labels stay close to the float32 run's. Both
 * precisions load with optimization "freeze" (bfloat16 autocast on CPU always runs the frozen graph;
 * see docs/stcn.md).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_MODEL_PATH, runDemo } from "../dist/demo/demo.js";
import { Stcn } from "../dist/stcn/stcn.js";
import { listFrames } from "../dist/stcn/video.js";
import { dataRoot, tempDir } from "./helpers.js";

// The first 5 of the 20 held-out clips (all 20: `node bench/bf16-drift.js`, numbers in docs/stcn.md).
/**
 * Whether oneDNN can run bfloat16 convolutions here: without avx512_bf16 (or with oneDNN capped at
 * AVX2, as `npm test`'s second parity run does) `half` on CPU fails with "could not create a
 * primitive descriptor" (ERR_STCN_RUN). Those runs skip with that reason instead of failing.
 */
let bf16Probe: Promise<string | undefined> | undefined;
function bf16Unavailable(): Promise<string | undefined> {
  bf16Probe ??= (async () => {
    const model = await Stcn.load(DEMO_MODEL_PATH, { optimization: "freeze", half: true });
    const tracker = model.track({ size: 96 });
    try {
      await tracker.start(join(dataRoot, "clips", "bike", "frames", "00000.jpg"), join(dataRoot, "clips", "bike", "masks", "00000.png"));
      return undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (/could not create a primitive descriptor/.test(message)) return `bfloat16 convolutions unavailable on this CPU/ISA: ${message}`;
      throw error;
    } finally {
      tracker.dispose();
      model.dispose();
    }
  })();
  return bf16Probe;
}

const HELD_OUT = Array.from({ length: 5 }, (_, i) => 900000 + i);

describe("CPU bfloat16 on the trained demo model", () => {
  it("held-out J&F (5 clips): bfloat16 within 0.3 points of float32", async (ctx) => {
    const why = await bf16Unavailable();
    if (why) ctx.skip(why);
    const fp32 = await runDemo({ out: tempDir("stcn-bf16-fp32-"), seeds: HELD_OUT, optimization: "freeze" });
    const bf16 = await runDemo({ out: tempDir("stcn-bf16-half-"), seeds: HELD_OUT, optimization: "freeze", half: true });
    const a = fp32.evaluation?.global["J&F-Mean"] as number;
    const b = bf16.evaluation?.global["J&F-Mean"] as number;
    // Measured 2026-12-03: +0.01 points on all 20 held-out clips (docs/stcn.md); the bound is 0.3 points.
    expect(a).toBeGreaterThan(0.75);
    expect(Math.abs(b - a) * 100).toBeLessThanOrEqual(0.3);
  }, 900_000);

  describe("real frames: label agreement with float32", () => {
    let fp32: Stcn;
    let bf16: Stcn;
    beforeAll(async () => {
      if (await bf16Unavailable()) return;
      fp32 = await Stcn.load(DEMO_MODEL_PATH, { optimization: "freeze" });
      bf16 = await Stcn.load(DEMO_MODEL_PATH, { optimization: "freeze", half: true });
    });
    afterAll(() => {
      fp32?.dispose();
      bf16?.dispose();
    });

    async function labels(model: Stcn, clip: string): Promise<Uint8Array[]> {
      const frames = (await listFrames(join(dataRoot, "clips", clip, "frames"))).map((f) => f.path);
      const masks = new Map((await listFrames(join(dataRoot, "clips", clip, "masks"))).map((m) => [Number(m.stem), m.path]));
      const tracker = model.track({ size: 480, resizeMasks: true });
      try {
        const out = [(await tracker.start(frames[0] as string, masks.get(0) as string)).labels];
        const rest = frames.slice(1).map((frame, i) => {
          const mask = masks.get(i + 1);
          return mask ? { frame, mask } : frame;
        });
        for await (const r of tracker.run(rest)) out.push(r.labels);
        return out;
      } finally {
        tracker.dispose();
      }
    }

    for (const clip of ["judo", "bike"]) {
      it(`${clip}: every frame's labels agree on at least 99% of pixels`, async (ctx) => {
        const why = await bf16Unavailable();
        if (why) ctx.skip(why);
        const a = await labels(fp32, clip);
        const b = await labels(bf16, clip);
        expect(b.length).toBe(a.length);
        const agreement = a.map((la, t) => {
          const lb = b[t] as Uint8Array;
          let same = 0;
          for (let i = 0; i < la.length; i++) if (la[i] === lb[i]) same++;
          return same / la.length;
        });
        // Measured 2026-12-03: minimum per frame 99.90% (judo), 99.99% (bike). With oneDNN capped at AVX2 bf16 cannot run (skipped).
        expect(Math.min(...agreement)).toBeGreaterThanOrEqual(0.99);
      }, 600_000);
    }
  });
});
