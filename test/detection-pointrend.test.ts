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
import { dataRoot, python, repoRoot, tempDir } from "./helpers.js";

const judo = join(dataRoot, "davis-judo");
const frame0 = join(judo, "JPEGImages/480p/judo/00000.jpg");
const gt0 = join(judo, "Annotations/480p/judo/00000.png");
const exportArgs = ["--random-init", "--seed", "3", "--min-size", "320", "--max-size", "600", "--detections-per-img", "30"];

/** detectron2 names and shapes of pointrend_rcnn_R_50_FPN_3x_coco, written from its naming scheme. */
const syntheticPickle = String.raw`
import pickle, sys, math
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
shapes = {}
def convnorm(name, cout, cin, k):
    shapes[name + ".weight"] = (cout, cin, k, k)
    for b in ("weight", "bias", "running_mean", "running_var"):
        shapes[name + ".norm." + b] = (cout,)
convnorm("backbone.bottom_up.stem.conv1", 64, 3, 7)
cin = 64
for stage, (n, mid, cout) in zip(range(2, 6), [(3, 64, 256), (4, 128, 512), (6, 256, 1024), (3, 512, 2048)]):
    for i in range(n):
        p = "backbone.bottom_up.res%d.%d." % (stage, i)
        if i == 0:
            convnorm(p + "shortcut", cout, cin, 1)
        convnorm(p + "conv1", mid, cin if i == 0 else cout, 1)
        convnorm(p + "conv2", mid, mid, 3)
        convnorm(p + "conv3", cout, mid, 1)
    cin = cout
for lvl, c in zip(range(2, 6), [256, 512, 1024, 2048]):
    shapes["backbone.fpn_lateral%d.weight" % lvl] = (256, c, 1, 1); shapes["backbone.fpn_lateral%d.bias" % lvl] = (256,)
    shapes["backbone.fpn_output%d.weight" % lvl] = (256, 256, 3, 3); shapes["backbone.fpn_output%d.bias" % lvl] = (256,)
for name, shape in [("conv", (256, 256, 3, 3)), ("objectness_logits", (3, 256, 1, 1)), ("anchor_deltas", (12, 256, 1, 1))]:
    shapes["proposal_generator.rpn_head." + name + ".weight"] = shape; shapes["proposal_generator.rpn_head." + name + ".bias"] = (shape[0],)
for name, shape in [("box_head.fc1", (1024, 12544)), ("box_head.fc2", (1024, 1024)), ("box_predictor.cls_score", (81, 1024)),
                    ("box_predictor.bbox_pred", (320, 1024)), ("mask_head.coarse_head.reduce_spatial_dim_conv", (256, 256, 2, 2)),
                    ("mask_head.coarse_head.coarse_mask_fc1", (1024, 12544)), ("mask_head.coarse_head.coarse_mask_fc2", (1024, 1024)),
                    ("mask_head.coarse_head.prediction", (3920, 1024)), ("mask_head.point_head.fc1", (256, 336, 1)),
                    ("mask_head.point_head.fc2", (256, 336, 1)), ("mask_head.point_head.fc3", (256, 336, 1)),
                    ("mask_head.point_head.predictor", (80, 336, 1))]:
    shapes["roi_heads." + name + ".weight"] = shape; shapes["roi_heads." + name + ".bias"] = (shape[0],)
model = {k: rng.standard_normal(s, dtype=np.float32) * 0.01 for k, s in shapes.items()}
for k in model:
    if k.endswith("running_var"):
        model[k] = np.abs(model[k]) + 1
# buffers older detectron2 checkpoints carry: must agree with the config
model["pixel_mean"] = np.array([103.53, 116.28, 123.675], dtype=np.float32).reshape(3, 1, 1)
model["pixel_std"] = np.ones((3, 1, 1), dtype=np.float32)
for i, size in enumerate([32, 64, 128, 256, 512]):
    rows = []
    for ratio in (0.5, 1.0, 2.0):
        w = math.sqrt(size * size / ratio); h = ratio * w
        rows.append([-w / 2, -h / 2, w / 2, h / 2])
    model["proposal_generator.anchor_generator.cell_anchors.%d" % i] = np.array(rows, dtype=np.float32)
def dump(path, m):
    with open(path, "wb") as f:
        pickle.dump({"model": m, "__author__": "Detectron2 Model Zoo"}, f)
dump(out + "/full.pkl", model)
print(len(shapes), len(model))
missing = dict(model); del missing["roi_heads.mask_head.point_head.fc2.bias"]; dump(out + "/missing.pkl", missing)
extra = dict(model); extra["roi_heads.mask_head.extra.weight"] = np.zeros(3, dtype=np.float32); dump(out + "/extra.pkl", extra)
wrong = dict(model); wrong["roi_heads.box_predictor.cls_score.weight"] = np.zeros((91, 1024), dtype=np.float32); dump(out + "/wrong.pkl", wrong)
`;

/**
 * Every array of the pickle is in the archive's state_dict, unchanged, under detectron2 v0.6's module
 * name, and nothing else is; the other generations of PointRend names convert to the same state_dict.
 */
const checkArchive = String.raw`
import pickle, sys, json, torch, torchvision  # noqa: F401 (registers torchvision::nms / roi_align for torch.jit.load)
sys.path.insert(0, sys.argv[4] + "/torchscript")
import pointrend
pkl = pickle.load(open(sys.argv[1], "rb"))["model"]
state = torch.jit.load(sys.argv[2]).state_dict()
optional = {"pixel_mean", "pixel_std"} | {"proposal_generator.anchor_generator.cell_anchors.%d" % i for i in range(5)}
params = {k.replace("coarse_head.coarse_mask_fc", "coarse_head.fc"): v for k, v in pkl.items() if k not in optional}
bad = [k for k, v in params.items() if k not in state or not torch.equal(state[k], torch.from_numpy(v))]
# the original (Jan 2020) and the v0.6 module names
def renamed(prefixes):
    out = {}
    for k, v in pkl.items():
        for a, b in prefixes:
            if k.startswith(a):
                k = b + k[len(a):]
                break
        out[k] = v
    return out
ref = pointrend.convert(pkl)
gens = {
    "original": renamed([("roi_heads.mask_head.coarse_head.coarse_mask_fc", "roi_heads.mask_coarse_head.coarse_mask_fc"),
                         ("roi_heads.mask_head.coarse_head.", "roi_heads.mask_coarse_head."),
                         ("roi_heads.mask_head.point_head.", "roi_heads.mask_point_head.")]),
    "v0.6": renamed([("roi_heads.mask_head.coarse_head.coarse_mask_fc", "roi_heads.mask_head.coarse_head.fc")]),
}
same = {g: set(pointrend.convert(d)) == set(ref) and all(torch.equal(t, ref[k]) for k, t in pointrend.convert(d).items()) for g, d in gens.items()}
dup = dict(pkl); dup["roi_heads.mask_head.coarse_head.fc1.weight"] = pkl["roi_heads.mask_head.coarse_head.coarse_mask_fc1.weight"]
try:
    pointrend.convert(dup); dup_refused = ""
except pointrend.ConversionError as e:
    dup_refused = str(e)
json.dump({"pickle": len(params), "archive": len(state), "bad": bad[:5], "others": sorted(set(state) - set(params)),
           "generations": same, "duplicate": dup_refused}, open(sys.argv[3], "w"))
`;

const reference = String.raw`
import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/torchscript")
import pointrend
torch.set_num_threads(1)
out, w, h = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
args = pointrend.parser().parse_args(sys.argv[5:] + ["--out", out + "/unused.pt"])
eager = pointrend.make(args)
scripted = torch.jit.load(out + "/m.pt")
se, ss = eager.state_dict(), scripted.state_dict()
assert set(ss) - set(se) == {"coco_ids", "pixel_mean", "pixel_std", "proposal_generator.cell_anchors"}, "state_dict keys differ"
assert all(torch.equal(se[k], ss[k]) for k in se), "weights differ"
rgb = torch.frombuffer(bytearray(open(out + "/frame.rgb", "rb").read()), dtype=torch.uint8).reshape(h, w, 3)
image = (rgb.permute(2, 0, 1).float() / 255).contiguous()
with torch.no_grad():
    d = eager(image)
    # --channel-order bgr == the rgb model fed the channel-swapped image
    bgr = pointrend.make(pointrend.parser().parse_args(sys.argv[5:] + ["--out", "x", "--channel-order", "bgr"]))
    db = bgr(image)
    dr = eager(image.flip(0).contiguous())
    # no detection above the floor: empty outputs of the right shapes (scripted, torchvision kernels)
    none = torch.jit.script(pointrend.make(pointrend.parser().parse_args(sys.argv[5:] + ["--out", "x", "--score-thresh", "0.999"])))(image)
empty_shapes = {k: list(v.shape) for k, v in none.items()}
swap_equal = all(torch.equal(db[k], dr[k]) for k in d)
swap_differs = db["scores"].shape != d["scores"].shape or not torch.equal(db["scores"], d["scores"])
for k in ("boxes", "scores", "masks"):
    d[k].contiguous().numpy().astype("float32").tofile(out + "/ref_" + k + ".f32")
json.dump({"threads": torch.get_num_threads(), "count": int(d["scores"].numel()), "labels": d["labels"].tolist(),
           "masks_shape": list(d["masks"].shape), "swap_equal": swap_equal, "swap_differs": swap_differs,
           "empty_shapes": empty_shapes},
          open(out + "/ref.json", "w"))
`;

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
      writeFileSync(join(d, "make.py"), syntheticPickle);
      const counts = execFileSync(python, [join(d, "make.py"), d], { encoding: "utf8", timeout: 300_000 }).trim();
      expect(counts).toBe("311 318");
      await runExporter("pointrend", { checkpoint: join(d, "full.pkl"), out: join(d, "m.pt") }, { stdio: "pipe" });
      writeFileSync(join(d, "check.py"), checkArchive);
      execFileSync(python, [join(d, "check.py"), join(d, "full.pkl"), join(d, "m.pt"), join(d, "check.json"), repoRoot], { timeout: 300_000 });
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
    writeFileSync(join(dir, "reference.py"), reference);
    execFileSync(python, [join(dir, "reference.py"), repoRoot, dir, String(image.width), String(image.height), ...exportArgs], {
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
