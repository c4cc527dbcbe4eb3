/**
 * The package as a user gets it: `npm pack` (file list, size budget), then `npm install` of the
 * tarball into an empty project with cmake and the compilers disabled (the prebuild must serve), the
 * CLI from that install, and consumer TypeScript (ESM, CJS, `using`) compiled against the installed
 * typings with `strict` and without `skipLibCheck`. docs/install.md describes the design.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers.js";
import {
  consumerProject,
  ensurePrebuild,
  failingToolchain,
  folderSize,
  listFiles,
  npm,
  npmInstall,
  packTarball,
  pkg,
} from "./package-helpers.js";

const platform = `${process.platform}-${process.arch}`;

interface PackFile {
  path: string;
  size: number;
}

describe("npm pack", () => {
  let files: PackFile[];
  let packed: { size: number; unpackedSize: number };
  beforeAll(() => {
    ensurePrebuild();
    const out = execFileSync(npm, ["pack", "--dry-run", "--json"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const [info] = JSON.parse(out) as Array<{ files: PackFile[]; size: number; unpackedSize: number }>;
    files = (info as { files: PackFile[] }).files;
    packed = info as { size: number; unpackedSize: number };
  }, 900_000);

  it("holds the prebuild (addon, loader, sidecar), LICENSE, docs, the demo model and the build sources", () => {
    const paths = new Set(files.map((f) => f.path));
    for (const want of [
      "package.json",
      "README.md",
      "LICENSE",
      "docs/install.md",
      "docs/cli.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli.js",
      `prebuilds/${platform}/stcn-node.napi.cpu.node`,
      `prebuilds/${platform}/stcn-node.napi.cpu.json`,
      `prebuilds/${platform}/stcn-loader.napi.node`,
      "models/demo/stcn-demo.pt",
      "CMakeLists.txt",
      "scripts/install.js",
      "scripts/torch_cmake.py",
      "loader/preload.cc",
      "binding/addon.cc",
      "cpp/runtime.cpp",
      "torchscript/export_stcn.py",
    ]) {
      expect(paths.has(want), want).toBe(true);
    }
  });

  it("holds no source maps (their sources are not shipped), no CLI declarations, no tests, no build output", () => {
    const bad = files.map((f) => f.path).filter((p) => /\.map$/.test(p) || /^dist\/cli(\/|\.d\.ts)/.test(p) && p.endsWith(".d.ts") || /^(test|ts|bench|build|build-prebuild|node_modules|\.ci)\//.test(p));
    expect(bad).toEqual([]);
  });

  it("stays within its size budget", () => {
    // Measured 2026-12-03: 12.0 MB packed, 14.4 MB unpacked, of which the demo model is 12.2 MB.
    expect(packed.size).toBeLessThan(13_000_000);
    expect(packed.unpackedSize).toBeLessThan(16_000_000);
    const model = files.filter((f) => f.path.startsWith("models/")).reduce((n, f) => n + f.size, 0);
    expect(packed.unpackedSize - model).toBeLessThan(4_000_000);
  });
});

describe("npm install of the tarball into an empty project, with cmake and the compilers failing", () => {
  let project: string;
  let install: { seconds: number; status: number | null; output: string };
  let env: NodeJS.ProcessEnv;
  const installed = () => join(project, "node_modules", "stcn-node");
  const stcn = (args: string[], cwd: string) =>
    spawnSync(process.execPath, [join(installed(), "dist", "cli.js"), ...args], { cwd, env, encoding: "utf8", timeout: 300_000 });

  beforeAll(() => {
    ensurePrebuild();
    const tarball = packTarball();
    project = consumerProject("commonjs", true);
    env = { ...process.env, PATH: `${failingToolchain()}:${process.env.PATH}`, STCN_ADDON_PATH: "" };
    delete env.STCN_ADDON_PATH;
    // The project approves our install script (npm 11 blocks dependency install scripts otherwise):
    // it runs, and must find the prebuild usable (a build would fail on the disabled toolchain).
    install = npmInstall(project, ["--foreground-scripts", tarball, "typescript@~5.9.3", "@types/node@^20.19.0"], env);
    console.log(`prebuild install: ${install.seconds.toFixed(1)} s`);
  }, 1_200_000);

  it("installs in under 90 s without building (the prebuild serves)", () => {
    expect(install.status, install.output).toBe(0);
    // Measured 2026-12-03 with a warm npm cache: see docs/install.md.
    expect(install.seconds).toBeLessThan(90);
    expect(install.output).not.toContain("building from source");
    expect(existsSync(join(installed(), "build"))).toBe(false);
  });

  it("`stcn --version` prints the package's version from another project's folder", () => {
    const other = consumerProject("module"); // its own package.json says 9.9.9
    const r = stcn(["--version"], other);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    const viaNpx = spawnSync("npx", ["--no-install", "stcn", "--version"], { cwd: project, env, encoding: "utf8" });
    expect(viaNpx.stdout.trim()).toBe(pkg.version);
  });

  it("`stcn info` names the prebuild, its flavour and the LibTorch it found", () => {
    const r = spawnSync("npx", ["--no-install", "stcn", "info"], { cwd: project, env, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/build flavour {2}cpu \(Node-API 8, C\+\+11 ABI 1\)/);
    expect(r.stdout).toMatch(new RegExp(`addon +.*node_modules/stcn-node/prebuilds/${platform}/stcn-node\\.napi\\.cpu\\.node \\(prebuild\\)`));
    expect(r.stdout).toMatch(/LibTorch +1\.13\.\d+ \((system|python [^:]+|LIBTORCH=[^:]+): \/\S+\)/);
  });

  it("`stcn demo` runs offline with the bundled model", () => {
    const out = join(tempDir("stcn-demo-pkg-"), "demo");
    const r = spawnSync("npx", ["--no-install", "stcn", "demo", "--length", "8", "--quiet", "--out", out], { cwd: project, env, encoding: "utf8", timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^demo: J&F \d\.\d{3} J \d\.\d{3} F \d\.\d{3} FPS \d+\.\d$/);
    expect(existsSync(join(out, "contact-sheet.png"))).toBe(true);
  });

  it("a LibTorch that does not match the prebuild: one line naming what was found, what is needed, the fix", () => {
    const fake = tempDir("stcn-fake-libtorch-");
    mkdirSync(join(fake, "lib"));
    writeFileSync(join(fake, "lib", "libtorch.so"), "");
    mkdirSync(join(fake, "share", "cmake", "Torch"), { recursive: true });
    writeFileSync(join(fake, "share", "cmake", "Torch", "TorchConfigVersion.cmake"), 'set(PACKAGE_VERSION "2.5.1")\n');
    const r = spawnSync(process.execPath, [join(installed(), "dist", "cli.js"), "info"], { cwd: project, env: { ...env, LIBTORCH: fake }, encoding: "utf8" });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^stcn: no usable LibTorch for the cpu prebuild of stcn-node: it needs LibTorch 1\.13\.\d+ \(cpu, C\+\+11 ABI 1, libtorch\.so\.1\.13 /);
    expect(lines[0]).toContain(`found: LIBTORCH=${fake}: version 2.5.1; fix: apt-get install libtorch-dev (LibTorch 1.13), or build from source`);
    expect(lines[0]).toMatch(/`npm rebuild stcn-node`.* \[ERR_STCN_ADDON_LOAD\]$/);
    const cuda = spawnSync(process.execPath, [join(installed(), "dist", "cli.js"), "info"], { cwd: project, env: { ...env, STCN_FLAVOUR: "cuda" }, encoding: "utf8" });
    expect(cuda.status).toBe(1);
    expect(cuda.stderr.trim()).toMatch(/^stcn: STCN_FLAVOUR=cuda: stcn-node has no cuda prebuild for linux-x64 \(it has: cpu\); fix: .* \[ERR_STCN_ADDON_LOAD\]$/);
  });

  it("node_modules/stcn-node is within its size budget", () => {
    const total = folderSize(installed());
    const model = folderSize(join(installed(), "models"));
    // Measured 2026-12-03: 14.4 MB in all, 2.2 MB without the demo model.
    expect(total - model).toBeLessThan(40_000_000);
    expect(total).toBeLessThan(60_000_000);
  });

  it("consumer TypeScript compiles (strict, no skipLibCheck): ESM, CJS and `using`; the CJS one runs", () => {
    const src = join(project, "src");
    mkdirSync(src, { recursive: true });
    writeFileSync(
      join(src, "esm.mts"),
      [
        'import { Tensor, runtimeInfo, type RuntimeInfo, type StcnErrorCode } from "stcn-node";',
        "const t: Tensor = Tensor.fromTypedArray(new Float32Array([1, 2, 3]), [3]);",
        "const info: RuntimeInfo = runtimeInfo();",
        'const code: StcnErrorCode = "ERR_STCN_INPUT";',
        "console.log(JSON.stringify({ shape: t.shape, flavour: info.flavour, code }));",
        "t.dispose();",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(src, "cjs.cts"),
      [
        'import stcn = require("stcn-node");',
        "const t = stcn.Tensor.fromTypedArray(new Float32Array([1, 2, 3]), [3]);",
        "const values = Array.from(t.toTypedArray() as Float32Array);",
        "console.log(JSON.stringify({ sum: values.reduce((a, b) => a + b, 0), flavour: stcn.runtimeInfo().flavour }));",
        "t.dispose();",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(src, "using.mts"),
      [
        'import { Tensor } from "stcn-node";',
        "let seen: Tensor | undefined;",
        "{",
        "  using t = Tensor.fromTypedArray(new Float32Array(4), [2, 2]);",
        "  seen = t;",
        "}",
        "{",
        "  await using u = Tensor.fromTypedArray(new Int32Array(2), [2]);",
        "  void u;",
        "}",
        "console.log(JSON.stringify({ disposedAfterBlock: seen?.disposed }));",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023", "esnext.disposable"],
          types: ["node"],
          strict: true,
          skipLibCheck: false,
          outDir: "out",
          rootDir: "src",
        },
        include: ["src"],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", project], { cwd: project, env, encoding: "utf8" });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    const cjs = spawnSync(process.execPath, [join(project, "out", "cjs.cjs")], { cwd: project, env, encoding: "utf8" });
    expect(cjs.status, cjs.stderr).toBe(0);
    expect(JSON.parse(cjs.stdout.trim())).toEqual({ sum: 6, flavour: "cpu" });
    // require(esm) of a package in node_modules prints no experimental warning on Node 20.19+.
    expect(cjs.stderr).toBe("");
    const esm = spawnSync(process.execPath, [join(project, "out", "esm.mjs")], { cwd: project, env, encoding: "utf8" });
    expect(esm.status, esm.stderr).toBe(0);
    expect(JSON.parse(esm.stdout.trim())).toEqual({ shape: [3], flavour: "cpu", code: "ERR_STCN_INPUT" });
    const using = spawnSync(process.execPath, [join(project, "out", "using.mjs")], { cwd: project, env, encoding: "utf8" });
    expect(using.status, using.stderr).toBe(0);
    expect(JSON.parse(using.stdout.trim())).toEqual({ disposedAfterBlock: true });
  });

  it("the installed declarations do not reach CLI (yargs) types", () => {
    const dts = listFiles(join(installed(), "dist")).filter((f) => f.endsWith(".d.ts"));
    expect(dts.length).toBeGreaterThan(10);
    for (const f of dts) expect(readFileSync(join(installed(), "dist", f), "utf8"), f).not.toMatch(/from "yargs"|cli-progress/);
  });
});
