/**
 * Loads the native addon and declares its (internal) surface. Public code goes through the typed
 * wrappers in tensor.ts / module.ts; nothing outside ts/ should import this file's types.
 *
 * Resolution order (first that exists wins; a load failure is reported, never skipped silently):
 *  1. `STCN_ADDON_PATH` (a .node file), for development and debugging;
 *  2. `build/Release/stcn.node` (a local build: `npm run build`);
 *  3. `prebuilds/<platform>-<arch>/stcn-node.napi.<flavour>.node`, flavour from `STCN_FLAVOUR`
 *     ("cuda" or "cpu"), else cuda when an NVIDIA driver is present and a cuda prebuild exists, else cpu;
 *  4. whatever node-gyp-build finds.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StcnError } from "./errors.js";
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

let addon: NativeAddon | undefined;
let addonPath: string | undefined;

function candidatePaths(): string[] {
  const explicit = process.env.STCN_ADDON_PATH;
  if (explicit) return [explicit];
  const out = [join(packageRoot, "build", "Release", "stcn.node")];
  const dir = join(packageRoot, "prebuilds", `${process.platform}-${process.arch}`);
  if (existsSync(dir)) {
    const files = readdirSync(dir).filter((f) => f.endsWith(".node"));
    const wanted = process.env.STCN_FLAVOUR ?? (existsSync("/proc/driver/nvidia/version") ? "cuda" : "cpu");
    const order = wanted === "cuda" ? ["cuda", "cpu"] : ["cpu"];
    for (const flavour of order) {
      for (const f of files) if (f.split(".").includes(flavour)) out.push(join(dir, f));
    }
  }
  return out;
}

/**
 * LibTorch's own default can be a single thread (OpenMP builds without OMP_NUM_THREADS); we use
 * STCN_NUM_THREADS, else OMP_NUM_THREADS, else every available core.
 */
function configure(loaded: NativeAddon): NativeAddon {
  const requested = Number(process.env.STCN_NUM_THREADS ?? process.env.OMP_NUM_THREADS ?? availableParallelism());
  if (Number.isInteger(requested) && requested > 0) loaded.setNumThreads(requested);
  return loaded;
}

/** Loads (once) and returns the native addon. Throws ERR_STCN_ADDON_LOAD with what was tried. */
export function native(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const candidate of candidatePaths()) {
    if (!existsSync(candidate)) {
      tried.push(`${candidate} (absent)`);
      continue;
    }
    try {
      addon = configure(require(candidate) as NativeAddon);
      addonPath = candidate;
      return addon;
    } catch (error) {
      throw new StcnError(
        "ERR_STCN_ADDON_LOAD",
        `cannot load the stcn-node addon ${candidate}: ${(error as Error).message}\n` +
          "It links against LibTorch at the path it was built with; rebuild with `npm run build` " +
          "(LibTorch from LIBTORCH, CMAKE_PREFIX_PATH or Debian's libtorch-dev).",
        { cause: error },
      );
    }
  }
  try {
    const nodeGypBuild = require("node-gyp-build") as { path(dir: string): string };
    const found = nodeGypBuild.path(packageRoot);
    addon = configure(require(found) as NativeAddon);
    addonPath = found;
    return addon;
  } catch {
    tried.push("node-gyp-build: no matching prebuild");
  }
  throw new StcnError(
    "ERR_STCN_ADDON_LOAD",
    `no stcn-node native addon for ${process.platform}-${process.arch} (Node-API 8). Tried:\n  ${tried.join("\n  ")}\n` +
      "Build it with `npm run build` (needs cmake, g++ and LibTorch: apt-get install libtorch-dev, or LIBTORCH=/path/to/libtorch).",
  );
}

/** The path of the loaded addon file (loads it if needed). */
export function nativePath(): string {
  native();
  return addonPath as string;
}
