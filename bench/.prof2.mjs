import { evaluateDavis } from "../dist/index.js";
import { mkdtempSync } from "node:fs";
const mini = "/work/shared/data/davis-mini";
for (let r = 0; r < 3; r++) {
const t = performance.now(); const c = process.cpuUsage();
await evaluateDavis({ davisRoot: mini + "/DAVIS", resultsPath: mini + "/results/dilate3", out: mkdtempSync("/tmp/i16/ev-"), workers: 0 });
const u = process.cpuUsage(c);
console.log("inline", (performance.now() - t).toFixed(0), "ms wall", ((u.user + u.system) / 1000).toFixed(0), "ms cpu");
}
