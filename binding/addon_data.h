// Per-environment state (one per Node.js main thread or worker thread that loads the addon).
#pragma once

#include <napi.h>

namespace binding {

struct AddonData {
  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference moduleConstructor;
};

inline AddonData& addonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace binding
