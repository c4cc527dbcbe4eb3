/**
 * Shared fixtures of the STCN propagation tests: a seeded random-weight STCN archive, exported with
 * torchscript/export_stcn.py, and the eager reference (torchscript/reference_stcn.py).
 *
 * Why the weights are "tempered": with plain seeded random weights the value encoder hardly sees the
 * masks (2 of 5 input channels, then fused with 1024 key channels), so the objects' readouts differ
 * by ~1e-4 relative and the objects' probabilities by ~3e-5 - every pixel shared by two objects is a
 * near-tie that float rounding (1e-6) decides, and no two implementations agree on ~1% of the labels
 * (the probabilities still agree to 1e-6). We therefore amplify the mask input of the value encoder
 * and weaken the image-only paths (a few weight slices multiplied by fixed factors, below) before
 * exporting, still from the same seeded random state_dict: the objects then differ clearly and the
 * label parity is meaningful.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { python, repoRoot, runPython, testPython } from "./helpers.js";

const TEMPER = testPython("stcn-fixtures-temper.py");

/** Exports a tempered seeded random STCN archive to `<dir>/stcn.pt` and returns its path. */
export function exportTemperedStcn(dir: string, seed = 0): string {
  const raw = join(dir, "random.pth");
  const tempered = join(dir, "tempered.pth");
  const out = join(dir, "stcn.pt");
  runPython("export_stcn.py", ["--random-init", "--seed", String(seed), "--state-dict-out", raw]);
  execFileSync(python, [TEMPER, raw, tempered], { encoding: "utf8", timeout: 300_000 });
  runPython("export_stcn.py", ["--checkpoint", tempered, "--out", out]);
  return out;
}

/** Runs reference_stcn.py; returns its output folder. */
export function runReference(model: string, out: string, args: string[]): string {
  runPython("reference_stcn.py", ["--model", model, "--out", out, "--save-probs", "--threads", "2", ...args], { timeout: 900_000 });
  return out;
}

/** The reference's objects.json. */
export function referenceObjects(out: string): { ids: number[]; join_frames: number[]; working_size: [number, number] } {
  return JSON.parse(readFileSync(join(out, "objects.json"), "utf8")) as { ids: number[]; join_frames: number[]; working_size: [number, number] };
}

/** The reference's probabilities of frame `index`: float32 [K+1, H, W] (K = all objects of the run). */
export function referenceProbs(out: string, index: number): Float32Array {
  const bytes = readFileSync(join(out, `${String(index).padStart(5, "0")}.f32`));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export const torchscriptDir = join(repoRoot, "torchscript");
