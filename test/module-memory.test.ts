import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exportTestModules, repoRoot } from "./helpers.js";

// Bounds (MiB of RSS growth, measured in a fresh process, each after a warm-up round of the same
// work so that allocator pools are steady):
//  - 500 load/run/dispose cycles: < 40 MiB (a leaked module or output would cost far more: the
//    forward output alone is 4 KiB x 500, a leaked TorchScript CompilationUnit ~100 KiB x 500);
//  - 10 000 tensor creations of 64 KiB (625 MiB in total), disposed: < 40 MiB;
//  - the same 10 000 tensors dropped without dispose(): < 100 MiB (finalizers free them; without
//    them RSS would grow by ~625 MiB).
describe("memory", () => {
  it("load/run/dispose cycles and tensor creations do not leak; finalizers free dropped tensors", () => {
    const dir = exportTestModules();
    const out = execFileSync(process.execPath, ["--expose-gc", join(repoRoot, "test/fixtures/leak-check.mjs"), dir], {
      encoding: "utf8",
      timeout: 600_000,
    });
    const r = JSON.parse(out.trim().split("\n").pop() as string) as Record<string, number>;
    console.log("RSS growth (MiB):", r);
    expect(r.cyclesGrowthMiB).toBeLessThan(40);
    expect(r.disposedGrowthMiB).toBeLessThan(40);
    expect(r.droppedGrowthMiB).toBeLessThan(100);
  });
});
