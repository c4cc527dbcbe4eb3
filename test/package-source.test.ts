/**
 * The source build of an install: the tarball without prebuilds (so none can match) installed into an
 * empty project, its install script approved. It must compile with cmake-js (one line per stage), keep
 * only build/Release/stcn.node (no precompiled headers, objects or CMake cache) and load. This compiles
 * the whole addon: several minutes on 2 cores (docs/install.md, docs/testing.md).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { consumerProject, folderSize, listFiles, npm, npmInstall, packTarball } from "./package-helpers.js";

describe("install with no matching prebuild: source build", () => {
  let project: string;
  let install: { seconds: number; status: number | null; output: string };
  const installed = () => join(project, "node_modules", "stcn-node");

  beforeAll(() => {
    // The published tarball minus prebuilds/: unpack, drop, repack.
    const tarball = packTarball();
    const work = tempDir("stcn-noprebuild-");
    execFileSync("tar", ["xzf", tarball, "-C", work]);
    rmSync(join(work, "package", "prebuilds"), { recursive: true, force: true });
    const out = execFileSync(npm, ["pack", "--json", "--pack-destination", work], { cwd: join(work, "package"), encoding: "utf8" });
    const repacked = join(work, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename);
    project = consumerProject("commonjs", true);
    const env = { ...process.env };
    delete env.STCN_ADDON_PATH;
    install = npmInstall(project, ["--foreground-scripts", repacked], env);
    // Measured 2026-12-03 on this 2-core machine: see docs/install.md.
    console.log(`source install: ${install.seconds.toFixed(0)} s`);
  }, 1_800_000);

  it("builds from source, one line per stage", () => {
    expect(install.status, install.output).toBe(0);
    const lines = install.output.split("\n").filter((l) => l.startsWith("stcn-node: "));
    expect(lines[0]).toMatch(/^stcn-node: no usable prebuilt addon \(.*\)$/);
    expect(lines).toContainEqual(expect.stringMatching(/^stcn-node: configure: done \(LibTorch from .+\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^stcn-node: compile: \d+ source files/));
    expect(lines).toContainEqual("stcn-node: link: stcn.node");
    expect(lines.at(-1)).toMatch(/^stcn-node: built .*build\/Release\/stcn\.node \(\d+\.\d MB\) in \d+ s; intermediates removed$/);
  });

  it("leaves only the addon: no precompiled headers, objects or CMake cache", () => {
    expect(listFiles(join(installed(), "build"))).toEqual(["Release/stcn.node"]);
    const stray = listFiles(installed()).filter((f) => /\.(o|gch|pch)$|CMakeCache\.txt|CMakeFiles\//.test(f));
    expect(stray).toEqual([]);
    const size = folderSize(installed(), (p) => p.endsWith(join("models", "demo")));
    expect(size).toBeLessThan(40_000_000);
  });

  it("loads the source build", () => {
    const r = spawnSync(process.execPath, [join(installed(), "dist", "cli.js"), "info", "--json"], { cwd: project, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const info = (JSON.parse(r.stdout) as { result: { addonKind: string; addonPath: string; flavour: string } }).result;
    expect(info.addonKind).toBe("source");
    expect(info.addonPath).toBe(join(installed(), "build", "Release", "stcn.node"));
    expect(info.flavour).toBe("cpu");
  });
});
