import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandModule } from "yargs";
import { StcnError } from "../errors.js";
import { loadModule } from "../module.js";
import { packageRoot } from "../native.js";
import { Tensor } from "../tensor.js";
import { printJson, withJson } from "./common.js";

interface SmokeArgs {
  python: string;
  json: boolean;
}

/**
 * `stcn smoke`: exports a tiny TorchScript model with Python (torchscript/test_modules.py), loads it
 * through the addon, runs it on a random 1x3x64x64 input and prints the timing. Proves the whole
 * chain (Python export -> LibTorch load -> async run -> typed array out) works on this machine.
 */
export const smokeCommand: CommandModule<object, SmokeArgs> = {
  command: "smoke",
  describe: "export a tiny model with Python, run it through the addon, print the timing",
  builder: (y) =>
    withJson(y).option("python", {
      type: "string",
      default: process.env.STCN_PYTHON ?? "/usr/bin/python3",
      describe: "Python interpreter with torch (STCN_PYTHON)",
    }),
  handler: async (args) => {
    const dir = mkdtempSync(join(tmpdir(), "stcn-smoke-"));
    try {
      const exported = spawnSync(args.python, [join(packageRoot, "torchscript", "test_modules.py"), dir], {
        encoding: "utf8",
      });
      if (exported.status !== 0) {
        throw new StcnError(
          "ERR_STCN_INPUT",
          `exporting the smoke model with ${args.python} failed: ${(exported.stderr || exported.error?.message || "").trim()}`,
        );
      }
      const module = await loadModule(join(dir, "tiny.pt"));
      const input = new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i));
      const x = Tensor.fromTypedArray(input, [1, 3, 64, 64]);
      const start = performance.now();
      const y = (await module.run("forward", x)) as Tensor;
      const ms = performance.now() - start;
      const out = y.toTypedArray() as Float32Array;
      let sum = 0;
      for (const v of out) sum += v;
      if (args.json) printJson("smoke", { device: module.device, shape: y.shape, mean: sum / out.length, ms });
      else
        console.log(
        `smoke: tiny conv net ran on ${module.device}: output ${JSON.stringify(y.shape)} mean ${(sum / out.length).toFixed(6)} in ${ms.toFixed(1)} ms`,
      );
      x.dispose();
      y.dispose();
      module.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
