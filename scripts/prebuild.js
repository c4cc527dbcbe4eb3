// npm run prebuild [-- --out DIR]: builds the addon with cmake-js and lays it out the way
// prebuildify does (prebuildify has no cmake-js backend): DIR/prebuilds/<platform>-<arch>/
// stcn-node.napi.<flavour>.node, flavour = cpu or cuda (the LibTorch it was built against).
// ts/native.ts picks a flavour at run time (STCN_FLAVOUR, else cuda when an NVIDIA driver is present).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outIndex = process.argv.indexOf("--out");
const outRoot = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : root;

const build = spawnSync(join(root, "node_modules", ".bin", "cmake-js"), ["compile", "--out", "build"], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
});
if (build.status !== 0) {
  console.error("prebuild: cmake-js build failed");
  process.exit(build.status ?? 1);
}
const built = join(root, "build", "Release", "stcn.node");
const info = createRequire(import.meta.url)(built).buildInfo();
const dir = join(outRoot, "prebuilds", `${process.platform}-${process.arch}`);
mkdirSync(dir, { recursive: true });
const target = join(dir, `stcn-node.napi.${info.flavour}.node`);
copyFileSync(built, target);
console.log(`prebuild: ${target} (LibTorch ${info.libtorch}, ${info.flavour})`);
