/**
 * Helpers of the package group: the cpu prebuild, the packed tarball, an empty consumer project, a
 * PATH on which cmake and the compilers fail (so an install that tried to build would fail).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, tempDir } from "./helpers.js";

export const npm = "npm";
export const pkg = JSON.parse(execFileSync(process.execPath, ["-p", "JSON.stringify(require('./package.json'))"], { cwd: repoRoot, encoding: "utf8" })) as {
  name: string;
  version: string;
};

/** Builds the cpu prebuild into prebuilds/ (an incremental build in build/). */
export function ensurePrebuild(): void {
  execFileSync(process.execPath, [join(repoRoot, "scripts", "prebuild.js"), "--flavour", "cpu"], { cwd: repoRoot, stdio: "pipe", timeout: 900_000 });
}

/** `npm pack` of the work tree into a new temp folder; returns the tarball's path. */
export function packTarball(): string {
  const dest = tempDir("stcn-pack-");
  const out = execFileSync(npm, ["pack", "--json", "--pack-destination", dest], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const [info] = JSON.parse(out) as Array<{ filename: string }>;
  return join(dest, (info as { filename: string }).filename);
}

/** A folder of `cmake`, `c++`, `g++`, `gcc`, `cc`, `make`, `ninja` that print a line and exit 1. */
export function failingToolchain(): string {
  const dir = tempDir("stcn-notools-");
  for (const tool of ["cmake", "c++", "g++", "gcc", "cc", "make", "ninja"]) {
    const path = join(dir, tool);
    writeFileSync(path, `#!/bin/sh\necho "${tool}: disabled by the package test" >&2\nexit 1\n`);
    chmodSync(path, 0o755);
  }
  return dir;
}

/**
 * An empty consumer project (package.json only). `allowScripts`: approve stcn-node's install script
 * (npm 11 runs a dependency's install script only when the project's package.json approves it).
 */
export function consumerProject(type: "module" | "commonjs" = "commonjs", allowScripts = false): string {
  const dir = tempDir("stcn-consumer-");
  const json = { name: "consumer", version: "9.9.9", private: true, type, ...(allowScripts ? { allowScripts: { "stcn-node": true } } : {}) };
  writeFileSync(join(dir, "package.json"), JSON.stringify(json, null, 2));
  return dir;
}

/** npm install in `cwd`; returns seconds, output and status. */
export function npmInstall(cwd: string, args: string[], env: NodeJS.ProcessEnv): { seconds: number; status: number | null; output: string } {
  const t0 = performance.now();
  const r = spawnSync(npm, ["install", "--no-audit", "--no-fund", "--prefer-offline", ...args], { cwd, env, encoding: "utf8", timeout: 1_200_000 });
  return { seconds: (performance.now() - t0) / 1000, status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

/** Total size of the files under `dir` (bytes), skipping the paths `skip` returns true for. */
export function folderSize(dir: string, skip: (path: string) => boolean = () => false): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (skip(path)) continue;
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    total += st.isDirectory() ? folderSize(path, skip) : st.size;
  }
  return total;
}

/** Every file under `dir`, relative. */
export function listFiles(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = statSync(join(dir, name));
    if (st.isDirectory()) out.push(...listFiles(join(dir, name), rel));
    else out.push(rel);
  }
  return out;
}

export function mkdirp(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}
