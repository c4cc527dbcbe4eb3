/**
 * STCN propagation parity: the addon pipeline (Stcn / StcnTracker) against the eager Python reference
 * of the official loop (torchscript/reference_stcn.py) on the same seeded random-weight model
 * (see stcn-fixtures.ts), on real clips at a reduced working size:
 * - judo: 16 frames, objects joining at frames 5, 8 and 13 (00005.png is 853x480: resized by the
 *   explicit opt-in on both sides);
 * - bike: 2 objects from frame 0;
 * - frames whose size is not a multiple of 16 (a 100x70 crop, native resolution: padding path), and
 *   tiny frames (48x32) whose memory holds fewer positions than the top-k.
 * Every frame: labels equal on >= 99.9% of the pixels, per-object probabilities within 1e-4.
 *
 * The parity model is loaded with `optimization: "none"` (the archive's graphs as saved, the same
 * kernels as the eager reference), so the bound holds on every CPU. The load-time graph
 * optimizations have their own test at the end, with a bound measured across ISAs (docs/stcn.md,
 * "Load-time optimization").
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stcn, type TrackedFrame, type TrackOptions } from "../dist/index.js";
import { encodeLabelPng, readLabelPng } from "../dist/io/png.js";
import { exportTemperedStcn, referenceObjects, referenceProbs, runReference } from "./stcn-fixtures.js";
import { tempDir, dataPath, recordDrift } from "./helpers.js";

const judo = dataPath("clips", "judo");
const bike = dataPath("clips", "bike");
const SIZE = 128;

let dir: string;
let modelPath: string;
let model: Stcn;

/** Probabilities of the unoptimized archive vs the eager reference (float rounding only). */
const PROB_BOUND = 1e-4;

beforeAll(async () => {
  dir = tempDir("stcn-parity-");
  modelPath = exportTemperedStcn(dir);
  model = await Stcn.load(modelPath, { optimization: "none" });
});

afterAll(() => {
  model?.dispose();
});

const name = (i: number): string => String(i).padStart(5, "0");

let judoRef: string | undefined;
/** The reference's judo run (16 frames, objects joining at 5, 8, 13), computed once per file. */
function judoReference(): string {
  judoRef ??= runReference(modelPath, join(dir, "ref-judo"), [
    "--frames", join(judo, "frames"), "--masks", join(judo, "masks"), "--resize-masks", "--size", String(SIZE),
  ]);
  return judoRef;
}

async function track(frames: string[], first: string, later: Map<number, string>, options: TrackOptions, by: Stcn = model): Promise<TrackedFrame[]> {
  const tracker = by.track({ ...options, probabilities: true });
  try {
    const out = [await tracker.start(frames[0] as string, first)];
    const items = frames.slice(1).map((frame, i) => {
      const mask = later.get(i + 1);
      return mask ? { frame, mask } : { frame };
    });
    for await (const f of tracker.run(items)) out.push(f);
    return out;
  } finally {
    tracker.dispose();
  }
}

/** Compares every frame with the reference output folder; returns the worst numbers. */
async function compare(ours: TrackedFrame[], ref: string, what: string, probBound = PROB_BOUND): Promise<{ minAgreement: number; maxProbDiff: number }> {
  const objects = referenceObjects(ref);
  let minAgreement = 1;
  let maxProbDiff = 0;
  for (const frame of ours) {
    const refLabels = await readLabelPng(join(ref, `${name(frame.index)}.png`));
    expect([refLabels.width, refLabels.height]).toEqual([frame.width, frame.height]);
    let same = 0;
    for (let i = 0; i < frame.labels.length; i++) same += frame.labels[i] === refLabels.data[i] ? 1 : 0;
    const agreement = same / frame.labels.length;
    minAgreement = Math.min(minAgreement, agreement);
    expect(agreement, `labels of frame ${frame.index}`).toBeGreaterThanOrEqual(0.999);

    const probs = frame.probabilities as Float32Array;
    const refProbs = referenceProbs(ref, frame.index);
    const n = frame.width * frame.height;
    expect(refProbs.length).toBe((objects.ids.length + 1) * n);
    expect(probs.length).toBe((frame.objectIds.length + 1) * n);
    let worst = 0;
    for (let c = 0; c <= objects.ids.length; c++) {
      // Reference channels: all objects of the run (zeros before an object joins); ours: joined so far.
      const ourChannel = c === 0 ? 0 : frame.objectIds.indexOf(objects.ids[c - 1] as number) + 1;
      for (let i = 0; i < n; i++) {
        const value = c === 0 || ourChannel > 0 ? (probs[ourChannel * n + i] as number) : 0;
        const d = Math.abs(value - (refProbs[c * n + i] as number));
        if (d > worst) worst = d;
      }
    }
    maxProbDiff = Math.max(maxProbDiff, worst);
    expect(worst, `probabilities of frame ${frame.index}`).toBeLessThanOrEqual(probBound);
  }
  recordDrift(`stcn-parity ${what}: max |dprob|`, maxProbDiff, probBound);
  recordDrift(`stcn-parity ${what}: 1 - min label agreement`, 1 - minAgreement, 0.001);
  return { minAgreement, maxProbDiff };
}

describe("STCN addon vs eager reference (seeded random weights)", () => {
  it("judo: 16 frames, objects joining at frames 5, 8, 13, non-native working size", async () => {
    const ref = judoReference();
    const frames = Array.from({ length: 16 }, (_, i) => join(judo, "frames", `${name(i)}.jpg`));
    const later = new Map([5, 8, 13].map((i) => [i, join(judo, "masks", `${name(i)}.png`)]));
    const ours = await track(frames, join(judo, "masks", "00000.png"), later, { size: SIZE, resizeMasks: true });
    expect(ours).toHaveLength(16);
    expect(ours.map((f) => f.objectIds.length)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4]);
    expect(referenceObjects(ref).ids).toEqual([1, 2, 3, 4]);
    // Every object shows up in the labels once it has joined (the reference agrees pixel-wise below).
    for (const [index, id] of [[5, 2], [8, 3], [13, 4]] as const) expect(ours[index]?.labels.includes(id)).toBe(true);
    const { minAgreement, maxProbDiff } = await compare(ours, ref, "judo");
    console.log(`judo parity: min label agreement ${minAgreement}, max probability difference ${maxProbDiff.toExponential(2)}`);
   }, 300_000); // the reference run of 16 frames happens here

  it("bike: two objects from frame 0", async () => {
    const ref = runReference(modelPath, join(dir, "ref-bike"), [
      "--frames", join(bike, "frames"), "--mask", join(bike, "masks", "00000.png"), "--size", String(SIZE),
    ]);
    const frames = Array.from({ length: 4 }, (_, i) => join(bike, "frames", `${name(i)}.jpg`));
    const ours = await track(frames, join(bike, "masks", "00000.png"), new Map(), { size: SIZE });
    expect(ours.every((f) => f.objectIds.join() === "1,2")).toBe(true);
    for (const f of ours) {
      expect(f.labels.includes(1)).toBe(true);
      expect(f.labels.includes(2)).toBe(true);
    }
    await compare(ours, ref, "bike");
  });

  // Crops of the bike clip at native resolution: 100x70 (not a multiple of 16: symmetric padding to
  // 112x80) and 48x32 (3x2 = 6 memory positions per frame, fewer than top-k 20 at first).
  for (const region of [
    { left: 420, top: 250, width: 100, height: 70 },
    { left: 440, top: 290, width: 48, height: 32 },
  ]) {
    it(`bike crop ${region.width}x${region.height} at native resolution`, async () => {
      const crop = join(dir, `crop-${region.width}x${region.height}`);
      mkdirSync(join(crop, "frames"), { recursive: true });
      for (let i = 0; i < 4; i++) {
        await sharp(join(bike, "frames", `${name(i)}.jpg`)).extract(region).png().toFile(join(crop, "frames", `${name(i)}.png`));
      }
      const mask = await readLabelPng(join(bike, "masks", "00000.png"));
      const cropped = new Uint8Array(region.width * region.height);
      for (let y = 0; y < region.height; y++) {
        for (let x = 0; x < region.width; x++) cropped[y * region.width + x] = mask.data[(y + region.top) * mask.width + x + region.left] as number;
      }
      expect(new Set(cropped)).toEqual(new Set([0, 1, 2]));
      writeFileSync(join(crop, "mask.png"), encodeLabelPng(cropped, region.width, region.height));
      const ref = runReference(modelPath, join(crop, "ref"), ["--frames", join(crop, "frames"), "--mask", join(crop, "mask.png"), "--size", "0"]);
      const frames = Array.from({ length: 4 }, (_, i) => join(crop, "frames", `${name(i)}.png`));
      const ours = await track(frames, join(crop, "mask.png"), new Map(), { size: 0 });
      expect(ours.every((f) => f.width === region.width && f.height === region.height)).toBe(true);
      await compare(ours, ref, `crop ${region.width}x${region.height}`);
    });
  }
});

// Load-time optimization "inference" (freeze + optimize_for_inference: batch norms folded into the
// convolutions, convolutions pre-packed for oneDNN in blocked layouts, conv+add+ReLU fused). Each of
// these changes a method's outputs by about 1e-6 relative (float rounding; see
// bench/stcn-optimization-passes.py), but 16 frames of propagation through a random-weight model
// amplify it: the worst probability difference against the eager reference on judo was 3.0e-4 at the
// native ISA on AVX-512 machines and 5.5e-6 with oneDNN/ATen capped at AVX2 (the unoptimized archive:
// 3.8e-6). The bound below is that worst case with headroom; labels must still agree on >= 99.9%.
// On the trained demo model the same path changes no label and no J&F digit (docs/stcn.md).
const INFERENCE_PROB_BOUND = 1e-3;

describe('STCN optimization "inference" vs eager reference', () => {
  it("judo: the optimized graphs stay within the measured drift", async () => {
    const optimized = await Stcn.load(modelPath, { optimization: "inference" });
    try {
      expect(optimized.optimization).toBe("inference");
      const ref = judoReference();
      const frames = Array.from({ length: 16 }, (_, i) => join(judo, "frames", `${name(i)}.jpg`));
      const later = new Map([5, 8, 13].map((i) => [i, join(judo, "masks", `${name(i)}.png`)]));
      const ours = await track(frames, join(judo, "masks", "00000.png"), later, { size: SIZE, resizeMasks: true }, optimized);
      const { maxProbDiff } = await compare(ours, ref, "judo (inference)", INFERENCE_PROB_BOUND);
      console.log(`judo parity with optimization "inference": max probability difference ${maxProbDiff.toExponential(2)}`);
    } finally {
      optimized.dispose();
    }
  });
});
