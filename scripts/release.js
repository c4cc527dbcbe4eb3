// npm run release: the publishable tarball, built on this machine.
//   1. the TypeScript (dist/);
//   2. the cpu prebuild (scripts/prebuild.js --flavour cpu, against the LibTorch found here: Debian's
//      libtorch-dev on the release machine). A cuda prebuild made on a CUDA machine
//      (`STCN_PYTHON=<python with a CUDA torch> npm run build:prebuild -- --flavour cuda`) and copied into
//      prebuilds/ beforehand ships too;
//   3. `npm pack` into release/, then the file list and size are printed.
// One package with the prebuilds inside (not per-platform optional packages): docs/install.md says why.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const step = (line) => console.log(`release: ${line}`);

step("TypeScript");
execFileSync(npm, ["run", "--silent", "build:ts"], { cwd: root, stdio: "inherit" });
step("cpu prebuild");
execFileSync(process.execPath, [join(root, "scripts", "prebuild.js"), "--flavour", "cpu"], { cwd: root, stdio: "inherit" });
const dest = join(root, "release");
mkdirSync(dest, { recursive: true });
step(`npm pack -> ${dest}`);
const packed = JSON.parse(
  execFileSync(npm, ["pack", "--json", "--pack-destination", dest], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
)[0];
const prebuilds = readdirSync(join(root, "prebuilds", `${process.platform}-${process.arch}`));
step(
  `${join(dest, packed.filename)}: ${(statSync(join(dest, packed.filename)).size / 1e6).toFixed(1)} MB packed, ` +
    `${(packed.unpackedSize / 1e6).toFixed(1)} MB unpacked, ${packed.entryCount} files; prebuilds: ${prebuilds.join(", ")}`,
);
