/**
 * How CMakeLists.txt finds LibTorch: LIBTORCH, then CMAKE_PREFIX_PATH, then a Python's torch
 * (STCN_PYTHON, else python3 on PATH), then the system; and the found torch's C++ ABI. Configure-only
 * runs into temp build dirs (engine only, no addon: nothing is compiled).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { python, repoRoot, tempDir } from "./helpers.js";

const debianConfig = "/usr/lib/x86_64-linux-gnu/cmake/Torch";

function configure(env: Record<string, string | undefined>): { status: number | null; log: string } {
  const build = tempDir("stcn-cmake-");
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !["LIBTORCH", "CMAKE_PREFIX_PATH", "STCN_PYTHON"].includes(k)) clean[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const r = spawnSync("cmake", ["-S", repoRoot, "-B", build, "-DSTCN_BUILD_ADDON=OFF"], { env: clean, encoding: "utf8", timeout: 180_000 });
  return { status: r.status, log: `${r.stdout}\n${r.stderr}` };
}

/** A stand-in "python" printing what scripts/torch_cmake.py would (prefix, ABI). */
function fakePython(lines: string, exitCode = 0): string {
  const path = join(tempDir("stcn-fake-py-"), "python3");
  writeFileSync(path, `#!/bin/sh\nprintf '${lines}'\nexit ${exitCode}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("CMake LibTorch discovery", () => {
  it("the Python route: STCN_PYTHON=/usr/bin/python3 finds Debian's torch through the libtorch it loads, ABI 1", () => {
    const { status, log } = configure({ STCN_PYTHON: python });
    expect(status, log).toBe(0);
    expect(log).toContain(`stcn-node: LibTorch from python ${python}: Torch 1.13.0 at ${debianConfig}`);
    expect(log).toContain("stcn-node: _GLIBCXX_USE_CXX11_ABI=1");
  });

  it("a Python without torch falls through to the system (and says why)", () => {
    const noTorch = fakePython("", 1);
    const { status, log } = configure({ STCN_PYTHON: noTorch });
    expect(status, log).toBe(0);
    expect(log).toContain(`stcn-node: no usable torch in ${noTorch}`);
    expect(log).toContain(`stcn-node: LibTorch from system: Torch 1.13.0 at ${debianConfig}`);
  });

  it("CMAKE_PREFIX_PATH comes before the Python route; LIBTORCH before both", () => {
    const viaPrefix = configure({ CMAKE_PREFIX_PATH: "/usr/lib/x86_64-linux-gnu/cmake", STCN_PYTHON: python });
    expect(viaPrefix.status, viaPrefix.log).toBe(0);
    expect(viaPrefix.log).toContain(`stcn-node: LibTorch from CMAKE_PREFIX_PATH: Torch 1.13.0 at ${debianConfig}`);
    const viaLibtorch = configure({ LIBTORCH: "/nonexistent/libtorch", CMAKE_PREFIX_PATH: "/usr/lib/x86_64-linux-gnu/cmake", STCN_PYTHON: python });
    expect(viaLibtorch.status).not.toBe(0);
    expect(viaLibtorch.log).toContain("stcn-node: LIBTORCH=/nonexistent/libtorch holds no TorchConfig.cmake");
  });

  it("a Python torch whose ABI differs from its TorchConfig's flags is refused", () => {
    const abi0 = fakePython("prefix /usr/lib/x86_64-linux-gnu/cmake\\nabi 0\\nversion 1.13.0\\n");
    const { status, log } = configure({ STCN_PYTHON: abi0 });
    expect(status).not.toBe(0);
    expect(log.replace(/\s+/g, " ")).toContain(
      "stcn-node: ABI mismatch: the Python's torch says _GLIBCXX_USE_CXX11_ABI=0, its TorchConfig.cmake (/usr/lib/x86_64-linux-gnu/cmake/Torch) says 1",
    );
  });
});
