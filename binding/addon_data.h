// Per-environment state (one per Node.js main thread or worker thread that loads the addon).
#pragma once

#include <napi.h>

#include <memory>

#include "binding/executor.h"

namespace binding {

struct AddonData {
  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference moduleConstructor;
  // Lanes that run native work (created at init, joined when the environment goes away).
  std::unique_ptr<Executor> executor;
};

inline AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace binding
