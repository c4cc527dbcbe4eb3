#!/usr/bin/env node
/**
 * Detector speed: Mask R-CNN R50-FPN (torchvision architecture, seeded random weights: no COCO
 * checkpoint here) on the DAVIS judo frame 0 (854x480) at the study's settings (internal resize 800 /
 * 1333, score 0.05, NMS 0.5, <= 100 detections). Prints the detector time through the addon (our
 * nms/roi_align kernels) and, in the same run, the same model in Python: torchvision eager and the
 * same TorchScript archive under torch.jit.load (torchvision's kernels), with the ratios. Then a
 * micro-benchmark of roi_align (the box head's FPN level-0 call) and nms, ours vs torchvision's.
 *
 *   node bench/detector.js
 *
 * Env: BENCH_THREADS (default 2), BENCH_RUNS (default 3), STCN_PYTHON (default /usr/bin/python3).
 * Random weights give 100 detections (real COCO weights usually far fewer on DAVIS frames); mask
 * pasting scales with the detection count, so absolute times are an upper bound for real weights.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModule, setNumThreads, Tensor } from "../dist/index.js";
import { detectorAnnotator } from "../dist/annotators/detector.js";
import { readRgb } from "../dist/io/image.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const frame = join(repo, "..", "shared", "data", "davis-judo", "JPEGImages", "480p", "judo", "00000.jpg");
const threads = Number(process.env.BENCH_THREADS ?? 2);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const python = process.env.STCN_PYTHON ?? "/usr/bin/python3";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

setNumThreads(threads);
console.log(
  `detector bench: Mask R-CNN R50-FPN random-init seed 0, judo 854x480, resize 800/1333; threads ${threads}, median of ${runs} after a warm-up ` +
    `(machine: ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")})`,
);

const dir = mkdtempSync(join(tmpdir(), "stcn-det-bench-"));
try {
  const exp = spawnSync(python, [join(repo, "torchscript", "export_maskrcnn.py"), "--random-init", "--seed", "0", "--out", join(dir, "m.pt")], { encoding: "utf8" });
  if (exp.status !== 0) throw new Error(`export failed: ${exp.stderr}`);
  const image = await readRgb(frame);
  writeFileSync(join(dir, "frame.rgb"), image.data);

  const module = await loadModule(join(dir, "m.pt"));
  const annotator = detectorAnnotator(module);
  await annotator.detect(image); // warm-up (TorchScript profiling run)
  const ours = [];
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const out = await annotator.detect(image);
    ours.push(out.detectorMs);
    count = out.count;
  }
  const oursMs = median(ours);
  console.log(`ours (addon, TorchScript + stcn nms/roi_align): ${oursMs.toFixed(0)} ms per frame-0 detection (${count} detections)`);

  // Micro-benchmark inputs: level-0 features of an 800x1422 input and 1000 proposals.
  const script = `
import sys, time, json, torch
sys.path.insert(0, ${JSON.stringify(join(repo, "torchscript"))})
import export_maskrcnn, torchvision
torch.set_num_threads(${threads})
d = ${JSON.stringify(dir)}
rgb = torch.frombuffer(bytearray(open(d + "/frame.rgb", "rb").read()), dtype=torch.uint8).reshape(${image.height}, ${image.width}, 3)
def timed(f):
    f()
    ts = []
    for _ in range(${runs}):
        t = time.perf_counter(); f(); ts.append((time.perf_counter() - t) * 1000)
    return sorted(ts)[len(ts) // 2]
out = {}
eager = export_maskrcnn.make(export_maskrcnn.parser().parse_args(["--random-init", "--seed", "0", "--out", d + "/x.pt"]))
with torch.no_grad():
    out["eager"] = timed(lambda: eager(rgb))
    scripted = torch.jit.load(d + "/m.pt")
    out["script"] = timed(lambda: scripted(rgb))
g = torch.Generator().manual_seed(0)
x = torch.randn(1, 256, 200, 356, generator=g)
xy = torch.rand(1000, 2, generator=g) * 1300
rois = torch.cat([torch.zeros(1000, 1), xy, xy + torch.rand(1000, 2, generator=g) * 300], 1)
x.numpy().tofile(d + "/x.f32"); rois.numpy().tofile(d + "/rois.f32")
out["roi_align"] = timed(lambda: torch.ops.torchvision.roi_align(x, rois, 0.25, 7, 7, 2, False))
boxes = rois[:, 1:].contiguous(); scores = torch.rand(1000, generator=g)
boxes.numpy().tofile(d + "/boxes.f32"); scores.numpy().tofile(d + "/scores.f32")
out["nms"] = timed(lambda: torch.ops.torchvision.nms(boxes, scores, 0.5))
class Ops(torch.nn.Module):
    @torch.jit.export
    def nms(self, b: torch.Tensor, s: torch.Tensor, t: float) -> torch.Tensor:
        return torch.ops.torchvision.nms(b, s, t)
    @torch.jit.export
    def roi_align(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return torch.ops.torchvision.roi_align(x, r, 0.25, 7, 7, 2, False)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
torch.jit.save(torch.jit.script(Ops()), d + "/ops.pt")
print(json.dumps(out))
`;
  writeFileSync(join(dir, "ref.py"), script);
  const res = spawnSync(python, [join(dir, "ref.py")], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`python reference failed: ${res.stderr}`);
  const ref = JSON.parse(res.stdout.trim().split("\n").pop());
  console.log(`python torchvision eager:             ${ref.eager.toFixed(0)} ms  (ours / eager = ${(oursMs / ref.eager).toFixed(2)})`);
  console.log(`python torch.jit.load, same archive:  ${ref.script.toFixed(0)} ms  (ours / python = ${(oursMs / ref.script).toFixed(2)})`);
  module.dispose();

  const { readFileSync } = await import("node:fs");
  const f32 = (p) => {
    const b = readFileSync(join(dir, p));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const ops = await loadModule(join(dir, "ops.pt"));
  const x = Tensor.fromTypedArray(f32("x.f32"), [1, 256, 200, 356]);
  const rois = Tensor.fromTypedArray(f32("rois.f32"), [1000, 5]);
  const boxes = Tensor.fromTypedArray(f32("boxes.f32"), [1000, 4]);
  const scores = Tensor.fromTypedArray(f32("scores.f32"), [1000]);
  const time = async (f) => {
    (await f()).dispose();
    const ts = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const y = await f();
      ts.push(performance.now() - t);
      y.dispose();
    }
    return median(ts);
  };
  const roiMs = await time(() => ops.run("roi_align", x, rois));
  const nmsMs = await time(() => ops.run("nms", boxes, scores, 0.5));
  console.log(`roi_align [1,256,200,356], 1000 RoIs, 7x7, sr 2: ours ${roiMs.toFixed(2)} ms, torchvision ${ref.roi_align.toFixed(2)} ms (ratio ${(roiMs / ref.roi_align).toFixed(2)}; ours includes the async call)`);
  console.log(`nms 1000 boxes, IoU 0.5:                        ours ${nmsMs.toFixed(2)} ms, torchvision ${ref.nms.toFixed(2)} ms (ratio ${(nmsMs / ref.nms).toFixed(2)}; ours includes the async call)`);
  for (const t of [x, rois, boxes, scores]) t.dispose();
  ops.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
