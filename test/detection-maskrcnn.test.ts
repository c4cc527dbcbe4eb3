/**
 * Mask R-CNN end to end without Python at run time: `stcn export maskrcnn --random-init` writes a
 * scripted torchvision Mask R-CNN; the addon (with its own torchvision::nms / roi_align) runs it on a
 * real DAVIS judo frame and must give the same detections as the same model in Python eager
 * (torchvision's kernels). Then the full `stcn annotate --method maskrcnn` body writes a first-frame mask.
 *
 * Reduced cost: internal resize min 320, at most 30 detections. Random weights score ~0.6-0.8 here
 * (the test asserts that detections exist: a run with none would prove nothing).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, runExporter, setNumThreads, type Module } from "../dist/index.js";
import { detectorAnnotator, detectorAnnotateFile, gtBox, boxDistance, type DetectorOutput } from "../dist/annotators/detector.js";
import { readRgb, type RgbImage } from "../dist/io/image.js";
import { readLabelPng } from "../dist/io/png.js";
import { python, repoRoot, tempDir, testPython, dataPath, recordDrift } from "./helpers.js";

const judo = dataPath("davis-judo");
const frame0 = join(judo, "JPEGImages/480p/judo/00000.jpg");
const gt0 = join(judo, "Annotations/480p/judo/00000.png");
const exportArgs = ["--random-init", "--seed", "3", "--min-size", "320", "--max-size", "600", "--detections-per-img", "30"];

const reference = testPython("detection-maskrcnn-reference.py");

let dir: string;
let module: Module;
let image: RgbImage;
let ours: DetectorOutput;

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

beforeAll(async () => {
  // One intra-op thread here and in the Python reference: conv sums depend on how work is split.
  // Set before any LibTorch work (OpenMP threads take the count when they first run torch work).
  setNumThreads(1);
  dir = tempDir("stcn-maskrcnn-");
  execFileSync(process.execPath, [join(repoRoot, "dist/cli.js"), "export", "maskrcnn", ...exportArgs, "--out", join(dir, "m.pt")], {
    encoding: "utf8",
    timeout: 600_000,
  });
  image = await readRgb(frame0);
  writeFileSync(join(dir, "frame.rgb"), image.data);
  execFileSync(python, [reference, repoRoot, dir, String(image.width), String(image.height), ...exportArgs], {
    encoding: "utf8",
    timeout: 600_000,
  });
  const pythonThreads = (JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as { threads: number }).threads;
  expect(pythonThreads).toBe(1);
  module = await loadModule(join(dir, "m.pt"));
  ours = await detectorAnnotator(module).detect(image);
}, 900_000);
afterAll(() => {
  module?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true }); // ~180 MB archive + reference masks
});

describe("Mask R-CNN TorchScript through the addon == Python eager (torchvision kernels)", () => {
  it("carries metadata and the expected signature", () => {
    expect(module.metadata).toMatchObject({ model: "maskrcnn", kind: "detector", seed: 3 });
    expect(module.signature("forward")).toContain("Tensor image) -> Dict(str, Tensor)");
  }, 300_000);

  it("same detections: identical count, order and labels; boxes/scores/masks within 1e-4", () => {
    const ref = JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as { count: number; labels: number[]; masks_shape: number[] };
    expect(ref.count).toBeGreaterThanOrEqual(10); // detections exist
    expect(ours.count).toBe(ref.count);
    expect(Array.from(ours.labels)).toEqual(ref.labels);
    expect(ref.masks_shape).toEqual([ref.count, 1, image.height, image.width]);
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
      expect(a.length).toBe(b.length);
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
      return m;
    };
    const refBoxes = f32(join(dir, "ref_boxes.f32"));
    const dBoxes = maxDiff(ours.boxes, refBoxes);
    let dBoxesRel = 0;
    for (let i = 0; i < refBoxes.length; i++) dBoxesRel = Math.max(dBoxesRel, Math.abs(ours.boxes[i]! - refBoxes[i]!) / Math.max(1, Math.abs(refBoxes[i]!)));
    const dScores = maxDiff(ours.scores, f32(join(dir, "ref_scores.f32")));
    const dMasks = maxDiff(ours.masks, f32(join(dir, "ref_masks.f32")));
    console.log(`maskrcnn parity: ${ours.count} detections, max |diff| boxes ${dBoxes} (rel ${dBoxesRel}), scores ${dScores}, masks ${dMasks}; addon detector ${ours.detectorMs.toFixed(0)} ms`);
    // Box coordinates are pixels (up to ~850): 1e-4 relative, i.e. a few float32 ulps of TorchScript vs
    // eager arithmetic order. Scores and mask probabilities are in [0,1]: 1e-4 absolute.
    recordDrift("maskrcnn vs eager: boxes, max relative", dBoxesRel, 1e-4);
    recordDrift("maskrcnn vs eager: scores, max", dScores, 1e-4);
    recordDrift("maskrcnn vs eager: mask probabilities, max", dMasks, 1e-4);
    expect(dBoxesRel).toBeLessThanOrEqual(1e-4);
    expect(dScores).toBeLessThanOrEqual(1e-4);
    expect(dMasks).toBeLessThanOrEqual(1e-4);
    // Scores sorted descending, masks are soft probabilities with some foreground.
    for (let i = 1; i < ours.count; i++) expect(ours.scores[i]!).toBeLessThanOrEqual(ours.scores[i - 1]!);
    let fg = 0;
    for (const v of ours.masks) if (v >= 0.5) fg++;
    expect(fg).toBeGreaterThan(0);
  }, 300_000);

  it("stcn annotate body: GT objects take their box-nearest detection, written as a label PNG", async () => {
    const out = join(dir, "first.png");
    const result = await detectorAnnotateFile({ method: "maskrcnn", model: join(dir, "m.pt"), frames: join(judo, "JPEGImages/480p/judo"), gtMask: gt0, out });
    const gt = await readLabelPng(gt0);
    expect(result.objects.map((o) => o.id)).toEqual([1, 2]);
    for (const o of result.objects) {
      const box = gtBox(gt.data, gt.width, gt.height, o.id, "study")!;
      expect(o.box).toEqual(box);
      // The chosen detection is the nearest of all candidates (score >= 0.01), first on ties.
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < ours.count; j++) {
        if (ours.scores[j]! < 0.01) continue;
        const d = boxDistance(box, ours.boxes.subarray(j * 4, j * 4 + 4));
        if (d < bestD) [best, bestD] = [j, d];
      }
      expect(o.detection).toBe(best);
    }
    const written = await readLabelPng(out);
    expect(written.width).toBe(image.width);
    expect(Array.from(written.data)).toEqual(Array.from(result.labels));
    // Object 1's pixels are exactly its detection's thresholded mask.
    const j1 = result.objects[0]!.detection!;
    const hw = image.width * image.height;
    let mismatch = 0;
    for (let p = 0; p < hw; p++) if ((written.data[p] === 1) !== (ours.masks[j1 * hw + p]! >= 0.5)) mismatch++;
    expect(mismatch).toBe(0);
  }, 300_000);

  it("--no-gt keeps every detection above the score as its own object, in score order", async () => {
    const out = join(dir, "nogt.png");
    const floor = ours.scores[Math.min(4, ours.count - 1)]!;
    const result = await detectorAnnotateFile({ method: "maskrcnn", model: join(dir, "m.pt"), frames: frame0, noGt: true, scoreThreshold: floor, out });
    const expected = Array.from(ours.scores).filter((s) => s >= floor).length;
    expect(result.objects.length).toBe(expected);
    expect(result.objects.map((o) => o.detection)).toEqual([...Array(expected).keys()]);
    expect(result.objects.map((o) => o.id)).toEqual([...Array(expected).keys()].map((i) => i + 1));
  }, 300_000);

  it("a model/method mismatch and a missing GT are refused clearly", async () => {
    await expect(
      detectorAnnotateFile({ method: "pointrend", model: join(dir, "m.pt"), frames: frame0, gtMask: gt0, out: join(dir, "x.png") }),
    ).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT", message: expect.stringContaining("holds a maskrcnn model") });
    await expect(detectorAnnotateFile({ method: "maskrcnn", model: join(dir, "m.pt"), frames: frame0, out: join(dir, "x.png") })).rejects.toMatchObject({
      code: "ERR_STCN_ARGUMENT",
    });
  }, 300_000);
});

describe("stcn export maskrcnn refuses bad checkpoints", () => {
  it("a missing file and a state_dict with other keys are ERR_STCN_INPUT naming the problem", async () => {
    const d = tempDir("stcn-maskrcnn-bad-");
    await expect(runExporter("maskrcnn", { checkpoint: join(d, "absent.pth"), out: join(d, "m.pt") }, { stdio: "pipe" })).rejects.toMatchObject({
      code: "ERR_STCN_INPUT",
      message: expect.stringContaining("checkpoint not found"),
    });
    execFileSync(python, [testPython("detection-maskrcnn-bad-checkpoint.py"), join(d, "bad.pth")]);
    await expect(runExporter("maskrcnn", { checkpoint: join(d, "bad.pth"), out: join(d, "m.pt") }, { stdio: "pipe" })).rejects.toMatchObject({
      code: "ERR_STCN_INPUT",
      message: expect.stringMatching(/missing .*1 unexpected \(e.g. \['extra.weight'\]\)/s),
    });
    await expect(runExporter("nope", {})).rejects.toMatchObject({ code: "ERR_STCN_ARGUMENT" });
    rmSync(d, { recursive: true, force: true });
  }, 300_000);
});
