/**
 * The detector annotator's matching and composition rules (docs/detection.md, "The study's procedure"), on hand-made label maps
 * and on small scripted "fake detectors" (TorchScript modules returning fixed boxes/scores with
 * rectangular soft masks), so every edge case is controlled: ties, overlaps, several GT objects taking
 * the same detection, the study's candidate floor, no detection at all.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelIds, loadModule, type Module } from "../dist/index.js";
import {
  boxDistance,
  candidateCount,
  composeLabelMap,
  detectorAnnotator,
  gtBox,
  imageTensor,
  matchBoxes,
  type Box,
} from "../dist/annotators/detector.js";
import type { LabelMap } from "../dist/io/png.js";
import type { RgbImage } from "../dist/io/image.js";
import { python, tempDir, testPython } from "./helpers.js";

/** A W x H label map with rectangles [x0,y0,x1,y1) painted in order. */
function labelMap(width: number, height: number, rects: Array<[number, Box]>): LabelMap {
  const data = new Uint8Array(width * height);
  for (const [id, [x0, y0, x1, y1]] of rects) {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = id;
  }
  return { data, width, height };
}

describe("GT boxes", () => {
  it("study rule: exclusive end after the first run, H-1/W-1 when the run reaches the border", () => {
    const m = labelMap(10, 8, [[1, [2, 1, 5, 4]]]);
    expect(gtBox(m.data, 10, 8, 1, "study")).toEqual([2, 1, 5, 4]);
    expect(gtBox(m.data, 10, 8, 1, "exact")).toEqual([2, 1, 5, 4]);
    const edge = labelMap(10, 8, [[1, [6, 5, 10, 8]]]); // touches the right and bottom borders
    expect(gtBox(edge.data, 10, 8, 1, "study")).toEqual([6, 5, 9, 7]);
    expect(gtBox(edge.data, 10, 8, 1, "exact")).toEqual([6, 5, 10, 8]);
  });

  it("study rule truncates an object split by an empty row/column; exact does not", () => {
    const split = labelMap(12, 10, [
      [1, [1, 1, 3, 3]],
      [1, [6, 5, 9, 8]], // second part after empty rows 3-4 and columns 3-5
    ]);
    expect(gtBox(split.data, 12, 10, 1, "study")).toEqual([1, 1, 3, 3]);
    expect(gtBox(split.data, 12, 10, 1, "exact")).toEqual([1, 1, 9, 8]);
    expect(gtBox(split.data, 12, 10, 2, "study")).toBeNull();
  });

  it("object ids are the sorted non-zero labels present", () => {
    expect(labelIds(labelMap(6, 6, [[3, [0, 0, 2, 2]], [1, [3, 3, 5, 5]]]).data, { void: null })).toEqual([1, 3]);
    expect(labelIds(labelMap(4, 4, []).data, { void: null })).toEqual([]);
  });
});

describe("matching", () => {
  it("nearest box in L2 over [x0,y0,x1,y1]; strict < keeps the first (highest-scoring) on ties", () => {
    const dets = [10, 10, 20, 20, 0, 0, 5, 5, 10, 10, 20, 20, 30, 30, 40, 40];
    expect(matchBoxes([[11, 11, 21, 21]], dets, 4)).toEqual([0]); // detections 0 and 2 tie: 0 wins
    expect(matchBoxes([[0, 0, 4, 4]], dets, 4)).toEqual([1]);
    // Equidistant different boxes: the first wins.
    expect(matchBoxes([[10, 10, 10, 10]], [10, 10, 12, 10, 10, 10, 10, 12], 2)).toEqual([0]);
    expect(boxDistance([0, 0, 0, 0], [3, 4, 0, 0])).toBe(5);
  });

  it("only the first `candidates` detections compete; several GT objects may take the same one; no distance limit", () => {
    const dets = [0, 0, 10, 10, 100, 100, 110, 110];
    expect(matchBoxes([[101, 101, 111, 111]], dets, 1)).toEqual([0]); // far, but the only candidate
    expect(matchBoxes([[1, 1, 9, 9], [2, 2, 11, 11]], dets, 2)).toEqual([0, 0]);
    expect(matchBoxes([[1, 1, 9, 9], null], dets, 0)).toEqual([null, null]);
  });

  it("the study's candidate count is the number of scores >= the floor", () => {
    expect(candidateCount([0.9, 0.5, 0.01, 0.009], 0.01)).toBe(3);
    expect(candidateCount([], 0.01)).toBe(0);
  });
});

describe("composition", () => {
  it("lowest id wins overlaps whatever the order of the inputs; null masks paint nothing", () => {
    const a = new Uint8Array([1, 1, 0, 0]);
    const b = new Uint8Array([0, 1, 1, 0]);
    const r = composeLabelMap([b, a, null], [2, 1, 3], 2, 2);
    expect(Array.from(r.labels)).toEqual([1, 1, 2, 0]);
    expect(r.pixels).toEqual([1, 2, 0]);
  });

  it("refuses ids outside 1..255 and masks of the wrong size", () => {
    expect(() => composeLabelMap([new Uint8Array(4)], [0], 2, 2)).toThrow(/outside 1..255/);
    expect(() => composeLabelMap([new Uint8Array(3)], [1], 2, 2)).toThrow(/3 pixels/);
  });

  it("image tensors are the RGB bytes as uint8 [H,W,3] (the archive converts them)", () => {
    const image: RgbImage = { data: new Uint8Array([255, 0, 51, 0, 102, 0]), width: 2, height: 1 };
    const rgb = imageTensor(image);
    expect(rgb.shape).toEqual([1, 2, 3]);
    expect(rgb.dtype).toBe("uint8");
    expect(Array.from(rgb.toTypedArray() as Uint8Array)).toEqual([255, 0, 51, 0, 102, 0]);
    rgb.dispose();
    expect(() => imageTensor({ data: new Uint8Array(5), width: 2, height: 1 })).toThrow(/image.data has 5 bytes, expected 2x1x3 = 6/);
  });
});

// Fake detectors: fixed detections, soft masks 0.9 inside the box and 0.1 outside.
const fakeScript = testPython("detection-annotate-fake-detectors.py");

const W = 40;
const H = 30;
const image: RgbImage = { data: new Uint8Array(W * H * 3).fill(128), width: W, height: H };
const fakes = {
  empty: { boxes: [], scores: [] },
  // det 0 overlaps det 1; det 2 is a duplicate of det 1 with a lower score; det 3 scores below 0.01.
  several: {
    boxes: [
      [2, 2, 20, 20],
      [10, 10, 30, 25],
      [10, 10, 30, 25],
      [30, 0, 40, 10],
    ],
    scores: [0.9, 0.8, 0.7, 0.005],
  },
  pointrendLike: { boxes: [[2, 2, 20, 20], [30, 0, 40, 10]], scores: [0.9, 0.005], model: "pointrend" },
};

let dir: string;
const modules: Record<string, Module> = {};

beforeAll(async () => {
  dir = tempDir("stcn-fakedet-");
  execFileSync(python, [fakeScript, dir, JSON.stringify(fakes)], { encoding: "utf8", timeout: 300_000 });
  for (const name of Object.keys(fakes)) modules[name] = await loadModule(join(dir, `${name}.pt`));
});
afterAll(() => {
  Object.values(modules).forEach((m) => m.dispose());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("annotate with controlled detections", () => {
  it("no detection: every GT object stays empty, with a warning, no crash", async () => {
    const warnings: string[] = [];
    const gt = labelMap(W, H, [[1, [2, 2, 10, 10]], [2, [20, 5, 30, 15]]]);
    const r = await detectorAnnotator(modules.empty!, { onWarning: (m) => warnings.push(m) }).annotate(image, gt);
    expect(r.detections).toBe(0);
    expect(r.objects.map((o) => [o.id, o.detection, o.pixels])).toEqual([
      [1, null, 0],
      [2, null, 0],
    ]);
    expect(r.labels.every((v) => v === 0)).toBe(true);
    expect(warnings.join("\n")).toMatch(/found nothing/);
    expect(r.warnings).toEqual(warnings);
    const noGt = await detectorAnnotator(modules.empty!).annotate(image, null);
    expect(noGt.objects).toEqual([]);
    expect(noGt.warnings.join("\n")).toMatch(/found nothing/);
  });

  it("several GT objects take the same detection: the lowest id keeps its pixels, a warning names them", async () => {
    // Objects 1 and 2 both sit nearest detection 0; object 3 nearest detection 1 (its duplicate 2 loses the tie).
    // (painted 2, 1, 3: object 2 is a ring around 1; exact boxes stay the rectangles)
    const gt = labelMap(W, H, [[2, [2, 2, 21, 20]], [1, [3, 3, 19, 19]], [3, [11, 11, 29, 24]]]);
    const r = await detectorAnnotator(modules.several!).annotate(image, gt, { boxRule: "exact" });
    expect(r.objects.map((o) => o.detection)).toEqual([0, 0, 1]);
    expect(r.objects[0]!.pixels).toBe(18 * 18);
    expect(r.objects[1]!.pixels).toBe(0);
    // Object 3 gets detection 1's rectangle minus what object 1 already owns.
    const overlap = (20 - 10) * (20 - 10);
    expect(r.objects[2]!.maskPixels).toBe(20 * 15);
    expect(r.objects[2]!.pixels).toBe(20 * 15 - overlap);
    expect(r.labels[12 * W + 12]).toBe(1); // in both rectangles: the lowest id
    expect(r.labels[22 * W + 25]).toBe(3);
    expect(r.warnings.join("\n")).toMatch(/objects 1, 2 all matched detection 0/);
  });

  it("Mask R-CNN candidates stop at the study's 0.01 floor; PointRend takes all; --score-threshold overrides", async () => {
    const gt = labelMap(W, H, [[1, [30, 0, 40, 10]]]); // exactly detection 3's box (score 0.005)
    const mrcnn = await detectorAnnotator(modules.several!).annotate(image, gt, { boxRule: "exact" });
    expect(mrcnn.objects[0]!.detection).not.toBe(3);
    const all = await detectorAnnotator(modules.several!).annotate(image, gt, { boxRule: "exact", scoreThreshold: 0 });
    expect(all.objects[0]!.detection).toBe(3);
    expect(all.objects[0]!.distance).toBe(0);
    const pr = await detectorAnnotator(modules.pointrendLike!).annotate(image, gt, { boxRule: "exact" });
    expect(pr.objects[0]!.detection).toBe(1);
    const none = await detectorAnnotator(modules.several!).annotate(image, gt, { scoreThreshold: 0.95 });
    expect(none.objects[0]!.detection).toBeNull();
    expect(none.warnings.join("\n")).toMatch(/no detection scores >= 0.95/);
  });

  it("--no-gt: detections above the score become objects 1..N in score order, overlaps to the lower id", async () => {
    const r = await detectorAnnotator(modules.several!).annotate(image, null, { scoreThreshold: 0.75 });
    expect(r.objects.map((o) => [o.id, o.detection])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect(r.labels[12 * W + 12]).toBe(1);
    expect(r.labels[22 * W + 25]).toBe(2);
  });

  it("a GT mask of another size than the frame is refused", async () => {
    const gt = labelMap(W + 1, H, [[1, [0, 0, 2, 2]]]);
    await expect(detectorAnnotator(modules.several!).annotate(image, gt)).rejects.toMatchObject({ code: "ERR_STCN_INPUT" });
  });
});

describe("stcn annotate --as box", () => {
  it("writes the matched detections' boxes (GT ids kept, later boxes on top, as boxes-to-davis fills them)", async () => {
    const { encodeLabelPng, encodeRgb, readLabelPng, boxLabelMap } = await import("../dist/index.js");
    const { execFileSync: run } = await import("node:child_process");
    const { repoRoot } = await import("./helpers.js");
    const framePath = join(dir, "frame.png");
    writeFileSync(framePath, await encodeRgb(image));
    // Objects 1 and 3 (ids kept): nearest detections 0 [2,2,20,20] and 1 [10,10,30,25].
    const gt = labelMap(W, H, [[1, [3, 3, 19, 19]], [3, [11, 11, 29, 24]]]);
    const gtPath = join(dir, "gt.png");
    writeFileSync(gtPath, encodeLabelPng(gt.data, W, H));
    const out = join(dir, "box.png");
    run(process.execPath, [join(repoRoot, "dist", "cli.js"), "annotate", "--method", "maskrcnn", "--model", join(dir, "several.pt"), "--frames", framePath, "--gt-mask", gtPath, "--box-rule", "exact", "--as", "box", "--out", out], { encoding: "utf8" });
    const written = await readLabelPng(out);
    const expected = labelMap(W, H, [[1, [2, 2, 20, 20]], [3, [10, 10, 30, 25]]]);
    expect(Buffer.from(written.data).equals(Buffer.from(expected.data))).toBe(true);
    expect(written.data[12 * W + 12]).toBe(3); // overlap: the later box on top (the mask path gives it to 1)
    expect(Array.from(boxLabelMap([{ id: 2, box: [0.9, 0, 2.99, 1] }, { id: 5, box: null }], 4, 2))).toEqual([2, 2, 0, 0, 0, 0, 0, 0]);
  });
});
