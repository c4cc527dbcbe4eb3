#!/usr/bin/env node
/**
 * CPU bfloat16 (`half`) against float32 on the trained demo model (models/demo/stcn-demo.pt):
 *   1. J&F on its 20 held-out generated clips (seeds 900000-900019, never used in training), float32
 *      and bfloat16, and the difference;
 *   2. label agreement (share of pixels with the same label, per frame) on the real frames of
 *      ../shared/data/clips (judo with objects joining, bike), float32 vs bfloat16.
 * Both precisions load with optimization "freeze" (bfloat16 autocast cannot reach the prepacked ops
 * of "inference", so half on CPU always runs the frozen graph; `--with-inference` adds float32 at
 * "inference").
 *
 *   node bench/bf16-drift.js [--clips N] [--with-inference]      (N held-out clips, default 20)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runDemo } from "../dist/demo/demo.js";
import { DEMO_MODEL_PATH } from "../dist/demo/demo.js";
import { Stcn } from "../dist/stcn/stcn.js";
import { listFrames } from "../dist/stcn/video.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const clipsRoot = resolve(process.env.STCN_CLIPS ?? join(repo, "..", "shared", "data", "clips"));
const argIndex = process.argv.indexOf("--clips");
const n = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 20;
const seeds = Array.from({ length: n }, (_, i) => 900000 + i);

console.log(`bf16-drift: demo model ${DEMO_MODEL_PATH}, ${n} held-out clips; ${cpus()[0]?.model} x${cpus().length}, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
const runs = [
  { name: "float32 (freeze)", half: false, optimization: "freeze" },
  { name: "bfloat16 (freeze)", half: true, optimization: "freeze" },
];
if (process.argv.includes("--with-inference")) runs.splice(1, 0, { name: "float32 (inference)", half: false, optimization: "inference" });
const scores = {};
for (const run of runs) {
  const out = mkdtempSync(join(tmpdir(), "bf16-drift-"));
  const r = await runDemo({ out, seeds, half: run.half, optimization: run.optimization });
  const g = r.evaluation.global;
  scores[run.name] = g;
  console.log(`${run.name.padEnd(22)} J&F ${g["J&F-Mean"].toFixed(4)}  J ${g["J-Mean"].toFixed(4)}  F ${g["F-Mean"].toFixed(4)}  ${r.fps.toFixed(1)} FPS`);
  rmSync(out, { recursive: true, force: true });
}
const d = scores["bfloat16 (freeze)"]["J&F-Mean"] - scores["float32 (freeze)"]["J&F-Mean"];
console.log(`J&F drift bfloat16 - float32 (freeze): ${(100 * d).toFixed(2)} points (limit 0.3)`);

// Real frames: label agreement per frame.
async function labelsOf(model, frames, masks) {
  const tracker = model.track({ size: 480, resizeMasks: true });
  const out = [];
  try {
    out.push((await tracker.start(frames[0], masks.get(0))).labels);
    const rest = frames.slice(1).map((frame, i) => (masks.has(i + 1) ? { frame, mask: masks.get(i + 1) } : frame));
    for await (const r of tracker.run(rest)) out.push(r.labels);
  } finally {
    tracker.dispose();
  }
  return out;
}
const fp32 = await Stcn.load(DEMO_MODEL_PATH, { optimization: "freeze" });
const bf16 = await Stcn.load(DEMO_MODEL_PATH, { optimization: "freeze", half: true });
for (const clip of ["judo", "bike"]) {
  const frames = (await listFrames(join(clipsRoot, clip, "frames"))).map((f) => f.path);
  const maskFiles = await listFrames(join(clipsRoot, clip, "masks"));
  const masks = new Map(maskFiles.map((m) => [Number(m.stem), m.path]));
  const a = await labelsOf(fp32, frames, masks);
  const b = await labelsOf(bf16, frames, masks);
  const agree = a.map((la, t) => {
    const lb = b[t];
    let same = 0;
    for (let i = 0; i < la.length; i++) if (la[i] === lb[i]) same++;
    return same / la.length;
  });
  console.log(`${clip}: label agreement per frame min ${(100 * Math.min(...agree)).toFixed(2)}%, mean ${((100 * agree.reduce((s, x) => s + x, 0)) / agree.length).toFixed(2)}% over ${agree.length} frames`);
}
fp32.dispose();
bf16.dispose();
