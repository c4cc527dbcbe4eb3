// JavaScript `Module` handle over a loaded TorchScript module (stcn::ScriptModule).
#pragma once

#include <napi.h>

#include <memory>

#include "script_module.h"

namespace binding {

class ModuleWrap : public Napi::ObjectWrap<ModuleWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  // loadModule(path, device, optimization): Promise<Module>.
  static Napi::Value load(const Napi::CallbackInfo& info);

  explicit ModuleWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value methods(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value path(const Napi::CallbackInfo& info);
  Napi::Value metadata(const Napi::CallbackInfo& info);
  Napi::Value optimization(const Napi::CallbackInfo& info);
  Napi::Value isDisposed(const Napi::CallbackInfo& info);
  Napi::Value signature(const Napi::CallbackInfo& info);
  Napi::Value run(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  const std::shared_ptr<stcn::ScriptModule>& module() const;

  // Shared with in-flight runs: dispose() drops this reference, a running method keeps its own.
  std::shared_ptr<stcn::ScriptModule> module_;
  // The executor lane all runs of this module use (assigned once, when it is created).
  int lane_ = 0;
};

}  // namespace binding
