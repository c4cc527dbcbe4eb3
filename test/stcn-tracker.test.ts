/**
 * STCN tracker behaviour beyond parity (stcn-parity.test.ts): object ids, memory schedule and cap,
 * one-frame videos, the `stcn segment` CLI, and clear errors naming the file for bad input.
 * Small working size (64) on real clips, seeded random weights.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decode } from "fast-png";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStcnError, segmentFolder, Stcn, type TrackedFrame, type StcnTracker } from "../dist/index.js";
import { encodeLabelPng, readLabelPng } from "../dist/io/png.js";
import { cpuHasBfloat16, repoRoot, runPython, tempDir, dataPath, recordDrift } from "./helpers.js";

const judo = dataPath("clips", "judo");
const bike = dataPath("clips", "bike");
const SIZE = 64;
const cli = join(repoRoot, "dist", "cli.js");
const name = (i: number): string => String(i).padStart(5, "0");
const judoFrames = Array.from({ length: 16 }, (_, i) => join(judo, "frames", `${name(i)}.jpg`));
const bikeFrames = Array.from({ length: 4 }, (_, i) => join(bike, "frames", `${name(i)}.jpg`));

let dir: string;
let modelPath: string;
let model: Stcn;

beforeAll(async () => {
  dir = tempDir("stcn-tracker-");
  modelPath = join(dir, "stcn.pt");
  runPython("export_stcn.py", ["--random-init", "--seed", "3", "--out", modelPath]);
  model = await Stcn.load(modelPath);
});

afterAll(() => {
  model?.dispose();
});

async function all(tracker: StcnTracker, frames: Parameters<StcnTracker["run"]>[0]): Promise<TrackedFrame[]> {
  const out: TrackedFrame[] = [];
  for await (const f of tracker.run(frames)) out.push(f);
  return out;
}

async function expectInputError(promise: Promise<unknown>, pattern: RegExp, code = "ERR_STCN_INPUT"): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isStcnError(caught), String(caught)).toBe(true);
  expect((caught as Error & { code: string }).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
}

describe("objects and memory", () => {
  it("keeps non-contiguous ids of the first mask (same segmentation as ids 1, 2)", async () => {
    const mask = await readLabelPng(join(bike, "masks", "00000.png"));
    const remapped = mask.data.map((v) => (v === 1 ? 3 : v === 2 ? 7 : v));
    const a = model.track({ size: SIZE });
    const b = model.track({ size: SIZE });
    try {
      const outA = [await a.start(bikeFrames[0] as string, mask), ...(await all(a, bikeFrames.slice(1)))];
      const outB = [
        await b.start(bikeFrames[0] as string, { data: remapped, width: mask.width, height: mask.height }),
        ...(await all(b, bikeFrames.slice(1))),
      ];
      expect(b.objectIds).toEqual([3, 7]);
      for (let t = 0; t < 4; t++) {
        const la = (outA[t] as TrackedFrame).labels;
        const lb = (outB[t] as TrackedFrame).labels;
        expect(new Set(lb)).toEqual(new Set([0, 3, 7]));
        expect(lb).toEqual(la.map((v) => (v === 1 ? 3 : v === 2 ? 7 : v)));
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("objects too small for the working size are not tracked (as the reference's resized mask)", async () => {
    const mask = await readLabelPng(join(bike, "masks", "00000.png"));
    const data = Uint8Array.from(mask.data);
    data[1 * mask.width + 1] = 9; // one pixel: nearest 854x480 -> 113x64 samples rows/cols 0, 7, 15, ...
    const tracker = model.track({ size: SIZE });
    try {
      const f0 = await tracker.start(bikeFrames[0] as string, { data, width: mask.width, height: mask.height });
      expect(tracker.objectIds).toEqual([1, 2]);
      expect(f0.labels.includes(9)).toBe(false);
    } finally {
      tracker.dispose();
    }
    const only = new Uint8Array(mask.width * mask.height);
    only[1 * mask.width + 1] = 9;
    const t2 = model.track({ size: SIZE });
    try {
      await expectInputError(t2.start(bikeFrames[0] as string, { data: only, width: mask.width, height: mask.height }), /no objects left at the working size 113x64/);
    } finally {
      t2.dispose();
    }
  });

  it("memory: frame 0, multiples of memEvery and join frames, never the last frame", async () => {
    const tracker = model.track({ size: SIZE, resizeMasks: true });
    try {
      await tracker.start(judoFrames[0] as string, join(judo, "masks", "00000.png"));
      expect(tracker.memoryFrames).toBe(1);
      const items = judoFrames.slice(1).map((frame, i) =>
        [5, 8, 13].includes(i + 1) ? { frame, mask: join(judo, "masks", `${name(i + 1)}.png`) } : frame,
      );
      const out = await all(tracker, items);
      expect(out.map((f) => f.index)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      // 0, 5 (join + multiple of 5), 8 (join), 10, 13 (join); 15 is the last frame.
      expect(tracker.memoryFrames).toBe(5);
      expect(tracker.objectIds).toEqual([1, 2, 3, 4]);
      expect(tracker.stats().frames).toBe(16);
      expect(tracker.stats().computeSeconds).toBeGreaterThan(0);
    } finally {
      tracker.dispose();
    }
  });

  it("includeLast keeps one temporary frame; maxMemoryFrames caps the bank", async () => {
    const frames = judoFrames.slice(0, 13);
    const withLast = model.track({ size: SIZE, includeLast: true });
    const capped = model.track({ size: SIZE, memEvery: 1, maxMemoryFrames: 3 });
    try {
      await withLast.start(frames[0] as string, join(judo, "masks", "00000.png"));
      await all(withLast, frames.slice(1));
      expect(withLast.memoryFrames).toBe(4); // 0, 5, 10 + the temporary slot holding frame 11 (12 is the last)
      await capped.start(frames[0] as string, join(judo, "masks", "00000.png"));
      const out = await all(capped, frames.slice(1));
      expect(capped.memoryFrames).toBe(3);
      expect(out.at(-1)?.labels.includes(1)).toBe(true);
    } finally {
      withLast.dispose();
      capped.dispose();
    }
  });

  it("a video of one frame", async () => {
    const tracker = model.track({ size: SIZE });
    try {
      const f0 = await tracker.start(bikeFrames[0] as string, join(bike, "masks", "00000.png"));
      expect([f0.index, f0.width, f0.height]).toEqual([0, 854, 480]);
      expect(new Set(f0.labels)).toEqual(new Set([0, 1, 2]));
      expect(await all(tracker, [])).toEqual([]);
    } finally {
      tracker.dispose();
    }
    const one = join(dir, "one");
    mkdirSync(join(one, "frames"), { recursive: true });
    symlinkSync(bikeFrames[0] as string, join(one, "frames", "00000.jpg"));
    const result = await segmentFolder(model, { frames: join(one, "frames"), mask: join(bike, "masks", "00000.png"), out: join(one, "out"), size: SIZE });
    expect(result.frames).toBe(1);
    expect(readdirSync(join(one, "out"))).toEqual(["00000.png"]);
  });

  it("RGB bytes and label maps as inputs; disposed trackers refuse", async () => {
    const tracker = model.track({ size: SIZE });
    const mask = await readLabelPng(join(bike, "masks", "00000.png"));
    const frame = { data: new Uint8Array(854 * 480 * 3).fill(128), width: 854, height: 480 };
    const f0 = await tracker.start(frame, mask);
    expect(f0.labels.length).toBe(854 * 480);
    const [f1] = await all(tracker, [frame]);
    expect(f1?.index).toBe(1);
    tracker.dispose();
    expect(tracker.disposed).toBe(true);
    await expectInputError(all(tracker, [frame]), /disposed/, "ERR_STCN_DISPOSED");
  });
});

describe("clear errors naming the file", () => {
  it("a mask whose size differs from the frames (judo 00005.png is 853x480)", async () => {
    const tracker = model.track({ size: SIZE });
    try {
      await expectInputError(tracker.start(judoFrames[0] as string, join(judo, "masks", "00005.png")), /00005\.png is 853x480 but the frames are 854x480/);
    } finally {
      tracker.dispose();
    }
    await expectInputError(
      segmentFolder(model, { frames: join(judo, "frames"), masks: join(judo, "masks"), out: join(dir, "refused"), size: SIZE }),
      /masks\/00005\.png is 853x480 but the frames are 854x480 .*resize-masks/,
    );
  });

  it("a missing frame", async () => {
    const tracker = model.track({ size: SIZE });
    try {
      const missing = join(dir, "nowhere", "00001.jpg");
      await tracker.start(bikeFrames[0] as string, join(bike, "masks", "00000.png"));
      await expectInputError(all(tracker, [missing]), new RegExp(`frame not found: ${missing}`));
    } finally {
      tracker.dispose();
    }
    const masks = join(dir, "masks-extra");
    mkdirSync(masks, { recursive: true });
    writeFileSync(join(masks, "00000.png"), readFileSync(join(bike, "masks", "00000.png")));
    writeFileSync(join(masks, "00007.png"), readFileSync(join(bike, "masks", "00000.png")));
    await expectInputError(
      segmentFolder(model, { frames: join(bike, "frames"), masks, out: join(dir, "refused2"), size: SIZE }),
      /mask .*masks-extra\/00007\.png has no frame 00007/,
    );
  });

  it("an unreadable image, an empty mask, a frame of another size", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "00001.jpg"), "this is not a JPEG");
    const empty = join(bad, "empty.png");
    writeFileSync(empty, encodeLabelPng(new Uint8Array(854 * 480), 854, 480));
    const small = join(bad, "small.png");
    writeFileSync(small, encodeLabelPng(new Uint8Array(32 * 16), 32, 16));
    const tracker = model.track({ size: SIZE });
    try {
      await expectInputError(tracker.start(bikeFrames[0] as string, empty), /first mask .*empty\.png has no objects/);
      await tracker.start(bikeFrames[0] as string, join(bike, "masks", "00000.png"));
    } finally {
      tracker.dispose();
    }
    for (const [frame, pattern] of [
      [join(bad, "00001.jpg"), /cannot decode image .*bad\/00001\.jpg/],
      [small, /small\.png is 32x16 but the video's first frame is 854x480/],
    ] as const) {
      const t = model.track({ size: SIZE });
      try {
        await t.start(bikeFrames[0] as string, join(bike, "masks", "00000.png"));
        await expectInputError(all(t, [frame]), pattern);
      } finally {
        t.dispose();
      }
    }
  });

  it("bad model or options", async () => {
    await expectInputError(Stcn.load(join(dir, "none.pt")), /not found/, "ERR_STCN_MODEL_NOT_FOUND");
    const tiny = tempDir("stcn-tiny-");
    runPython("test_modules.py", [tiny]);
    await expectInputError(Stcn.load(join(tiny, "tiny.pt")), /not an STCN model: it has no method "encode_key"/, "ERR_STCN_MODEL_LOAD");
    expect(() => model.track({ topK: 0 })).toThrow(/topK must be an integer >= 1/);
  });
});

describe("stcn segment (CLI)", () => {
  it("writes one palette PNG per frame with the input mask's palette and reports FPS", async () => {
    const out = join(dir, "cli-out");
    const r = spawnSync(
      process.execPath,
      [cli, "segment", "--model", modelPath, "--frames", join(bike, "frames"), "--mask", join(bike, "masks", "00000.png"), "--out", out, "--size", String(SIZE), "--no-progress"],
      { encoding: "utf8", env: process.env },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/frames 4 {2}seconds [\d.]+ {2}FPS [\d.]+ \(propagation, IO excluded\) {2}end-to-end [\d.]+ s [\d.]+ FPS/);
    expect(readdirSync(out).sort()).toEqual(["00000.png", "00001.png", "00002.png", "00003.png"]);
    const input = decode(readFileSync(join(bike, "masks", "00000.png")));
    const tracker = model.track({ size: SIZE });
    try {
      const lib = [await tracker.start(bikeFrames[0] as string, join(bike, "masks", "00000.png")), ...(await all(tracker, bikeFrames.slice(1)))];
      for (let t = 0; t < 4; t++) {
        const png = decode(readFileSync(join(out, `${name(t)}.png`)));
        expect(png.palette?.slice(0, 3)).toEqual(input.palette?.slice(0, 3));
        const labels = await readLabelPng(join(out, `${name(t)}.png`));
        expect(labels.data).toEqual(lib[t]?.labels);
      }
    } finally {
      tracker.dispose();
    }
  });

  it("refuses a mask of another size with one line naming the file and a non-zero exit", () => {
    const r = spawnSync(
      process.execPath,
      [cli, "segment", "--model", modelPath, "--frames", join(judo, "frames"), "--masks", join(judo, "masks"), "--out", join(dir, "cli-refused"), "--size", String(SIZE), "--no-progress"],
      { encoding: "utf8", env: process.env },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/00005\.png is 853x480 but the frames are 854x480.*\[ERR_STCN_INPUT\]/);
  });

  it("--half on CPU is refused with one clear error where oneDNN has no bfloat16 convolutions", async () => {
    if (cpuHasBfloat16()) {
      // This CPU runs bfloat16: the next test covers it (and fails if loading refuses).
      const bf16 = await Stcn.load(modelPath, { half: true });
      expect(bf16.half).toBe(true);
      bf16.dispose();
      return;
    }
    await expect(Stcn.load(modelPath, { half: true })).rejects.toMatchObject({
      code: "ERR_STCN_DEVICE",
      message: expect.stringContaining("bfloat16"),
    });
    const r = spawnSync(
      process.execPath,
      [cli, "segment", "--model", modelPath, "--frames", join(bike, "frames"), "--mask", join(bike, "masks", "00000.png"), "--out", join(dir, "cli-half-refused"), "--half", "--size", "128"],
      { encoding: "utf8", env: process.env },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bfloat16.*\[ERR_STCN_DEVICE\]/);
  });

  it.runIf(cpuHasBfloat16())("--half on CPU runs bfloat16 autocast (frozen, not optimize_for_inference) and matches float32 closely", async () => {
    const f32 = await Stcn.load(modelPath);
    const bf16 = await Stcn.load(modelPath, { half: true });
    expect(bf16.half).toBe(true);
    expect(bf16.optimization).toBe("freeze");
    const probsOf = async (model: Stcn) => {
      const t = model.track({ size: 128, probabilities: true });
      const out = [(await t.start(bikeFrames[0] as string, join(bike, "masks", "00000.png"))).probabilities as Float32Array];
      for await (const f of t.run(bikeFrames.slice(1))) out.push(f.probabilities as Float32Array);
      t.dispose();
      return out;
    };
    const a = await probsOf(f32);
    const b = await probsOf(bf16);
    f32.dispose();
    bf16.dispose();
    expect(b).toHaveLength(a.length);
    // Frame 0 is the aggregated first mask (no network); later frames went through bfloat16 convs:
    // close to float32 (bfloat16 keeps ~3 significant digits) but not identical.
    let maxDiff = 0;
    let sumDiff = 0;
    let n = 0;
    for (let i = 1; i < a.length; i++) {
      for (let p = 0; p < a[i]!.length; p++) {
        const d = Math.abs(a[i]![p]! - b[i]![p]!);
        maxDiff = Math.max(maxDiff, d);
        sumDiff += d;
        n++;
      }
    }
    recordDrift("stcn --half (bfloat16) vs float32, random weights: max |dprob|", maxDiff, 0.1);
    recordDrift("stcn --half (bfloat16) vs float32, random weights: mean |dprob|", sumDiff / n, 0.01);
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.1);
    expect(sumDiff / n).toBeLessThan(0.01);
    const r = spawnSync(
      process.execPath,
      [cli, "segment", "--model", modelPath, "--frames", join(bike, "frames"), "--mask", join(bike, "masks", "00000.png"), "--out", join(dir, "cli-half"), "--half", "--size", "128"],
      { encoding: "utf8", env: process.env },
    );
    expect(r.status, r.stderr).toBe(0);
  });
});
