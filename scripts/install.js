// npm "install" hook. A published package loads a prebuilt binary (prebuilds/) or builds the addon
// from source with cmake-js against the LibTorch it finds. In a development checkout (ts/ sources
// present) it does nothing: `npm run build` builds the addon and the TypeScript.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (existsSync(join(root, "ts")) || process.env.STCN_SKIP_INSTALL_BUILD) {
  process.exit(0);
}
const probe = spawnSync(process.execPath, ["-e", "import('stcn-node').then(m => m.native())"], {
  cwd: root,
  stdio: "ignore",
});
if (probe.status === 0) process.exit(0);
console.log("stcn-node: no loadable prebuilt addon for this machine, building from source with cmake-js");
const cmakeJs = join(root, "node_modules", ".bin", "cmake-js");
const built = spawnSync(existsSync(cmakeJs) ? cmakeJs : "cmake-js", ["compile", "--out", "build"], {
  cwd: root,
  stdio: "inherit",
});
if (built.status !== 0) {
  console.error(
    "stcn-node: building the native addon failed. It needs cmake, a C++17 compiler and LibTorch " +
      "(Debian: apt-get install libtorch-dev cmake g++; elsewhere set LIBTORCH=/path/to/libtorch).",
  );
  process.exit(built.status ?? 1);
}
