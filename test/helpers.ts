/** Shared test helpers: temp dirs, the Python used for exports, the shared data folder. */
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Real frames, masks and reference outputs (read-only, never copied into the repo). STCN_TEST_DATA overrides. */
export const dataRoot = resolve(process.env.STCN_TEST_DATA ?? resolve(repoRoot, "..", "shared", "data"));

/**
 * A path under {@link dataRoot}; throws one clear line when it is missing (the shared test data is not
 * part of the repository: it lives beside the checkout in ../shared/data, or where STCN_TEST_DATA says).
 */
export function dataPath(...parts: string[]): string {
  const path = join(dataRoot, ...parts);
  if (!existsSync(path)) {
    throw new Error(
      `test data missing: ${path}. These tests read real frames and reference outputs from ${dataRoot} ` +
        "(not in the repository; see its README files), or from the folder STCN_TEST_DATA names.",
    );
  }
  return path;
}
/** The interpreter with torch (Debian's python3-torch). */
export const python = process.env.STCN_PYTHON ?? "/usr/bin/python3";

export function tempDir(prefix = "stcn-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs a Python script of torchscript/ with arguments; returns stdout. */
export function runPython(script: string, args: string[], options: { timeout?: number } = {}): string {
  return execFileSync(python, [join(repoRoot, "torchscript", script), ...args], {
    encoding: "utf8",
    timeout: options.timeout ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Exports torchscript/test_modules.py's modules (values.pt, slow.pt, tiny.pt) into a new temp dir. */
export function exportTestModules(): string {
  const dir = tempDir("stcn-modules-");
  runPython("test_modules.py", [dir]);
  return dir;
}

/** The path of a Python script of test/python/ (reference computations, fixtures). */
export function testPython(name: string): string {
  return join(repoRoot, "test", "python", name);
}

/**
 * Records a measured float difference beside the bound a test asserts. With `STCN_DRIFT_LOG=FILE`,
 * appends one JSON line `{ name, value, bound, isa }` to FILE; otherwise does nothing. The tolerance
 * audit (`npm run test:audit`) runs the parity group at the native ISA and capped at AVX2
 * with this set, and prints the worst value of every bound (docs/testing.md holds the table).
 */
export function recordDrift(name: string, value: number, bound: number): void {
  const file = process.env.STCN_DRIFT_LOG;
  if (!file) return;
  const isa = process.env.ATEN_CPU_CAPABILITY ? `capped:${process.env.ATEN_CPU_CAPABILITY}` : "native";
  appendFileSync(file, JSON.stringify({ name, value, bound, isa }) + "\n");
}

/**
 * Whether this process can run bfloat16 convolutions on the CPU (the `half` path on CPU): oneDNN
 * needs AVX-512 BW/VL/DQ, and `DNNL_MAX_CPU_ISA` / `ONEDNN_MAX_CPU_ISA` below AVX-512 take them away
 * (as `npm run test:parity:avx2` does). Tests of `half: true` on CPU expect results where this is
 * true and a clear ERR_STCN_DEVICE refusal where it is false.
 */
export function cpuHasBfloat16(): boolean {
  const cap = process.env.ONEDNN_MAX_CPU_ISA ?? process.env.DNNL_MAX_CPU_ISA;
  if (cap !== undefined && !/^AVX512|^AVX10|^AMX|^ALL$|^DEFAULT$/i.test(cap)) return false;
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return false;
  }
  return ["avx512bw", "avx512vl", "avx512dq"].every((f) => new RegExp(`\\b${f}\\b`).test(flags));
}
