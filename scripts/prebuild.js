// npm run build:prebuild [-- --out DIR] [--flavour cpu|cuda]: builds the addon with cmake-js in build/
// (incremental: the same build as `npm run build:native`, which links the portable copy
// stcn-portable.node, rpath $ORIGIN only, next to stcn.node) and lays it out the way prebuildify does
// (prebuildify has no cmake-js backend):
//   DIR/prebuilds/<platform>-<arch>/stcn-node.napi.<flavour>.node   the addon
//   DIR/prebuilds/<platform>-<arch>/stcn-node.napi.<flavour>.json   what it was built against
//   DIR/prebuilds/<platform>-<arch>/stcn-loader.napi.node           the first-stage loader
// The flavour is the LibTorch's (cpu, or cuda when it has CUDA); --flavour makes a mismatch an error
// (a cuda prebuild needs a CUDA torch, e.g. STCN_PYTHON=<python with a pip CUDA torch>).
// The JSON sidecar lets ts/native.ts check the LibTorch it finds before loading anything
// (docs/install.md). The result is loaded once in a child process as a check.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const outRoot = resolve(arg("--out") ?? root);
const wantedFlavour = arg("--flavour");
const buildDir = join(root, "build");

console.log(`prebuild: building the addon in ${buildDir} (log: build-prebuild.log)`);
const build = spawnSync(join(root, "node_modules", ".bin", "cmake-js"), ["compile", "--out", "build"], {
  cwd: root,
  encoding: "utf8",
  maxBuffer: 1 << 28,
});
writeFileSync(join(root, "build-prebuild.log"), `${build.stdout ?? ""}${build.stderr ?? ""}`);
if (build.status !== 0) {
  console.error("prebuild: cmake-js build failed (see build-prebuild.log)");
  process.exit(build.status ?? 1);
}
const meta = JSON.parse(readFileSync(join(buildDir, "stcn-build.json"), "utf8"));
if (wantedFlavour && meta.flavour !== wantedFlavour) {
  console.error(
    `prebuild: asked for the ${wantedFlavour} flavour, but the LibTorch found (${meta.route}, ${meta.libtorch}) builds ${meta.flavour}`,
  );
  process.exit(1);
}
const addon = join(buildDir, "Release", "stcn-portable.node");
const loader = join(buildDir, "Release", "stcn-loader.node");
const dynamic = execFileSync("readelf", ["-d", addon], { encoding: "utf8" });
const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)]
  .map((m) => m[1])
  .filter((name) => /^lib(torch|c10)/.test(name));
const rpath = /\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]/.exec(dynamic)?.[1] ?? "";
if (rpath.split(":").some((p) => p.startsWith("/"))) {
  console.error(`prebuild: ${addon} still has an absolute rpath (${rpath})`);
  process.exit(1);
}
if (readFileSync(addon).includes(Buffer.from(root))) {
  console.error(`prebuild: ${addon} still names the build folder ${root}`);
  process.exit(1);
}
const sidecar = {
  flavour: meta.flavour,
  libtorch: meta.libtorch,
  cxx11Abi: meta.cxx11Abi,
  needed,
  napi: 8,
  platform: `${process.platform}-${process.arch}`,
};
const dir = join(outRoot, "prebuilds", `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const target = join(dir, `stcn-node.napi.${meta.flavour}.node`);
copyFileSync(addon, target);
copyFileSync(loader, join(dir, "stcn-loader.napi.node"));
writeFileSync(join(dir, `stcn-node.napi.${meta.flavour}.json`), `${JSON.stringify(sidecar, null, 2)}\n`);

// Check: load it the way ts/native.ts does (loader first, then the addon) and compare buildInfo.
const check = spawnSync(
  process.execPath,
  [
    "-e",
    `const l = require(${JSON.stringify(join(dir, "stcn-loader.napi.node"))});
     l.preload(${JSON.stringify(needed.map((n) => join(meta.torchLibDir, n)))});
     console.log(JSON.stringify(require(${JSON.stringify(target)}).buildInfo()));`,
  ],
  { encoding: "utf8", env: { ...process.env, LD_LIBRARY_PATH: "" } },
);
if (check.status !== 0) {
  console.error(`prebuild: the prebuild does not load: ${check.stderr.trim()}`);
  process.exit(1);
}
const info = JSON.parse(check.stdout.trim());
if (info.flavour !== meta.flavour || info.cxx11Abi !== meta.cxx11Abi) {
  console.error(`prebuild: buildInfo ${check.stdout.trim()} disagrees with ${JSON.stringify(sidecar)}`);
  process.exit(1);
}
console.log(`prebuild: ${target} (LibTorch ${meta.libtorch}, ${meta.flavour}, C++11 ABI ${meta.cxx11Abi}, rpath ${rpath})`);
