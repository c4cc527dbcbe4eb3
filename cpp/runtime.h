// Process-wide LibTorch settings and facts: threads, devices, versions.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace stcn {

// Sets LibTorch's intra-op thread count for the whole process. OpenMP keeps the count per thread,
// so worker threads pick the new value up through syncThreadSettings() before their next job.
void setNumThreads(int n);
// Applies the count last given to setNumThreads() to the calling thread if it differs (cheap; call
// at the start of every job on a worker thread).
void syncThreadSettings();
int getNumThreads();
bool cudaAvailable();
int cudaDeviceCount();
std::string libtorchVersion();
// True when this engine was compiled against a LibTorch with CUDA.
bool builtWithCuda();

// Parses "cpu", "cuda" or "cuda:N" and checks that the device exists on this machine
// (ERR_STCN_DEVICE otherwise, with the reason).
c10::Device parseDevice(const std::string& name);
std::string deviceName(const c10::Device& device);

}  // namespace stcn
