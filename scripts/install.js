// npm "install" hook (also what `npm rebuild stcn-node` runs). A published package first tries its
// prebuilt binary (prebuilds/, docs/install.md); only when none loads on this machine does it build
// the addon from source with cmake-js, printing one line per stage (configure, compile with a file
// count, link) and then deleting the intermediates (precompiled headers, objects, CMake's cache):
// only build/Release/stcn.node stays. In a development checkout (ts/ sources present) it does nothing:
// `npm run build` builds the addon and the TypeScript.
// npm shows a hook's output only on failure; `npm install --foreground-scripts` shows the stages.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (existsSync(join(root, "ts")) || process.env.STCN_SKIP_INSTALL_BUILD) process.exit(0);

const say = (line) => console.log(`stcn-node: ${line}`);
const forceSource = process.env.STCN_BUILD_FROM_SOURCE === "1";
const built = join(root, "build", "Release", "stcn.node");

if (!forceSource) {
  // Loads the package the way a user's program does: a prebuild (or an earlier source build) that
  // loads and answers is all an install needs.
  const probe = spawnSync(process.execPath, ["--input-type=module", "-e", "const m = await import('stcn-node'); m.runtimeInfo();"], {
    cwd: root,
    encoding: "utf8",
  });
  if (probe.status === 0) process.exit(0);
  const reason = /stcn-node[^\n]*|ERR_STCN[^\n]*/.exec(probe.stderr ?? "")?.[0] ?? "the addon does not load";
  say(`no usable prebuilt addon (${reason.trim()})`);
}
// A rebuild starts clean: an old build/ (possibly from another LibTorch) must not be picked up.
rmSync(join(root, "build"), { recursive: true, force: true });
say("building from source with cmake-js (needs cmake, a C++17 compiler and LibTorch)");

// cmake-js is a dependency: resolved like any module (hoisted or not), run with this Node.
const cmakeJs = createRequire(import.meta.url).resolve("cmake-js/bin/cmake-js");
const log = [];

function fail(stage, status) {
  mkdirSync(join(root, "build"), { recursive: true });
  const logPath = join(root, "build", "build-native.log");
  writeFileSync(logPath, log.join(""));
  const lastError = log.join("").split("\n").filter((l) => /error|not found|failed/i.test(l)).slice(-1)[0];
  console.error(
    `stcn-node: ${stage} failed${lastError ? `: ${lastError.trim()}` : ""} (full log: ${logPath}). ` +
      "Needs cmake >= 3.18, g++ and LibTorch (Debian: apt-get install libtorch-dev cmake g++; or LIBTORCH=/path/to/libtorch, " +
      "or STCN_PYTHON=<python with torch>); retry with `npm rebuild stcn-node`.",
  );
  process.exit(status || 1);
}

function run(args, onLine) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let pending = "";
    const take = (chunk) => {
      const text = chunk.toString();
      log.push(text);
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", () => resolve(127));
    child.on("close", (code) => resolve(code ?? 1));
  });
}

const started = Date.now();
let route = "";
const configured = await run(["configure", "--out", "build"], (line) => {
  const m = /stcn-node: (LibTorch from .*)/.exec(line);
  if (m) route = m[1];
});
if (configured !== 0) fail("configure", configured);
say(`configure: done${route ? ` (${route})` : ""}`);

const count = (dir, ext) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((f) => f.endsWith(ext)).length : 0);
const sources = count("cpp", ".cpp") + count("binding", ".cc") + count("loader", ".cc");
say(`compile: ${sources} source files (a few minutes)`);
let linking = false;
const compiled = await run(["build", "--out", "build"], (line) => {
  if (!linking && /Linking CXX/.test(line)) {
    linking = true;
    say("link: stcn.node");
  }
});
if (compiled !== 0) fail(linking ? "link" : "compile", compiled);
if (!existsSync(built)) fail("link", 1);

// Keep only the addon: the precompiled headers (~430 MB each), objects and CMake's cache go.
const keep = join(root, "stcn.node.tmp");
renameSync(built, keep);
rmSync(join(root, "build"), { recursive: true, force: true });
mkdirSync(dirname(built), { recursive: true });
renameSync(keep, built);
say(
  `built ${built} (${(statSync(built).size / 1e6).toFixed(1)} MB) in ${Math.round((Date.now() - started) / 1000)} s; intermediates removed`,
);
