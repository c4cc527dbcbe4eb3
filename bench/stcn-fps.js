#!/usr/bin/env node
/**
 * bench/stcn-fps.js: STCN propagation FPS, the addon pipeline vs the eager Python reference of the
 * official loop (torchscript/reference_stcn.py), same seeded random-weight model, same judo frames
 * (../shared/data/clips/judo, 16 frames, 854x480, objects joining at frames 5, 8, 13), 480p working
 * size, same machine, one run.
 *
 * Order: our pipeline, the reference, our pipeline again (ABA; ours = mean of the two), so a load
 * that drifts during the run (shared machines) does not favour either side.
 *
 * FPS as the official eval_davis.py counts it: frames / propagation seconds (frames already decoded
 * for the reference; for ours the native calls of the tracker, decoding and writing excluded). Ours
 * also gets an end-to-end number (listing, decoding, propagation, PNG writing).
 *
 * Usage: node bench/stcn-fps.js [--threads N] [--size 480] [--frames DIR --masks DIR] [--keep DIR]
 *        (needs `npx tsc -p tsconfig.json` and the addon: STCN_ADDON_PATH or build/Release/stcn.node)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: String(availableParallelism()) },
    size: { type: "string", default: "480" },
    frames: { type: "string", default: join(root, "..", "shared", "data", "clips", "judo", "frames") },
    masks: { type: "string", default: join(root, "..", "shared", "data", "clips", "judo", "masks") },
    python: { type: "string", default: process.env.STCN_PYTHON ?? "/usr/bin/python3" },
    keep: { type: "string" },
  },
});
const threads = Number(args.threads);
process.env.STCN_NUM_THREADS = String(threads);

const { Stcn, segmentFolder, setNumThreads, runtimeInfo, readLabelPng } = await import("../dist/index.js");
setNumThreads(threads);

const work = args.keep ?? mkdtempSync(join(tmpdir(), "stcn-bench-"));
const model = join(work, "stcn.pt");
try {
  console.log(`machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, ${threads} thread(s) for both; LibTorch ${runtimeInfo().libtorch}`);
  execFileSync(args.python, [join(root, "torchscript", "export_stcn.py"), "--random-init", "--seed", "0", "--out", model], { stdio: "ignore" });
  console.log(`model: seeded random STCN (export_stcn.py --random-init --seed 0), frames ${args.frames}, masks ${args.masks}, --size ${args.size}`);

  // Ours. A first short video warms up the TorchScript profiling executor (its first runs record
  // shapes before optimising), as any long-running process amortises it; it is timed separately.
  const stcn = await Stcn.load(model, { device: "cpu" });
  const warmFrames = [0, 1, 2].map((i) => join(args.frames, `${String(i).padStart(5, "0")}.jpg`));
  const warmTracker = stcn.track({ size: Number(args.size) });
  await warmTracker.start(warmFrames[0], join(args.masks, "00000.png"));
  for await (const _ of warmTracker.run(warmFrames.slice(1))) void _;
  const warm = warmTracker.stats();
  warmTracker.dispose();
  // Order ours, reference, ours (ABA): other jobs on a shared machine change the load over minutes;
  // averaging our two runs around the reference cancels a linear drift. Load averages are printed.
  const runOurs = (tag) =>
    segmentFolder(stcn, { frames: args.frames, masks: args.masks, resizeMasks: true, out: join(work, `ours-${tag}`), overwrite: true, size: Number(args.size) });
  const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");
  const loads = [load()];
  const oursA = await runOurs("a");
  loads.push(load());

  // The eager Python reference in the same run, same threads.
  const refOut = join(work, "reference");
  execFileSync(
    args.python,
    [join(root, "torchscript", "reference_stcn.py"), "--model", model, "--frames", args.frames, "--masks", args.masks, "--resize-masks",
      "--size", args.size, "--out", refOut, "--threads", String(threads), "--time"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const ref = JSON.parse(readFileSync(join(refOut, "timing.json"), "utf8"));
  loads.push(load());
  const oursB = await runOurs("b");
  loads.push(load());
  stcn.dispose();

  // Mixed precision on CPU (--half: bfloat16 autocast), warmed up the same way; its labels are
  // compared with the float32 run's.
  const stcnHalf = await Stcn.load(model, { device: "cpu", half: true });
  const warmHalf = stcnHalf.track({ size: Number(args.size) });
  await warmHalf.start(warmFrames[0], join(args.masks, "00000.png"));
  for await (const _ of warmHalf.run(warmFrames.slice(1))) void _;
  warmHalf.dispose();
  const half = await segmentFolder(stcnHalf, { frames: args.frames, masks: args.masks, resizeMasks: true, out: join(work, "ours-half"), overwrite: true, size: Number(args.size) });
  stcnHalf.dispose();
  let same = 0;
  let total = 0;
  for (const name of readdirSync(join(work, "ours-half"))) {
    const a = (await readLabelPng(join(work, "ours-b", name))).data;
    const b = (await readLabelPng(join(work, "ours-half", name))).data;
    for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
    total += a.length;
  }
  const ours = {
    frames: oursA.frames,
    computeSeconds: (oursA.computeSeconds + oursB.computeSeconds) / 2,
    totalSeconds: (oursA.totalSeconds + oursB.totalSeconds) / 2,
    objectIds: oursB.objectIds,
    workingSize: oursB.workingSize,
  };
  ours.fps = ours.frames / ours.computeSeconds;
  ours.endToEndFps = ours.frames / ours.totalSeconds;

  const row = (label, frames, seconds) => `${label.padEnd(50)} ${String(frames).padStart(6)} ${seconds.toFixed(2).padStart(9)} ${(frames / seconds).toFixed(3).padStart(8)}`;
  console.log("");
  console.log(`${"pipeline".padEnd(50)} ${"frames".padStart(6)} ${"seconds".padStart(9)} ${"FPS".padStart(8)}`);
  console.log(row("python eager reference (propagation)", ref.frames, ref.seconds_propagation));
  console.log(row("stcn-node addon, run 1 (propagation)", oursA.frames, oursA.computeSeconds));
  console.log(row("stcn-node addon, run 2 (propagation)", oursB.frames, oursB.computeSeconds));
  console.log(row("stcn-node addon (propagation, mean of runs 1-2)", ours.frames, ours.computeSeconds));
  console.log(row("stcn-node addon (end-to-end: decode+write)", ours.frames, ours.totalSeconds));
  console.log(row("stcn-node warm-up (first 3 frames, not counted)", warm.frames, warm.computeSeconds));
  console.log(row("stcn-node addon --half (CPU bfloat16 autocast)", half.frames, half.computeSeconds));
  console.log("");
  console.log(`load average (1/5/15 min) before ours 1: ${loads[0]}, before reference: ${loads[1]}, before ours 2: ${loads[2]}, end: ${loads[3]}`);
  console.log(`objects ${ours.objectIds.join(",")}, working size ${ours.workingSize.width}x${ours.workingSize.height}`);
  console.log(`ratio (ours / reference, propagation FPS): ${(ours.fps / ref.fps).toFixed(2)}x`);
  console.log(`ratio (ours end-to-end / reference propagation): ${(ours.endToEndFps / ref.fps).toFixed(2)}x`);
  console.log(
    `ratio (ours --half bfloat16 / reference float32, propagation FPS): ${(half.fps / ref.fps).toFixed(2)}x; ` +
      `labels equal to our float32 run on ${((100 * same) / total).toFixed(3)}% of pixels (random weights: near-ties are common)`,
  );
} finally {
  if (!args.keep) rmSync(work, { recursive: true, force: true });
}
