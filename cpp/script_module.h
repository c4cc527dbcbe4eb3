// A loaded TorchScript module: load once, run any of its methods from any thread.
#pragma once

#include <torch/script.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace stcn {

enum class Optimization {
  None,      // run the module as saved
  Freeze,    // torch::jit::freeze (constants folded, all methods preserved)
  Inference  // freeze + torch::jit::optimize_for_inference (falls back to Freeze if it fails)
};

// "none" | "freeze" | "inference" (ERR_STCN_ARGUMENT otherwise) and back.
Optimization parseOptimization(const std::string& name);
const char* optimizationName(Optimization optimization);

struct LoadOptions {
  c10::Device device = c10::Device(c10::kCPU);
  Optimization optimization = Optimization::None;
};

class ScriptModule {
 public:
  // Loads `path` onto `options.device`. ERR_STCN_MODEL_NOT_FOUND when the file cannot be read,
  // ERR_STCN_MODEL_LOAD when it is not a TorchScript archive.
  static std::shared_ptr<ScriptModule> load(const std::string& path, const LoadOptions& options);

  const std::vector<std::string>& methodNames() const { return methodNames_; }
  const c10::Device& device() const { return device_; }
  const std::string& path() const { return path_; }
  // The archive's `extra/metadata.json` (written by our exporters), if any.
  const std::optional<std::string>& metadata() const { return metadata_; }
  // What optimization was actually applied (Inference may have fallen back to Freeze).
  Optimization appliedOptimization() const { return applied_; }

  // The declared arguments of `method` without `self` (ERR_STCN_UNKNOWN_METHOD if absent).
  // Cached at load time: argument conversion consults it on every run.
  const std::vector<c10::Argument>& arguments(const std::string& method) const;
  // "encode_key(Tensor frame) -> (Tensor, Tensor)" for messages and documentation.
  std::string signature(const std::string& method) const;

  // Runs `method` in inference mode. Tensor inputs on another device are moved to the module's
  // device first (on the calling thread). LibTorch failures become ERR_STCN_RUN.
  c10::IValue run(const std::string& method, std::vector<c10::IValue> inputs) const;

 private:
  ScriptModule() = default;
  torch::jit::Method methodOrThrow(const std::string& method) const;

  mutable torch::jit::Module module_;
  std::vector<std::string> methodNames_;
  std::unordered_map<std::string, std::vector<c10::Argument>> arguments_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::string path_;
  std::optional<std::string> metadata_;
  Optimization applied_ = Optimization::None;
};

// Moves every tensor inside `value` (lists, tuples, dicts included) to `device`.
c10::IValue moveToDevice(const c10::IValue& value, const c10::Device& device);

}  // namespace stcn
