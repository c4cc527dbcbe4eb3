#include "runtime.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <torch/cuda.h>
#include <torch/version.h>

#include "errors.h"

namespace stcn {

namespace {
std::atomic<int> requestedThreads{0};
thread_local int appliedThreads = 0;
}  // namespace

void setNumThreads(int n) {
  if (n < 1) throw Error(ErrorCode::Internal, "internal: setNumThreads: n must be >= 1, got " + std::to_string(n));
  requestedThreads = n;
  at::set_num_threads(n);
  appliedThreads = n;
}

void syncThreadSettings() {
  const int n = requestedThreads.load();
  if (n > 0 && appliedThreads != n) {
    at::set_num_threads(n);
    appliedThreads = n;
  }
}

int getNumThreads() { return at::get_num_threads(); }

bool cudaAvailable() { return torch::cuda::is_available(); }

int cudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

std::string libtorchVersion() { return TORCH_VERSION; }

bool builtWithCuda() {
#ifdef STCN_WITH_CUDA
  return true;
#else
  return false;
#endif
}

c10::Device parseDevice(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (...) {
    throw Error(ErrorCode::Device, "invalid device \"" + name + "\" (expected \"cpu\", \"cuda\" or \"cuda:N\")");
  }
  if (device.is_cpu()) return device;
  if (!device.is_cuda()) {
    throw Error(ErrorCode::Device, "unsupported device \"" + name + "\" (expected \"cpu\", \"cuda\" or \"cuda:N\")");
  }
  if (!cudaAvailable()) {
    throw Error(ErrorCode::Device,
                std::string("device \"") + name + "\" requested but CUDA is not available (" +
                    (builtWithCuda() ? "no usable CUDA device or driver" : "this addon was built against a CPU-only LibTorch") +
                    ")");
  }
  const int count = cudaDeviceCount();
  if (device.has_index() && device.index() >= count) {
    throw Error(ErrorCode::Device, "device \"" + name + "\" requested but only " + std::to_string(count) +
                                       " CUDA device(s) exist");
  }
  if (!device.has_index()) device = c10::Device(c10::kCUDA, 0);
  return device;
}

std::string deviceName(const c10::Device& device) { return device.str(); }

}  // namespace stcn
