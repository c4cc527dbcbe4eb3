#!/usr/bin/env node
/**
 * Dense CRF speed: one 854x480 frame (../shared/data/clips/bike), 2 labels, the study's parameters
 * (unary_from_labels gt_prob 10/11, Gaussian sxy 3 compat 3, bilateral sxy 40 srgb 13 compat 10,
 * 10 iterations). Prints ms per inference (median of BENCH_RUNS after one warm-up) and pixels/s, and,
 * in the same run, the Python-side alternatives that are importable by /usr/bin/python3 (pydensecrf;
 * SimpleCRF's denseCRF), with the ratio and the label agreement.
 *
 *   node bench/crf.js
 *
 * Env: BENCH_THREADS (default 2), BENCH_RUNS (default 5), CRF_PYTHON (default /usr/bin/python3).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { STUDY_CRF, denseCrf, unaryFromLabels } from "../dist/index.js";
import { readRgb } from "../dist/io/image.js";
import { readLabelPng } from "../dist/io/png.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const clip = join(repo, "..", "shared", "data", "clips", "bike");
const threads = Number(process.env.BENCH_THREADS ?? 2);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const python = process.env.CRF_PYTHON ?? "/usr/bin/python3";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const image = await readRgb(join(clip, "frames", "00000.jpg"));
const objects = await readLabelPng(join(clip, "masks", "00000.png"));
const mask = objects.data.map((v) => (v === 1 ? 1 : 0));
const n = image.width * image.height;
const options = {
  image,
  unary: unaryFromLabels(mask, STUDY_CRF.nLabels, STUDY_CRF.gtProb, STUDY_CRF.zeroUnsure),
  gaussian: STUDY_CRF.gaussian,
  bilateral: STUDY_CRF.bilateral,
  iterations: STUDY_CRF.iterations,
  threads,
};

console.log(
  `crf bench: ${image.width}x${image.height}, 2 labels, gt_prob 10/11, gaussian sxy 3 w 3, bilateral sxy 40 srgb 13 w 10, ` +
    `10 iterations; threads ${threads} (machine: ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")})`,
);

await denseCrf(options); // warm-up
const samples = [];
let last;
for (let r = 0; r < runs; r++) {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  last = await denseCrf(options);
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  const tm = last.timing;
  samples.push({ crf: tm.unaryMs + tm.setupMs + tm.inferenceMs, wall, cpu: (cpu.user + cpu.system) / 1000, tm });
}
samples.sort((a, b) => a.crf - b.crf);
const med = samples[Math.floor(samples.length / 2)];
const crfMs = med.crf;
console.log(
  `ours (stcn-node denseCrf): ${crfMs.toFixed(1)} ms per inference (median of ${runs}; unary ${med.tm.unaryMs.toFixed(1)} + ` +
    `lattice set-up ${med.tm.setupMs.toFixed(1)} + iterations ${med.tm.inferenceMs.toFixed(1)}), ${med.wall.toFixed(1)} ms wall incl. copies, ` +
    `${med.cpu.toFixed(0)} ms CPU (all threads), ${((n / crfMs) * 1000 / 1e6).toFixed(2)} Mpixel/s; lattice vertices ${last.latticePoints.join(", ")}; ` +
    `best of ${runs}: ${samples[0].crf.toFixed(1)} ms`,
);

// Python-side alternatives, same inputs, timed inside Python (median of the same number of runs).
const dir = mkdtempSync(join(tmpdir(), "stcn-crf-bench-"));
try {
  writeFileSync(join(dir, "image.rgb"), image.data);
  writeFileSync(join(dir, "mask.u8"), mask);
  const script = `
import sys, time, json
import numpy as np
W, H, runs, dir = ${image.width}, ${image.height}, ${runs}, ${JSON.stringify(dir)}
img = np.fromfile(dir + "/image.rgb", dtype=np.uint8).reshape(H, W, 3)
mask = np.fromfile(dir + "/mask.u8", dtype=np.uint8).reshape(H, W)
which = sys.argv[1]
def once():
    if which == "pydensecrf":
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_labels
        d = dcrf.DenseCRF2D(W, H, 2)
        d.setUnaryEnergy(unary_from_labels(mask, 2, 10 / 11, zero_unsure=False))
        d.addPairwiseGaussian(sxy=(3, 3), compat=3, kernel=dcrf.DIAG_KERNEL, normalization=dcrf.NORMALIZE_SYMMETRIC)
        d.addPairwiseBilateral(sxy=(40, 40), srgb=(13, 13, 13), rgbim=np.ascontiguousarray(img), compat=10,
                               kernel=dcrf.DIAG_KERNEL, normalization=dcrf.NORMALIZE_SYMMETRIC)
        q = np.array(d.inference(10)).reshape(2, H, W)
        return q.argmax(0)
    import denseCRF  # SimpleCRF
    p = np.where(mask[..., None] == np.arange(2), 10 / 11, 1 / 11).astype(np.float32)
    return denseCRF.densecrf(img, p, (10.0, 40.0, 13.0, 3.0, 3.0, 10))
try:
    once()
except ImportError as e:
    print(json.dumps({"available": False, "why": str(e)})); sys.exit(0)
ts, out = [], None
for _ in range(runs):
    t = time.perf_counter(); out = once(); ts.append((time.perf_counter() - t) * 1000)
out.astype(np.uint8).tofile(dir + "/" + which + ".u8")
print(json.dumps({"available": True, "ms": sorted(ts)[len(ts) // 2]}))
`;
  writeFileSync(join(dir, "alt.py"), script);
  for (const which of ["pydensecrf", "SimpleCRF"]) {
    const res = spawnSync(python, [join(dir, "alt.py"), which], { encoding: "utf8" });
    let parsed;
    try {
      parsed = JSON.parse(res.stdout.trim().split("\n").pop() ?? "");
    } catch {
      console.log(`${which}: failed (${(res.stderr || res.error?.message || "no output").trim().split("\n").pop()})`);
      continue;
    }
    if (!parsed.available) {
      console.log(`${which}: not available to ${python} (${parsed.why}); not timed`);
      continue;
    }
    const labels = readFileSync(join(dir, `${which}.u8`));
    let agree = 0;
    for (let i = 0; i < n; i++) if (labels[i] === last.labels[i]) agree++;
    console.log(
      `${which}: ${parsed.ms.toFixed(1)} ms per inference (${((n / parsed.ms) * 1000 / 1e6).toFixed(2)} Mpixel/s); ` +
        `ours is ${(parsed.ms / crfMs).toFixed(2)}x faster; labels agree on ${((100 * agree) / n).toFixed(3)}% of pixels`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
