/**
 * Bounded memory on a long video: 2000 generated frames (64x48, every frame memory) through one
 * tracker with a memory budget. The bank stays at or under the budget at every frame (tracker.stats()),
 * and RSS is flat after warm-up, with a bound that an unbounded bank breaks (its growth over the same
 * frames is computed from the bytes a memory frame costs, measured on this run).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateClip, setNumThreads, Stcn, StcnError } from "../dist/index.js";
import type { GeneratedClip, RgbImage } from "../dist/index.js";
import { repoRoot } from "./helpers.js";

const model = join(repoRoot, "models", "demo", "stcn-demo.pt");
const W = 64;
const H = 48;
const FRAMES = 2000;
const WARM_UP = 200;
const BUDGET = 4 * 2 ** 20;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let stcn: Stcn;
let clip: GeneratedClip;
const frame = (i: number): RgbImage => {
  // The clip played forwards then backwards, so the video has no jump.
  const n = clip.frames.length;
  const k = i % (2 * n - 2);
  return { data: clip.frames[k < n ? k : 2 * n - 2 - k] as Uint8Array, width: W, height: H };
};

beforeAll(async () => {
  // One intra-op thread: on a shared 2-core machine OpenMP teams spinning against each other made
  // frames 10-50x slower; the test measures memory and latency, not throughput.
  setNumThreads(1);
  stcn = await Stcn.load(model);
  clip = generateClip({ seed: 5, width: W, height: H, frames: 40, objects: 2 });
});
afterAll(() => stcn?.dispose());

describe("memory budget", () => {
  it(`${FRAMES} frames with memoryBudget ${BUDGET} bytes: the bank stays under it and RSS is flat after warm-up`, async () => {
    const tracker = stcn.track({ size: 0, memEvery: 1, memoryBudget: "4MiB" });
    try {
      await tracker.start(frame(0), { data: clip.masks[0] as Uint8Array, width: W, height: H });
      const perFrame = tracker.stats().memoryBytes;  // frame 0 alone: the bytes of one memory frame
      expect(perFrame).toBeGreaterThan(0);
      let maxBank = 0;
      let maxFrames = 0;
      let rssWarm = 0;
      let rssMax = 0;
      const samples: string[] = [];
      async function* frames(): AsyncGenerator<RgbImage> {
        for (let i = 1; i < FRAMES; i++) yield frame(i);
      }
      for await (const f of tracker.run(frames())) {
        const s = tracker.stats();
        maxBank = Math.max(maxBank, s.memoryBytes);
        maxFrames = Math.max(maxFrames, s.memoryFrames);
        if (f.index === WARM_UP) {
          gc();
          rssWarm = process.memoryUsage().rss;
        }
        if (f.index > WARM_UP && f.index % 100 === 0) {
          gc();
          const rss = process.memoryUsage().rss;
          rssMax = Math.max(rssMax, rss);
          samples.push(`${f.index}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB, bank ${s.memoryFrames} frames ${(s.memoryBytes / 2 ** 20).toFixed(2)} MiB`);
        }
      }
      const stats = tracker.stats();
      expect(stats.frames).toBe(FRAMES);
      expect(stats.memoryBudget).toBe(BUDGET);
      expect(maxBank).toBeLessThanOrEqual(BUDGET);
      // The budget is what limits the bank: it holds about BUDGET / perFrame frames, not all of them.
      expect(maxFrames).toBe(Math.floor(BUDGET / perFrame));
      const growthMb = (rssMax - rssWarm) / 2 ** 20;
      // An unbounded bank would add one memory frame per frame after warm-up.
      const unboundedMb = ((FRAMES - WARM_UP) * perFrame) / 2 ** 20;
      const boundMb = 24;
      console.log(
        `memory frame ${(perFrame / 1024).toFixed(1)} KiB, bank peak ${(maxBank / 2 ** 20).toFixed(2)} MiB (${maxFrames} frames), ` +
          `RSS after warm-up ${(rssWarm / 2 ** 20).toFixed(1)} MiB, growth ${growthMb.toFixed(1)} MiB (bound ${boundMb}; an unbounded bank adds ${unboundedMb.toFixed(0)} MiB), ` +
          `mean ${(1000 * stats.frameSeconds.mean).toFixed(1)} ms/frame\n${samples.join("\n")}`,
      );
      expect(unboundedMb).toBeGreaterThan(4 * boundMb);
      expect(growthMb).toBeLessThan(boundMb);
    } finally {
      tracker.dispose();
    }
  }, 900_000);

  it("a budget smaller than the frames that must stay is one clear error", async () => {
    const tracker = stcn.track({ size: 0, memoryBudget: 1000 });
    const error = await tracker.start(frame(0), { data: clip.masks[0] as Uint8Array, width: W, height: H }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StcnError);
    expect((error as StcnError).code).toBe("ERR_STCN_MEMORY_BUDGET");
    expect((error as StcnError).message).toMatch(/^memoryBudget 1000 bytes is too small: .* take \d+ bytes at the working size 64x48 \(1 frames\)$/);
    tracker.dispose();
    expect(() => stcn.track({ memoryBudget: "2 parsecs" })).toThrow(/memoryBudget must be a size in bytes/);
    expect(() => stcn.track({ memoryBudget: -1 })).toThrow(/memoryBudget must be a size in bytes|memoryBudget must be an integer >= 0/);
  }, 60_000);
});
