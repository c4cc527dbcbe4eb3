/**
 * PointRend (torchscript/pointrend.py) without detectron2:
 *
 *  1. the converter: a synthetic detectron2-style pickle ({"model": {name: numpy array}, "__author__"}) with
 *     the full key set of pointrend_rcnn_R_50_FPN_3x_coco, names and shapes written out here from
 *     detectron2's naming scheme (not taken from our model), goes through `stcn export pointrend
 *     --checkpoint` strictly: every array lands unchanged in the archive (names of the Nov 2020 re-upload
 *     model_final_edd263.pkl; the original Jan 2020 names and detectron2 v0.6's module names convert to
 *     the same weights); a missing, an extra, a duplicated and a wrongly shaped key are refused naming the key;
 *  2. parity: `stcn export pointrend --random-init --seed 3` run by the addon (its own
 *     torchvision::nms / roi_align) on the DAVIS judo frame 0 == the eager Python model (same count,
 *     order, labels; boxes/scores within 1e-4; binary masks identical up to 1e-4 of the pixels); the
 *     channel-order option swaps exactly the input channels.
 *
 * Reduced cost: internal resize min 320 / max 600, at most 30 detections.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModule, runExporter, setNumThreads, type Module } from "../dist/index.js";
import { detectorAnnotator, detectorAnnotateFile, type DetectorOutput } from "../dist/annotators/detector.js";
import { readRgb, type RgbImage } from "../dist/io/image.js";
import { readLabelPng } from "../dist/io/png.js";
import { python, repoRoot, tempDir, testPython, dataPath, recordDrift } from "./helpers.js";

const judo = dataPath("davis-judo");
const frame0 = join(judo, "JPEGImages/480p/judo/00000.jpg");
const gt0 = join(judo, "Annotations/480p/judo/00000.png");
const exportArgs = ["--random-init", "--seed", "3", "--min-size", "320", "--max-size", "600", "--detections-per-img", "30"];

/** detectron2 names and shapes of pointrend_rcnn_R_50_FPN_3x_coco, written from its naming scheme. */
const syntheticPickle = testPython("detection-pointrend-synthetic-pickle.py");

/**
 * Every array of the pickle is in the archive's state_dict, unchanged, under detectron2 v0.6's module
 * name, and nothing else is; the other generations of PointRend names convert to the same state_dict.
 */
const checkArchive = testPython("detection-pointrend-check-archive.py");

const reference = testPython("detection-pointrend-reference.py");

let dir: string;
let module: Module;
let image: RgbImage;
let ours: DetectorOutput;

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe("PointRend converter: detectron2 pickle -> our state_dict, strictly", () => {
  it("maps the full synthetic key set unchanged; missing / extra / wrongly shaped keys are refused by name", async () => {
    const d = tempDir("stcn-pointrend-pkl-");
    try {
      const counts = execFileSync(python, [syntheticPickle, d], { encoding: "utf8", timeout: 300_000 }).trim();
      expect(counts).toBe("311 318");
      await runExporter("pointrend", { checkpoint: join(d, "full.pkl"), out: join(d, "m.pt") }, { stdio: "pipe" });
      execFileSync(python, [checkArchive, join(d, "full.pkl"), join(d, "m.pt"), join(d, "check.json"), repoRoot], { timeout: 300_000 });
      const check = JSON.parse(readFileSync(join(d, "check.json"), "utf8")) as Record<string, unknown>;
      expect(check).toEqual({
        pickle: 311,
        archive: 315,
        bad: [],
        others: ["coco_ids", "pixel_mean", "pixel_std", "proposal_generator.cell_anchors"],
        generations: { original: true, "v0.6": true },
        duplicate: expect.stringContaining("both map to roi_heads.mask_head.coarse_head.fc1.weight"),
      });
      const m = await loadModule(join(d, "m.pt"));
      expect(m.metadata).toMatchObject({ model: "pointrend", kind: "detector", source: "full.pkl", channel_order: "rgb" });
      m.dispose();
      rmSync(join(d, "m.pt"));
      const refuse = (file: string, pattern: RegExp) =>
        expect(runExporter("pointrend", { checkpoint: join(d, file), out: join(d, "bad.pt") }, { stdio: "pipe" })).rejects.toMatchObject({
          code: "ERR_STCN_INPUT",
          message: expect.stringMatching(pattern),
        });
      await refuse("missing.pkl", /1 missing \(e\.g\. \['roi_heads\.mask_head\.point_head\.fc2\.bias'\]\), 0 unexpected/);
      await refuse("extra.pkl", /0 missing .*1 unexpected \(e\.g\. \['roi_heads\.mask_head\.extra\.weight'\]\)/s);
      await refuse("wrong.pkl", /1 wrong shape \(e\.g\. \['roi_heads\.box_predictor\.cls_score\.weight \(91, 1024\) != \(81, 1024\)'\]\)/);
      await expect(runExporter("pointrend", { checkpoint: join(d, "absent.pkl"), out: join(d, "bad.pt") }, { stdio: "pipe" })).rejects.toMatchObject({
        code: "ERR_STCN_INPUT",
        message: expect.stringContaining("checkpoint not found"),
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }, 900_000);
});

describe("PointRend TorchScript through the addon == the eager Python model", () => {
  beforeAll(async () => {
    setNumThreads(1); // one intra-op thread here and in Python: conv sums depend on how work is split
    dir = tempDir("stcn-pointrend-");
    execFileSync(process.execPath, [join(repoRoot, "dist/cli.js"), "export", "pointrend", ...exportArgs, "--out", join(dir, "m.pt")], {
      encoding: "utf8",
      timeout: 600_000,
    });
    image = await readRgb(frame0);
    writeFileSync(join(dir, "frame.rgb"), image.data);
    execFileSync(python, [reference, repoRoot, dir, String(image.width), String(image.height), ...exportArgs], {
      encoding: "utf8",
      timeout: 600_000,
    });
    module = await loadModule(join(dir, "m.pt"));
    ours = await detectorAnnotator(module).detect(image);
  }, 900_000);
  afterAll(() => {
    module?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("carries metadata (model, channel order) and the Mask R-CNN archive's signature", () => {
    expect(module.metadata).toMatchObject({ model: "pointrend", kind: "detector", seed: 3, channel_order: "rgb" });
    expect(module.signature("forward")).toContain("Tensor image) -> Dict(str, Tensor)");
  });

  it("same detections: count, order, labels identical; boxes/scores within 1e-4; binary masks match", () => {
    const ref = JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as {
      threads: number;
      count: number;
      labels: number[];
      masks_shape: number[];
    };
    expect(ref.threads).toBe(1);
    expect(ref.count).toBeGreaterThanOrEqual(10); // detections exist
    expect(ours.count).toBe(ref.count);
    expect(Array.from(ours.labels)).toEqual(ref.labels);
    expect(ref.masks_shape).toEqual([ref.count, 1, image.height, image.width]);
    const refBoxes = f32(join(dir, "ref_boxes.f32"));
    const refScores = f32(join(dir, "ref_scores.f32"));
    const refMasks = f32(join(dir, "ref_masks.f32"));
    expect(ours.boxes.length).toBe(refBoxes.length);
    let dBoxesRel = 0;
    for (let i = 0; i < refBoxes.length; i++) dBoxesRel = Math.max(dBoxesRel, Math.abs(ours.boxes[i]! - refBoxes[i]!) / Math.max(1, Math.abs(refBoxes[i]!)));
    let dScores = 0;
    for (let i = 0; i < refScores.length; i++) dScores = Math.max(dScores, Math.abs(ours.scores[i]! - refScores[i]!));
    expect(ours.masks.length).toBe(refMasks.length);
    let mismatch = 0;
    let fg = 0;
    let nonBinary = 0;
    for (let i = 0; i < refMasks.length; i++) {
      const v = ours.masks[i]!;
      if (v !== 0 && v !== 1) nonBinary++;
      if (v === 1) fg++;
      if (v !== refMasks[i]) mismatch++;
    }
    console.log(`pointrend parity: ${ours.count} detections, boxes rel ${dBoxesRel}, scores ${dScores}, mask pixels differing ${mismatch}/${refMasks.length}, fg ${fg}; addon detector ${ours.detectorMs.toFixed(0)} ms`);
    recordDrift("pointrend vs eager: boxes, max relative", dBoxesRel, 1e-4);
    recordDrift("pointrend vs eager: scores, max", dScores, 1e-4);
    recordDrift("pointrend vs eager: mask pixels differing (fraction)", mismatch / refMasks.length, 1e-4);
    expect(dBoxesRel).toBeLessThanOrEqual(1e-4);
    expect(dScores).toBeLessThanOrEqual(1e-4);
    expect(nonBinary).toBe(0); // PointRend masks are binary (the study's pred_masks)
    expect(fg).toBeGreaterThan(0);
    expect(mismatch).toBeLessThanOrEqual(1e-4 * refMasks.length);
    for (let i = 1; i < ours.count; i++) expect(ours.scores[i]!).toBeLessThanOrEqual(ours.scores[i - 1]!);
    for (const s of ours.scores) expect(s).toBeGreaterThan(0.01); // the study's floor, strict as detectron2
  });

  it("--channel-order bgr is exactly the rgb model on the channel-swapped image (and differs from rgb)", () => {
    const ref = JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as { swap_equal: boolean; swap_differs: boolean };
    expect(ref.swap_equal).toBe(true);
    expect(ref.swap_differs).toBe(true);
  });

  it("no detection above the score floor gives empty outputs of the contract's shapes", () => {
    const ref = JSON.parse(readFileSync(join(dir, "ref.json"), "utf8")) as { empty_shapes: Record<string, number[]> };
    expect(ref.empty_shapes).toEqual({ boxes: [0, 4], scores: [0], labels: [0], masks: [0, 1, image.height, image.width] });
  });

  it("stcn annotate --method pointrend writes the GT objects' box-nearest detections", async () => {
    const out = join(dir, "first.png");
    const result = await detectorAnnotateFile({ method: "pointrend", model: join(dir, "m.pt"), frames: join(judo, "JPEGImages/480p/judo"), gtMask: gt0, out });
    expect(result.objects.map((o) => o.id)).toEqual([1, 2]);
    for (const o of result.objects) expect(o.detection).not.toBeNull();
    const written = await readLabelPng(out);
    expect(Array.from(written.data)).toEqual(Array.from(result.labels));
  }, 300_000);
});
