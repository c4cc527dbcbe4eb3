/**
 * Matching a prebuild to a LibTorch found at load time (ts/libtorch.ts), on fake LibTorch folders:
 * the version, C++ ABI, CUDA and sonames a prebuild's sidecar asks for, and the LIBTORCH route.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findLibTorch, fixCommand, mismatch, preloadList, type PrebuildMeta } from "../dist/libtorch.js";
import { tempDir } from "./helpers.js";

const cpu: PrebuildMeta = { flavour: "cpu", libtorch: "1.13.0", cxx11Abi: 1, needed: ["libtorch.so.1.13", "libc10.so.1.13", "libtorch_cpu.so.1.13"] };
const cuda: PrebuildMeta = { flavour: "cuda", libtorch: "2.5.1", cxx11Abi: 0, needed: ["libtorch.so", "libc10.so", "libtorch_cpu.so", "libtorch_cuda.so", "libc10_cuda.so"] };

/** An unpacked-LibTorch-shaped folder: lib/ with empty library files, share/cmake/Torch configs. */
function fakeLibTorch(version: string, abi: number, libs: string[]): string {
  const root = tempDir("stcn-fake-libtorch-");
  mkdirSync(join(root, "lib"));
  for (const lib of libs) writeFileSync(join(root, "lib", lib), "");
  const cmake = join(root, "share", "cmake", "Torch");
  mkdirSync(cmake, { recursive: true });
  writeFileSync(join(cmake, "TorchConfigVersion.cmake"), `set(PACKAGE_VERSION "${version}")\n`);
  writeFileSync(join(cmake, "TorchConfig.cmake"), `  set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${abi}")\n`);
  return root;
}

describe("prebuild / LibTorch matching", () => {
  it("LIBTORCH is the only candidate when set, described from its CMake config", () => {
    const root = fakeLibTorch("1.13.1", 1, cpu.needed);
    const { found, notes } = findLibTorch({ LIBTORCH: root });
    expect(notes).toEqual([]);
    expect(found).toEqual([{ route: `LIBTORCH=${root}`, libDir: join(root, "lib"), version: "1.13.1", cxx11Abi: 1, cuda: false }]);
    // 1.13.1 serves a 1.13.0 build (same major.minor), with every soname present.
    expect(mismatch(found[0]!, cpu)).toBeUndefined();
    expect(preloadList(found[0]!, cpu)).toEqual(["libc10.so.1.13", "libtorch_cpu.so.1.13", "libtorch.so.1.13"].map((n) => join(root, "lib", n)));
  });

  it("names what does not match: version, ABI, CPU-only torch for cuda, a missing soname", () => {
    const lib = (version: string, abi: number, libs: string[]) => findLibTorch({ LIBTORCH: fakeLibTorch(version, abi, libs) }).found[0]!;
    expect(mismatch(lib("2.5.1", 1, cpu.needed), cpu)).toBe("version 2.5.1");
    expect(mismatch(lib("1.13.0", 0, cpu.needed), cpu)).toBe("C++11 ABI 0");
    expect(mismatch(lib("2.5.1", 0, ["libtorch.so", "libc10.so", "libtorch_cpu.so"]), cuda)).toBe("CPU-only (no libtorch_cuda.so)");
    const partial = lib("1.13.0", 1, ["libtorch.so.1.13", "libc10.so.1.13"]);
    expect(mismatch(partial, cpu)).toBe(`no libtorch_cpu.so.1.13 in ${partial.libDir}`);
    const good = lib("2.5.1", 0, cuda.needed);
    expect(good.cuda).toBe(true);
    expect(mismatch(good, cuda)).toBeUndefined();
    expect(preloadList(good, cuda).map((p) => p.split("/").pop())).toEqual(["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"]);
  });

  it("the fix is one command per flavour", () => {
    expect(fixCommand(cpu)).toBe("apt-get install libtorch-dev (LibTorch 1.13)");
    expect(fixCommand(cuda)).toBe("pip install 'torch==2.5.*' (a CUDA wheel) and set STCN_PYTHON to that python");
  });

  it("a python without torch and no system LibTorch are notes, not candidates", () => {
    const { found, notes } = findLibTorch({ STCN_PYTHON: "/nonexistent/python3" });
    expect(notes[0]).toBe("/nonexistent/python3: not runnable");
    expect(found.every((f) => f.route !== "python /nonexistent/python3")).toBe(true);
  });
});
