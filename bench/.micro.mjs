import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
const mod = process.argv[2] ?? "../dist";
const { decodeLabelPng } = await import(mod + "/io/png.js");
const { FrameScratch, evaluateFrame, padLabels } = await import(mod + "/davis/metrics.js");
const mini = "/work/shared/data/davis-mini";
const pairs = [];
for (const m of ["dilate3", "swap-noise"]) for (const seq of ["judo", "bike-packing", "lab-coat"]) {
  const files = readdirSync(join(mini, "results", m, seq)).filter(f=>f.endsWith(".png")).slice(0, 20);
  for (const f of files) pairs.push([readFileSync(join(mini, "DAVIS/Annotations/480p", seq, f)), readFileSync(join(mini, "results", m, seq, f))]);
}
const dec = pairs.map(([g, r]) => [decodeLabelPng(g, "g"), decodeLabelPng(r, "r")]);
const s = new FrameScratch(); const j = new Float64Array(8), f = new Float64Array(8);
let best = Infinity, bestD = Infinity, bestP = Infinity;
for (let rep = 0; rep < 8; rep++) {
  let t = (process.cpuUsage().user / 1000);
  for (const [g, r] of dec) { try { evaluateFrame(g.data, r.data, g.width, g.height, 5, j, f, s); } catch {} }
  best = Math.min(best, ((process.cpuUsage().user / 1000) - t) / dec.length);
  t = (process.cpuUsage().user / 1000);
  for (const [g, r] of pairs) { decodeLabelPng(g, "g"); decodeLabelPng(r, "r"); }
  bestD = Math.min(bestD, ((process.cpuUsage().user / 1000) - t) / dec.length);
  if (padLabels) { t = (process.cpuUsage().user / 1000); for (const [g, r] of dec) { padLabels(g.data, g.width, g.height, s.gtPad); } bestP = Math.min(bestP, ((process.cpuUsage().user / 1000) - t) / dec.length); }
}
console.log(`${mod}: metrics ${best.toFixed(3)} ms/frame, decode ${bestD.toFixed(3)} ms/pair, pad ${bestP.toFixed(3)} ms/map`);
