import { execFileSync } from "node:child_process";
import { cpSync, existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exportTestModules, repoRoot, tempDir } from "./helpers.js";

describe("prebuilt binary", () => {
  it("a copy of the package without build/ loads the prebuild and runs a model", () => {
    const pkg = tempDir("stcn-pkg-");
    execFileSync(process.execPath, [join(repoRoot, "scripts/prebuild.js"), "--out", pkg], { stdio: "pipe" });
    cpSync(join(repoRoot, "dist"), join(pkg, "dist"), { recursive: true });
    cpSync(join(repoRoot, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(repoRoot, "node_modules"), join(pkg, "node_modules"));
    expect(existsSync(join(pkg, "build"))).toBe(false);
    const models = exportTestModules();
    const script = `
      const m = await import(${JSON.stringify(join(pkg, "dist/index.js"))});
      const mod = await m.loadModule(${JSON.stringify(join(models, "values.pt"))});
      const out = await mod.run("add_int", 20, 22);
      console.log(JSON.stringify({ path: m.runtimeInfo().addonPath, out }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: pkg,
      encoding: "utf8",
      env: { ...process.env, STCN_ADDON_PATH: "" },
    });
    const result = JSON.parse(out.trim()) as { path: string; out: number };
    expect(result.out).toBe(42);
    expect(result.path).toBe(join(pkg, "prebuilds", `${process.platform}-${process.arch}`, "stcn-node.napi.cpu.node"));
  });
});
