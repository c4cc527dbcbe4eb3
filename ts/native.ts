/**
 * Loads the native addon and declares its (internal) surface. Public code goes through the typed
 * wrappers in tensor.ts / module.ts; nothing outside ts/ should import this file's types.
 *
 * Resolution order (first that exists wins; a load failure is reported, never skipped silently):
 *  1. `STCN_ADDON_PATH` (a .node file), for development and debugging;
 *  2. `build/Release/stcn.node` (built on this machine: a checkout's `npm run build`, or an install
 *     that found no usable prebuild and built from source); it records its LibTorch as an rpath;
 *  3. `prebuilds/<platform>-<arch>/stcn-node.napi.<flavour>.node` (prebuildify's layout), flavour
 *     from `STCN_FLAVOUR` ("cuda" or "cpu"), else cuda then cpu when an NVIDIA driver is present,
 *     else cpu. A prebuild has no absolute rpath: its sidecar `.json` says which LibTorch it needs,
 *     libtorch.ts finds one (LIBTORCH, a Python's torch, the system), and the first-stage loader
 *     (`stcn-loader.napi.node`) dlopens that LibTorch before the addon is loaded (docs/install.md).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StcnError } from "./errors.js";
import { findLibTorch, fixCommand, mismatch, preloadList, type FoundLibTorch, type PrebuildMeta } from "./libtorch.js";
import type { NativeStcnModel, NativeStcnSessionClass } from "./stcn/native-types.js";

/** @internal */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly device: string;
  readonly disposed: boolean;
  toTypedArray(): Float32Array | Float64Array | Uint8Array | Int8Array | Int16Array | Int32Array | BigInt64Array;
  to(device: string): Promise<NativeTensor>;
  dispose(): void;
}

/** @internal */
export interface NativeTensorClass {
  new (): NativeTensor;
  fromData(data: ArrayBufferView, shape: number[], dtype?: string): NativeTensor;
}

/** @internal */
export interface NativeModule {
  readonly methods: string[];
  readonly device: string;
  readonly path: string;
  readonly metadata: string | null;
  readonly optimization: string;
  readonly disposed: boolean;
  signature(method: string): string;
  run(method: string, args: unknown[]): Promise<unknown>;
  dispose(): void;
}

/** @internal */
export interface NativeBuildInfo {
  flavour: string;
  cuda: boolean;
  libtorch: string;
  napiVersion: number;
  /** Absent in addons built before it was recorded. */
  cxx11Abi?: number;
}

/** @internal The addon's exports. Later features add their functions here. */
export interface NativeAddon {
  Tensor: NativeTensorClass;
  Module: new () => NativeModule;
  loadModule(path: string, device: string, optimization: string): Promise<NativeModule>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** Diagnostic: the intra-op thread count seen by executor lane `lane`. */
  workerNumThreads(lane: number): Promise<number>;
  /** How many executor lanes run native work (STCN_LANES, default 2). */
  executorLanes(): number;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  libtorchVersion(): string;
  buildInfo(): NativeBuildInfo;
  /** Dense CRF (binding/crf.cc); typed wrapper in crf.ts. */
  denseCrf(options: Record<string, unknown>): Promise<{
    q: Float32Array;
    argmax: Int32Array;
    latticePoints: number[];
    unaryMs: number;
    setupMs: number;
    inferenceMs: number;
    totalMs: number;
  }>;
  /** Raw permutohedral-lattice filter (binding/crf.cc); typed wrapper in crf.ts. */
  permutohedralFilter(
    features: Float32Array,
    d: number,
    values: Float32Array,
    valueSize: number,
    reverse: boolean,
    threads: number,
  ): Promise<{ values: Float32Array; latticePoints: number }>;
  /** Who provides torchvision::nms / torchvision::roi_align in this process ("stcn" = this addon). */
  detectionOps(): { nms: "stcn" | "process"; roiAlign: "stcn" | "process"; cudaKernels: boolean };
  /** STCN propagation (binding/stcn_session.cc). */
  StcnSession: NativeStcnSessionClass;
  loadStcn(path: string, device: string, optimization: string, half: boolean): Promise<NativeStcnModel>;
}

/** Root of the installed package (the folder holding package.json). */
export const packageRoot: string = join(dirname(fileURLToPath(import.meta.url)), "..");

/** How the loaded addon was found: its file, and for a prebuild the LibTorch preloaded for it. @internal */
export interface LoadedAddon {
  path: string;
  /** "env" (STCN_ADDON_PATH), "source" (build/Release: built on this machine) or "prebuild". */
  kind: "env" | "source" | "prebuild";
  libtorch?: FoundLibTorch;
}

let addon: NativeAddon | undefined;
let loaded: LoadedAddon | undefined;

const REBUILD_HINT = "or build from source against the LibTorch you have: `npm rebuild stcn-node` (needs cmake and g++)";

/**
 * LibTorch's own default can be a single thread (OpenMP builds without OMP_NUM_THREADS); we use
 * STCN_NUM_THREADS, else OMP_NUM_THREADS, else every available core.
 */
function configure(lib: NativeAddon): NativeAddon {
  const requested = Number(process.env.STCN_NUM_THREADS ?? process.env.OMP_NUM_THREADS ?? availableParallelism());
  if (Number.isInteger(requested) && requested > 0) lib.setNumThreads(requested);
  return lib;
}

function loadFailed(path: string, error: unknown): StcnError {
  const why = ((error as Error).message ?? String(error)).split("\n")[0];
  return new StcnError(
    "ERR_STCN_ADDON_LOAD",
    `cannot load the stcn-node addon ${path}: ${why}; fix: \`npm rebuild stcn-node\` (builds it against the LibTorch found: LIBTORCH, a Python's torch, or Debian's libtorch-dev)`,
    { cause: error },
  );
}

/** The prebuilds for this platform, in the order to try them (see the file comment). */
function prebuildCandidates(): { node: string; meta: PrebuildMeta }[] {
  const dir = join(packageRoot, "prebuilds", `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return [];
  const explicit = process.env.STCN_FLAVOUR;
  if (explicit !== undefined && explicit !== "cpu" && explicit !== "cuda") {
    throw new StcnError("ERR_STCN_ADDON_LOAD", `STCN_FLAVOUR=${explicit}: expected cpu or cuda`);
  }
  const order = explicit ? [explicit] : existsSync("/proc/driver/nvidia/version") ? ["cuda", "cpu"] : ["cpu"];
  const out: { node: string; meta: PrebuildMeta }[] = [];
  for (const flavour of order) {
    const node = join(dir, `stcn-node.napi.${flavour}.node`);
    const json = join(dir, `stcn-node.napi.${flavour}.json`);
    if (existsSync(node) && existsSync(json)) out.push({ node, meta: JSON.parse(readFileSync(json, "utf8")) as PrebuildMeta });
  }
  return out;
}

/**
 * Picks a prebuild and the LibTorch for it, preloads that LibTorch through the first-stage loader,
 * then loads the addon. Returns undefined when this platform has no prebuild; throws one line naming
 * what was found, what is needed and the fix when none can be used.
 */
function loadPrebuild(require: NodeRequire): NativeAddon | undefined {
  const candidates = prebuildCandidates();
  const explicit = process.env.STCN_FLAVOUR;
  if (candidates.length === 0 && explicit) {
    const dir = join(packageRoot, "prebuilds", `${process.platform}-${process.arch}`);
    const present = existsSync(dir) ? readdirSync(dir).filter((f) => /^stcn-node\.napi\.\w+\.node$/.test(f)).map((f) => f.split(".")[2]) : [];
    throw new StcnError(
      "ERR_STCN_ADDON_LOAD",
      `STCN_FLAVOUR=${explicit}: stcn-node has no ${explicit} prebuild for ${process.platform}-${process.arch} (it has: ${present.join(", ") || "none"}); ` +
        `fix: unset STCN_FLAVOUR, or ${REBUILD_HINT}`,
    );
  }
  if (candidates.length === 0) return undefined;
  const { found, notes } = findLibTorch();
  const rejected: string[] = [];
  for (const { node, meta } of candidates) {
    for (const lib of found) {
      const why = mismatch(lib, meta);
      if (why !== undefined) {
        rejected.push(`${lib.route}: ${why}`);
        continue;
      }
      try {
        const loader = require(join(dirname(node), "stcn-loader.napi.node")) as { preload(paths: string[]): void };
        loader.preload(preloadList(lib, meta));
        const loadedAddon = configure(require(node) as NativeAddon);
        loaded = { path: node, kind: "prebuild", libtorch: lib };
        return loadedAddon;
      } catch (error) {
        throw loadFailed(node, error);
      }
    }
  }
  const first = candidates[0] as { meta: PrebuildMeta };
  const seen = [...new Set(rejected)].concat(notes);
  throw new StcnError(
    "ERR_STCN_ADDON_LOAD",
    `no usable LibTorch for the ${first.meta.flavour} prebuild of stcn-node: it needs LibTorch ${first.meta.libtorch} ` +
      `(${first.meta.flavour}, C++11 ABI ${first.meta.cxx11Abi}, ${first.meta.needed.join(" ")}); found: ${seen.join("; ") || "nothing"}; ` +
      `fix: ${fixCommand(first.meta)}, ${REBUILD_HINT}`,
  );
}

/**
 * OpenBLAS (the BLAS behind Debian's LibTorch, and a common one elsewhere) runs a pool of worker
 * threads and joins them in a fork handler. When a child process is spawned (Node forks for every
 * `child_process` call: ffmpeg, ffprobe, Python) while a BLAS call runs on one of our lanes, that
 * join can wait forever: the whole process hangs. With one BLAS thread there is no pool and nothing
 * to join. LibTorch's convolutions run on oneDNN/OpenMP, not on BLAS, so the speed is the same
 * (measured with `stcn segment` at 480p: within run-to-run noise). Set before LibTorch is loaded;
 * a value the user set is kept (docs/service.md, "Child processes and OpenBLAS").
 */
function singleThreadedBlas(): void {
  if (process.env.OPENBLAS_NUM_THREADS === undefined) process.env.OPENBLAS_NUM_THREADS = "1";
}

/** Loads (once) and returns the native addon. Throws ERR_STCN_ADDON_LOAD (one line) when it cannot. */
export function native(): NativeAddon {
  if (addon) return addon;
  singleThreadedBlas();
  const require = createRequire(import.meta.url);
  const explicit = process.env.STCN_ADDON_PATH;
  const local = join(packageRoot, "build", "Release", "stcn.node");
  const direct = explicit ? { path: explicit, kind: "env" as const } : existsSync(local) ? { path: local, kind: "source" as const } : undefined;
  if (direct) {
    if (!existsSync(direct.path)) {
      throw new StcnError("ERR_STCN_ADDON_LOAD", `STCN_ADDON_PATH=${direct.path}: no such file`);
    }
    try {
      addon = configure(require(direct.path) as NativeAddon);
    } catch (error) {
      throw loadFailed(direct.path, error);
    }
    loaded = direct;
    return addon;
  }
  addon = loadPrebuild(require);
  if (addon) return addon;
  throw new StcnError(
    "ERR_STCN_ADDON_LOAD",
    `no stcn-node native addon for ${process.platform}-${process.arch} (no prebuild, no build/Release/stcn.node); fix: \`npm rebuild stcn-node\` (needs cmake, g++ and LibTorch: apt-get install libtorch-dev cmake g++)`,
  );
}

/** The path of the loaded addon file (loads it if needed). */
export function nativePath(): string {
  native();
  return (loaded as LoadedAddon).path;
}

/** How the addon was found (loads it if needed). @internal */
export function nativeOrigin(): LoadedAddon {
  native();
  return loaded as LoadedAddon;
}
