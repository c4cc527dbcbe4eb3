// Process-wide LibTorch settings and facts: threads, devices, versions.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace stcn {

void setNumThreads(int n);
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
