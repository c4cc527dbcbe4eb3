/**
 * Finding a LibTorch at load time for a prebuilt addon (docs/install.md). The routes are those of the
 * build (CMakeLists.txt), minus CMAKE_PREFIX_PATH, which only means something to CMake:
 *  1. `LIBTORCH` (an unpacked LibTorch: lib/ + share/cmake/Torch);
 *  2. a Python's torch: `STCN_PYTHON`, else the first `python3` on PATH. Its package folder is found
 *     without importing torch (fast: no CUDA initialisation); the libraries are `torch/lib`, or, for
 *     distribution builds whose `torch/lib/libtorch.so` is a link (Debian's python3-torch), the folder
 *     that link resolves to;
 *  3. the system (Debian's `libtorch-dev`, `/usr/lib/<triplet>`).
 * Each route yields the library folder, the version (TorchConfigVersion.cmake, else torch/version.py
 * or LibTorch's build-version) and the C++ ABI (TORCH_CXX_FLAGS in TorchConfig.cmake).
 * @internal
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";

/** One LibTorch found on this machine. @internal */
export interface FoundLibTorch {
  /** How it was found: `LIBTORCH=...`, `python <exe>`, `system`. */
  route: string;
  /** The folder holding libtorch / libc10. */
  libDir: string;
  /** e.g. "1.13.0", "2.5.1+cu124"; undefined when no version file was found. */
  version: string | undefined;
  /** _GLIBCXX_USE_CXX11_ABI of its C++ API, when its CMake config says. */
  cxx11Abi: number | undefined;
  /** Whether it has the CUDA backend (libtorch_cuda). */
  cuda: boolean;
}

/** What a prebuilt addon was built against (the prebuild's sidecar JSON). @internal */
export interface PrebuildMeta {
  flavour: string;
  libtorch: string;
  cxx11Abi: number;
  /** The libtorch / libc10 sonames the addon needs (DT_NEEDED). */
  needed: string[];
}

const SYSTEM_LIB_DIRS = [`/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`, "/usr/lib64", "/usr/lib"];

function readIf(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Version and ABI from a CMake config folder (…/cmake/Torch). */
function fromCmake(dir: string): { version?: string; abi?: number } {
  const version = /PACKAGE_VERSION "([^"]+)"/.exec(readIf(join(dir, "TorchConfigVersion.cmake")) ?? "")?.[1];
  const abi = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readIf(join(dir, "TorchConfig.cmake")) ?? "")?.[1];
  return { version, abi: abi === undefined ? undefined : Number(abi) };
}

function describe(route: string, libDir: string, cmakeDirs: string[], versionFallback?: string): FoundLibTorch {
  let version: string | undefined;
  let abi: number | undefined;
  for (const dir of cmakeDirs) {
    const got = fromCmake(dir);
    version ??= got.version;
    abi ??= got.abi;
  }
  return {
    route,
    libDir,
    version: version ?? versionFallback,
    cxx11Abi: abi,
    cuda: existsSync(join(libDir, "libtorch_cuda.so")),
  };
}

function fromLibtorchEnv(root: string): FoundLibTorch {
  const buildVersion = readIf(join(root, "build-version"))?.trim();
  return describe(`LIBTORCH=${root}`, join(root, "lib"), [join(root, "share", "cmake", "Torch")], buildVersion);
}

function fromPython(python: string): FoundLibTorch | string {
  const probe = spawnSync(
    python,
    ["-c", "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"],
    { encoding: "utf8", timeout: 20_000 },
  );
  if (probe.error || probe.status !== 0) return `${python}: not runnable`;
  const torchDir = probe.stdout.trim();
  if (!torchDir) return `${python}: no torch`;
  const link = join(torchDir, "lib", "libtorch.so");
  if (!existsSync(link)) return `${python}: torch at ${torchDir} has no lib/libtorch.so`;
  const libDir = dirname(realpathSync(link));
  const pyVersion = /__version__ = '([^']+)'/.exec(readIf(join(torchDir, "version.py")) ?? "")?.[1];
  return describe(`python ${python}`, libDir, [join(torchDir, "share", "cmake", "Torch"), join(libDir, "cmake", "Torch")], pyVersion);
}

function fromSystem(): FoundLibTorch | undefined {
  for (const dir of SYSTEM_LIB_DIRS) {
    if (existsSync(join(dir, "libtorch.so")) || existsSync(join(dir, "libtorch_cpu.so"))) {
      return describe("system", dir, [join(dir, "cmake", "Torch")]);
    }
  }
  return undefined;
}

/**
 * Every LibTorch the routes find, in route order, and a note for each route that found nothing.
 * With `LIBTORCH` set, only that one is considered (an explicit choice is never passed over).
 * @internal
 */
export function findLibTorch(env: NodeJS.ProcessEnv = process.env): { found: FoundLibTorch[]; notes: string[] } {
  if (env.LIBTORCH) return { found: [fromLibtorchEnv(env.LIBTORCH)], notes: [] };
  const found: FoundLibTorch[] = [];
  const notes: string[] = [];
  const python = fromPython(env.STCN_PYTHON || "python3");
  if (typeof python === "string") notes.push(python);
  else found.push(python);
  const system = fromSystem();
  if (system) found.push(system);
  else notes.push("no system LibTorch (Debian: libtorch-dev)");
  return { found, notes };
}

const majorMinor = (v: string | undefined): string | undefined => /^(\d+\.\d+)/.exec(v ?? "")?.[1];

/** Why `lib` cannot serve `meta`, or undefined when it can. @internal */
export function mismatch(lib: FoundLibTorch, meta: PrebuildMeta): string | undefined {
  if (majorMinor(lib.version) !== majorMinor(meta.libtorch)) return `version ${lib.version ?? "unknown"}`;
  if (lib.cxx11Abi !== undefined && lib.cxx11Abi !== meta.cxx11Abi) return `C++11 ABI ${lib.cxx11Abi}`;
  if (meta.flavour === "cuda" && !lib.cuda) return "CPU-only (no libtorch_cuda.so)";
  const missing = meta.needed.filter((name) => !existsSync(join(lib.libDir, name)));
  if (missing.length > 0) return `no ${missing.join(", ")} in ${lib.libDir}`;
  return undefined;
}

/** The one command that gets a LibTorch this prebuild can use. @internal */
export function fixCommand(meta: PrebuildMeta): string {
  const mm = majorMinor(meta.libtorch) ?? meta.libtorch;
  return meta.flavour === "cuda"
    ? `pip install 'torch==${mm}.*' (a CUDA wheel) and set STCN_PYTHON to that python`
    : `apt-get install libtorch-dev (LibTorch ${mm})`;
}

/** The full paths to dlopen, in order, so the addon's DT_NEEDED sonames are already loaded. @internal */
export function preloadList(lib: FoundLibTorch, meta: PrebuildMeta): string[] {
  const rank = (name: string): number =>
    name.startsWith("libc10.") ? 0 : name.startsWith("libc10_") ? 1 : name.startsWith("libtorch_cpu") ? 2 : name.startsWith("libtorch_") ? 3 : 4;
  return [...meta.needed].sort((a, b) => rank(a) - rank(b)).map((name) => join(lib.libDir, name));
}
