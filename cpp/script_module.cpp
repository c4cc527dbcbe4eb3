#include "script_module.h"

#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "enum_names.h"
#include "errors.h"

namespace stcn {

static const char* kMetadataFile = "metadata.json";

constexpr EnumName<Optimization> kOptimizations[] = {
    {"none", Optimization::None}, {"freeze", Optimization::Freeze}, {"inference", Optimization::Inference}};

Optimization parseOptimization(const std::string& name) { return parseEnum(name, kOptimizations, "optimization"); }
const char* optimizationName(Optimization optimization) { return enumName(optimization, kOptimizations); }

std::shared_ptr<ScriptModule> ScriptModule::load(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::ModelNotFound, "model file not found: " + path);
  }
  std::ifstream probe(path, std::ios::binary);
  if (!probe.good()) throw Error(ErrorCode::ModelNotFound, "model file cannot be read: " + path);
  probe.close();

  std::shared_ptr<ScriptModule> self(new ScriptModule());
  self->path_ = path;
  self->device_ = options.device;
  torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}};
  try {
    c10::InferenceMode guard(false);
    self->module_ = torch::jit::load(path, options.device, extra);
  } catch (...) {
    throw currentException(ErrorCode::ModelLoad, "cannot load TorchScript module " + path);
  }
  if (!extra[kMetadataFile].empty()) self->metadata_ = extra[kMetadataFile];
  self->module_.eval();

  for (const auto& method : self->module_.get_methods()) self->methodNames_.push_back(method.name());
  for (const auto& method : self->module_.get_methods()) {
    const auto& all = method.function().getSchema().arguments();
    self->arguments_[method.name()] = all.empty() ? std::vector<c10::Argument>()
                                                  : std::vector<c10::Argument>(all.begin() + 1, all.end());  // drop self
  }

  if (options.optimization != Optimization::None) {
    std::vector<std::string> others;
    for (const auto& name : self->methodNames_) {
      if (name != "forward") others.push_back(name);
    }
    try {
      self->module_ = torch::jit::freeze(self->module_, others);
      self->applied_ = Optimization::Freeze;
    } catch (...) {
      throw currentException(ErrorCode::ModelLoad, "cannot freeze TorchScript module " + path);
    }
    if (options.optimization == Optimization::Inference) {
      try {
        torch::jit::Module optimized = self->module_.clone();
        torch::jit::optimize_for_inference(optimized, others);
        self->module_ = optimized;
        self->applied_ = Optimization::Inference;
      } catch (...) {
        // optimize_for_inference is an optional speed-up; the frozen module is still correct.
      }
    }
  }
  return self;
}

torch::jit::Method ScriptModule::methodOrThrow(const std::string& method) const {
  auto found = module_.find_method(method);
  if (!found) {
    std::ostringstream names;
    for (size_t i = 0; i < methodNames_.size(); ++i) names << (i ? ", " : "") << methodNames_[i];
    throw Error(ErrorCode::UnknownMethod,
                "unknown method \"" + method + "\" (module " + path_ + " has: " + names.str() + ")");
  }
  return *found;
}

const std::vector<c10::Argument>& ScriptModule::arguments(const std::string& method) const {
  auto found = arguments_.find(method);
  if (found == arguments_.end()) methodOrThrow(method);  // throws ERR_STCN_UNKNOWN_METHOD
  return found->second;
}

std::string ScriptModule::signature(const std::string& method) const {
  std::ostringstream out;
  out << methodOrThrow(method).function().getSchema();
  return out.str();
}

c10::IValue moveToDevice(const c10::IValue& value, const c10::Device& device) {
  if (value.isTensor()) {
    const auto& tensor = value.toTensor();
    return tensor.defined() && tensor.device() != device ? c10::IValue(tensor.to(device)) : value;
  }
  if (value.isTensorList()) {
    c10::List<at::Tensor> moved;
    for (const at::Tensor& t : value.toTensorList()) moved.push_back(t.device() != device ? t.to(device) : t);
    return moved;
  }
  if (value.isList()) {
    auto list = value.toList();
    c10::impl::GenericList moved(list.elementType());
    for (const c10::IValue& item : list) moved.push_back(moveToDevice(item, device));
    return moved;
  }
  if (value.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto& item : value.toTupleRef().elements()) items.push_back(moveToDevice(item, device));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (value.isGenericDict()) {
    auto dict = value.toGenericDict();
    c10::impl::GenericDict moved(dict.keyType(), dict.valueType());
    for (const auto& entry : dict) moved.insert(entry.key(), moveToDevice(entry.value(), device));
    return moved;
  }
  return value;
}

c10::IValue ScriptModule::run(const std::string& method, std::vector<c10::IValue> inputs) const {
  auto m = methodOrThrow(method);
  try {
    c10::InferenceMode guard;
    for (auto& input : inputs) input = moveToDevice(input, device_);
    return m(std::move(inputs));
  } catch (...) {
    throw currentException(ErrorCode::Run, "method \"" + method + "\" failed");
  }
}

}  // namespace stcn
