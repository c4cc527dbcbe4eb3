/** Process-wide LibTorch settings and facts. */
import { checkInteger } from "./check.js";
import { native, nativeOrigin } from "./native.js";

/** Sets LibTorch's intra-op thread count (the number of cores is a good value). */
export function setNumThreads(n: number): void {
  native().setNumThreads(checkInteger(n, "setNumThreads: n", 1, 4096));
}

/** LibTorch's intra-op thread count. */
export function getNumThreads(): number {
  return native().getNumThreads();
}

/** True when a CUDA device can be used. */
export function cudaAvailable(): boolean {
  return native().cudaAvailable();
}

/** Number of CUDA devices (0 without CUDA). */
export function cudaDeviceCount(): number {
  return native().cudaDeviceCount();
}

/** The LibTorch version the addon runs on, e.g. "1.13.0". */
export function libtorchVersion(): string {
  return native().libtorchVersion();
}

/** Who provides the detectors' operators `torchvision::nms` / `torchvision::roi_align` in this process. */
export interface DetectionOps {
  /** "stcn": this addon's implementation; "process": one already registered (libtorchvision). */
  nms: "stcn" | "process";
  roiAlign: "stcn" | "process";
  /** Whether CUDA kernels of them are available. */
  cudaKernels: boolean;
}

/** Who provides `torchvision::nms` and `torchvision::roi_align` (see docs/detection.md). */
export function detectionOps(): DetectionOps {
  return native().detectionOps();
}

/** What `stcn info` prints. */
export interface RuntimeInfo {
  libtorch: string;
  threads: number;
  cudaAvailable: boolean;
  cudaDevices: number;
  addonPath: string;
  /** "prebuild" (shipped binary), "source" (built on this machine) or "env" (STCN_ADDON_PATH). */
  addonKind: "prebuild" | "source" | "env";
  /** For a prebuild: where its LibTorch was found (`LIBTORCH=...`, `python <exe>`, `system`) and its folder. */
  libtorchRoute?: string;
  libtorchDir?: string;
  /** cpu or cuda: the LibTorch the addon was built against. */
  flavour: string;
  /** _GLIBCXX_USE_CXX11_ABI the addon was built with. */
  cxx11Abi?: number;
  napiVersion: number;
  node: string;
}

/** Everything about the native runtime in one object. */
export function runtimeInfo(): RuntimeInfo {
  const addon = native();
  const build = addon.buildInfo();
  const origin = nativeOrigin();
  return {
    libtorch: addon.libtorchVersion(),
    threads: addon.getNumThreads(),
    cudaAvailable: addon.cudaAvailable(),
    cudaDevices: addon.cudaDeviceCount(),
    addonPath: origin.path,
    addonKind: origin.kind,
    ...(origin.libtorch ? { libtorchRoute: origin.libtorch.route, libtorchDir: origin.libtorch.libDir } : {}),
    flavour: build.flavour,
    ...(build.cxx11Abi !== undefined ? { cxx11Abi: build.cxx11Abi } : {}),
    napiVersion: build.napiVersion,
    node: process.version,
  };
}
