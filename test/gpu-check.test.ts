/**
 * The dry run of bench/gpu-check.sh (`--device cpu --quick`): everything the CUDA check does but on the
 * CPU and at small sizes - the Node-free driver built from cpp/ in the existing build folder, a
 * random-weight STCN exported by the machine's Python, engine vs Python reference label agreement,
 * the FPS runs (fp32 and half), Mask R-CNN with our detection ops vs eager torchvision, the memory
 * read and the CRF - and its summary table, every check passing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { python, repoRoot, tempDir } from "./helpers.js";

describe("bench/gpu-check.sh --device cpu --quick", () => {
  it("runs end to end and every check of its table passes", () => {
    const work = tempDir("stcn-gpu-check-");
    const r = spawnSync("bash", [join(repoRoot, "bench", "gpu-check.sh"), "--device", "cpu", "--quick", "--build-dir", "build", "--work", work], {
      cwd: repoRoot,
      env: { ...process.env, STCN_PYTHON: python },
      encoding: "utf8",
      timeout: 900_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.status, output.slice(-4000)).toBe(0);
    expect(r.stdout).toContain("gpu-check: all checks passed");
    for (const row of [
      "engine + driver build",
      "STCN labels vs Python reference, fp32",
      "STCN FPS fp32, 2 object(s), 160x96",
      "STCN FPS bf16 autocast, 2 object(s), 160x96",
      "Mask R-CNN (our nms/roi_align) vs eager torchvision",
      "memory read on cpu vs CPU",
      "CRF from cpu probabilities vs CPU",
    ]) {
      expect(r.stdout, row).toContain(row);
    }
    // The agreement is a real comparison of two label sets, frame by frame.
    const agreement = JSON.parse(readFileSync(join(work, "results", "agreement.json"), "utf8")) as { per_frame: number[]; min: number };
    expect(agreement.per_frame).toHaveLength(4);
    expect(agreement.min).toBeGreaterThanOrEqual(0.995);
    expect(existsSync(join(work, "results", "maskrcnn.json"))).toBe(true);
  }, 900_000);
});
