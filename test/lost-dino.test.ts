/**
 * DINO through the addon vs eager Python, and LOST end to end on a real judo frame (random ViT-S/16
 * weights: the check is numerical parity with the reference pipeline, not segmentation quality).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, Tensor, type Module } from "../dist/index.js";
import { readLabelPng } from "../dist/io/png.js";
import { lost, lostCrf, LOST_CRF_DEFAULTS, lostAnnotateFile } from "../dist/annotators/lost.js";
import { refineMaskWithCrf, denseCrf, unaryFromLabels } from "../dist/crf.js";
import { encodeRgb, readRgb, type RgbImage } from "../dist/io/image.js";
import { exportTestModules, python, runPython, tempDir, testPython, dataPath, recordDrift } from "./helpers.js";

const judo = dataPath("clips", "judo", "frames");
let dir: string;
let modelPath: string;
let model: Module;
let frame: RgbImage;

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

const CROP = { x: 300, y: 200, w: 100, h: 37 }; // neither side a multiple of 16, not square
let qkv: Float32Array[];
let cropKeys: { shape: number[]; data: Float32Array };
let cropGram: { rows: number; cols: number; shape: number[] };
let badFeature: unknown;
let judoLost: Awaited<ReturnType<typeof lost>>;

beforeAll(async () => {
  dir = tempDir("stcn-lost-");
  modelPath = join(dir, "dino_s16.pt");
  runPython("export_dino.py", ["--arch", "vit_small", "--random-init", "--seed", "7", "--out", modelPath]);
  model = await loadModule(modelPath);
  frame = await readRgb(join(judo, "00000.jpg"));

  // Native runs (the addon): q/k/v and LOST on the full frame, keys and Gram on a crop.
  const input = Tensor.fromTypedArray(frame.data, [frame.height, frame.width, 3]);
  const out = (await model.run("last_qkv", input)) as Tensor[];
  qkv = out.map((t) => {
    expect(t.shape).toEqual([1620, 384]);
    const data = t.toTypedArray() as Float32Array;
    t.dispose();
    return data;
  });
  input.dispose();
  judoLost = await lost(model, frame, { keepGram: true });
  const crop = new Uint8Array(CROP.w * CROP.h * 3);
  for (let y = 0; y < CROP.h; y++) {
    const from = ((y + CROP.y) * frame.width + CROP.x) * 3;
    crop.set(frame.data.subarray(from, from + CROP.w * 3), y * CROP.w * 3);
  }
  const cropInput = Tensor.fromTypedArray(crop, [CROP.h, CROP.w, 3]);
  const k = (await model.run("features", cropInput, "k")) as Tensor;
  cropKeys = { shape: k.shape, data: k.toTypedArray() as Float32Array };
  k.dispose();
  const [gram, rows, cols] = (await model.run("lost_gram", cropInput, "k")) as [Tensor, number, number];
  cropGram = { rows, cols, shape: gram.shape };
  gram.dispose();
  badFeature = await model.run("features", cropInput, "x").catch((e: unknown) => e);
  cropInput.dispose();

  // One Python start for every eager reference.
  writeFileSync(join(dir, "judo.rgb"), frame.data);
  writeFileSync(join(dir, "crop.rgb"), crop);
  writeFileSync(join(dir, "gram.f32"), judoLost.gram as Float32Array);
  const jobs = [
    ["keys", modelPath, join(dir, "judo.rgb"), "480", "854", join(dir, "ref-judo")],
    ["keys", modelPath, join(dir, "crop.rgb"), String(CROP.h), String(CROP.w), join(dir, "ref-crop")],
    ["lost", join(dir, "gram.f32"), "30", "54", "480", "854", "100", "16", join(dir, "ref-lost")],
  ];
  writeFileSync(join(dir, "jobs.json"), JSON.stringify(jobs));
  execFileSync(python, [testPython("lost-reference.py"), join(dir, "jobs.json")], { encoding: "utf8", timeout: 600_000 });
});
afterAll(() => {
  model?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("DINO export", () => {
  it("carries metadata and the LOST methods", () => {
    expect(model.metadata).toMatchObject({ model: "dino", arch: "vit_small", patch_size: 16, embed_dim: 384, num_heads: 6 });
    expect(model.metadata?.weights).toEqual({ source: "random-init", seed: 7 });
    expect(model.methods).toEqual(expect.arrayContaining(["preprocess", "last_qkv", "features", "lost_gram", "get_last_selfattention", "forward"]));
  });

  it("addon q/k/v == eager Python (LOST's hook on the last qkv) on a judo frame within 1e-4", () => {
    expect([frame.width, frame.height]).toEqual([854, 480]);
    const meta = JSON.parse(readFileSync(join(dir, "ref-judo", "meta.json"), "utf8")) as { rows: number; cols: number; dim: number };
    expect(meta).toEqual({ rows: 30, cols: 54, dim: 384 });
    ["q", "k", "v"].forEach((name, i) => {
      const diff = maxAbsDiff(qkv[i] as Float32Array, f32(join(dir, "ref-judo", `${name}.f32`)));
      recordDrift(`dino vs eager: ${name}, max`, diff, 1e-4);
      expect(diff, `${name} max |diff|`).toBeLessThan(1e-4);
    });
    // The three are different slices of the qkv output.
    expect(maxAbsDiff(qkv[0] as Float32Array, qkv[1] as Float32Array)).toBeGreaterThan(1e-2);
  });

  it("any image size: bottom/right padding to /16 and interpolated position embeddings", () => {
    expect(cropKeys.shape).toEqual([21, 384]);
    const cropDiff = maxAbsDiff(cropKeys.data, f32(join(dir, "ref-crop", "k.f32")));
    recordDrift("dino vs eager: keys of a 3x7-patch crop, max", cropDiff, 1e-4);
    expect(cropDiff).toBeLessThan(1e-4);
    expect(cropGram).toEqual({ rows: 3, cols: 7, shape: [21, 21] });
    expect(badFeature).toMatchObject({ code: "ERR_STCN_RUN", message: expect.stringContaining("feature must be") });
  });
});

describe("lost() on a judo frame", () => {
  it("matches the reference LOST (official steps, stable sort) on the same Gram matrix", () => {
    const res = judoLost;
    expect([res.width, res.height, res.rows, res.cols, res.patchSize]).toEqual([854, 480, 30, 54, 16]);
    expect(res.gram).toHaveLength(1620 * 1620);
    const out = join(dir, "ref-lost");
    const ref = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as {
      seed: number;
      potentials: number[];
      similars: number[];
      patches: number[];
      box: number[];
    };
    const o = res.objects[0]!;
    expect(o.seed).toBe(ref.seed);
    expect(Array.from(o.potentials)).toEqual(ref.potentials);
    expect(Array.from(o.similars)).toEqual(ref.similars);
    const patches: number[] = [];
    o.patches.forEach((v, i) => {
      if (v) patches.push(i);
    });
    expect(patches).toEqual(ref.patches);
    expect(o.box).toEqual(ref.box);
    const refLabels = new Uint8Array(readFileSync(join(out, "labels.u8")));
    expect(res.labels.length).toBe(480 * 854);
    let diff = 0;
    for (let i = 0; i < refLabels.length; i++) if (res.labels[i] !== refLabels[i]) diff++;
    expect(diff).toBe(0);
    expect(o.area).toBe(patches.length);
    expect(o.area).toBeGreaterThan(0);
    expect(o.area).toBeLessThan(1620);
  });
});

/** Two small frames cut from judo (sorted order: "a.png" before "b.png"), cheap to annotate. */
async function smallFrames(): Promise<{ folder: string; first: RgbImage }> {
  const folder = join(dir, "small");
  mkdirSync(folder, { recursive: true });
  const crop = (x0: number, y0: number, w: number, h: number): RgbImage => {
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) data.set(frame.data.subarray(((y + y0) * 854 + x0) * 3, ((y + y0) * 854 + x0 + w) * 3), y * w * 3);
    return { data, width: w, height: h };
  };
  const first = crop(200, 100, 250, 170);
  writeFileSync(join(folder, "b.png"), await encodeRgb(crop(0, 0, 250, 170)));
  writeFileSync(join(folder, "a.png"), await encodeRgb(first));
  writeFileSync(join(folder, "notes.txt"), "not an image");
  return { folder, first };
}

describe("options", () => {
  it("feature v differs from k; bad options are refused before running the model", async () => {
    const { first } = await smallFrames();
    const k = await lost(model, first, { kPatches: 10 });
    expect([k.rows, k.cols]).toEqual([11, 16]);
    expect(k.objects[0]!.potentials).toHaveLength(10);
    const v = await lost(model, first, { feature: "v", kPatches: 10 });
    expect(Array.from(v.objects[0]!.potentials)).not.toEqual(Array.from(k.objects[0]!.potentials));
    await expect(lost(model, first, { feature: "x" as "k" })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    await expect(lost(model, first, { kPatches: 0 })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    await expect(lost(model, first, { objects: 0 })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    await expect(lost(model, { data: new Uint8Array(5), width: 2, height: 2 })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
  });

  it("refuses a TorchScript file that is not a DINO export", async () => {
    const modules = exportTestModules();
    try {
      await expect(lost(join(modules, "tiny.pt"), frame)).rejects.toThrow(/not a DINO export/);
    } finally {
      rmSync(modules, { recursive: true, force: true });
    }
  });
});

describe("lostCrf (LOST + dense CRF, the study's first-frame masks)", () => {
  it("is LOST then the study's CRF (gtProb 10/11, Gaussian 3/3, bilateral 40/13/10, 10 iterations)", async () => {
    expect(LOST_CRF_DEFAULTS).toEqual({ gtProb: 10 / 11, iterations: 10, sxyGaussian: 3, compatGaussian: 3, sxyBilateral: 40, srgb: 13, compatBilateral: 10 });
    const { first } = await smallFrames();
    const plain = await lost(model, first);
    const refined = await lostCrf(model, first);
    expect(Buffer.from(refined.lostLabels).equals(Buffer.from(plain.labels))).toBe(true);
    // The CRF helper's own study call on the same mask gives the same labels.
    const study = await refineMaskWithCrf(first, plain.labels);
    expect(Buffer.from(refined.labels).equals(Buffer.from(study))).toBe(true);
    // The CRF moves the blocky patch-grid boundary (and keeps most of the mask).
    let changed = 0;
    for (let i = 0; i < study.length; i++) if (study[i] !== plain.labels[i]) changed++;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(study.length / 2);
    expect(refined.crfTiming.totalMs).toBeGreaterThan(0);
  });

  it("CRF parameters and multiple objects pass through (objects + 1 labels)", async () => {
    const { first } = await smallFrames();
    const three = await lostCrf(model, first, { objects: 2, crf: { iterations: 3, sxyBilateral: 20 } });
    const expected = await denseCrf({
      image: first,
      unary: unaryFromLabels(three.lostLabels, 3, 10 / 11, false),
      gaussian: { sxy: 3, compat: 3 },
      bilateral: { sxy: 20, srgb: 13, compat: 10 },
      iterations: 3,
    });
    expect(Buffer.from(three.labels).equals(Buffer.from(expected.labels))).toBe(true);
    expect(new Set(three.lostLabels)).toEqual(new Set([0, 1, 2]));
    await expect(lostCrf(model, first, { crf: { gtProb: 1 } })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    await expect(lostCrf(model, first, { crf: { srgb: 0 } })).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
  });
});

describe("lostAnnotateFile (stcn annotate --method lost)", () => {
  it("writes a DAVIS palette PNG of the first frame (sorted order) with object ids 1..N", async () => {
    const { folder, first } = await smallFrames();
    const direct = await lost(model, first);
    const out1 = join(dir, "ann", "first.png");
    await lostAnnotateFile({ method: "lost", model: modelPath, frames: folder, out: out1 });
    const png = await readLabelPng(out1);
    expect([png.width, png.height]).toEqual([250, 170]);
    expect(png.palette?.[1]).toEqual([128, 0, 0]);
    expect(Buffer.from(png.data).equals(Buffer.from(direct.labels))).toBe(true);
    expect(new Set(png.data)).toEqual(new Set([0, 1]));

    const out3 = join(dir, "ann", "three.png");
    await lostAnnotateFile({ method: "lost", model: modelPath, frames: join(folder, "a.png"), out: out3, objects: 3 });
    const three = await readLabelPng(out3);
    const seen = new Set(three.data);
    expect([...seen].every((v) => v <= 3)).toBe(true);
    expect(seen.has(2)).toBe(true);
    // Object 1 of the multi-object run is the single-object LOST mask.
    let differ = 0;
    for (let i = 0; i < direct.labels.length; i++) if ((direct.labels[i] === 1) !== (three.data[i] === 1)) differ++;
    expect(differ).toBe(0);
  });

  it("--method lost-crf writes the CRF-refined mask", async () => {
    const { folder, first } = await smallFrames();
    const out = join(dir, "ann", "crf.png");
    await lostAnnotateFile({ method: "lost-crf", model: modelPath, frames: folder, out });
    const png = await readLabelPng(out);
    const refined = await lostCrf(model, first);
    expect(Buffer.from(png.data).equals(Buffer.from(refined.labels))).toBe(true);
  });

  it("clear errors: empty frames folder, missing model, lost-crf without a CRF, wrong method", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    await expect(lostAnnotateFile({ method: "lost", model: modelPath, frames: empty, out: join(dir, "x.png") })).rejects.toMatchObject({
      code: "ERR_STCN_INPUT",
      message: expect.stringContaining(empty),
    });
    await expect(lostAnnotateFile({ method: "lost", model: join(dir, "nope.pt"), frames: judo, out: join(dir, "x.png") })).rejects.toMatchObject({
      code: "ERR_STCN_MODEL_NOT_FOUND",
    });
    await expect(lostAnnotateFile({ method: "maskrcnn" as "lost", model: modelPath, frames: judo, out: join(dir, "x.png") })).rejects.toMatchObject({
      code: "ERR_STCN_ARGUMENT",
    });
  });
});
