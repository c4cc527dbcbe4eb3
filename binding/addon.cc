// Node-API entry point: registers the native classes and functions (see ts/native.ts for types).
#include <napi.h>

#include "binding/addon_data.h"
#include "binding/args.h"
#include "binding/async.h"
#include "binding/js_error.h"
#include "binding/module_wrap.h"
#include "binding/tensor_wrap.h"
#include "runtime.h"

#ifndef STCN_FLAVOUR
#define STCN_FLAVOUR "cpu"
#endif

namespace binding {
namespace {

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    stcn::setNumThreads(int32(info[0], "setNumThreads n"));
    return info.Env().Undefined();
  });
}

Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), stcn::getNumThreads());
}

// workerNumThreads(lane): Promise<number>, the intra-op thread count as seen by executor lane
// `lane` (where runs happen), after syncing it with setNumThreads. Diagnostic: proves the setting
// reaches the threads that do the work.
Napi::Value workerNumThreads(const Napi::CallbackInfo& info) {
  return guardPromise(info.Env(), [&]() -> Napi::Value {
    return PromiseWorker<int>::start(
        info.Env(), []() { return stcn::getNumThreads(); },
        [](Napi::Env env, int& n) -> Napi::Value { return Napi::Number::New(env, n); }, {}, int32(info[0], "workerNumThreads lane"));
  });
}

// executorLanes(): how many lanes run native work (STCN_LANES, default 2).
Napi::Value executorLanes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), addonData(info.Env()).executor->lanes());
}

Napi::Value cudaAvailable(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), stcn::cudaAvailable()); });
}

Napi::Value cudaDeviceCount(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), stcn::cudaDeviceCount()); });
}

Napi::Value libtorchVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), stcn::libtorchVersion());
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("flavour", STCN_FLAVOUR);
  out.Set("cuda", stcn::builtWithCuda());
  out.Set("libtorch", stcn::libtorchVersion());
  out.Set("napiVersion", NAPI_VERSION);
#ifdef STCN_CXX11_ABI
  out.Set("cxx11Abi", STCN_CXX11_ABI);
#else
  out.Set("cxx11Abi", _GLIBCXX_USE_CXX11_ABI);
#endif
  return out;
}

}  // namespace

void registerDetection(Napi::Env env, Napi::Object exports);
void registerStcn(Napi::Env env, Napi::Object exports);
void registerCrf(Napi::Env env, Napi::Object exports);

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  data->executor = std::make_unique<Executor>(env);
  Napi::Function tensor = TensorWrap::define(env);
  data->tensorConstructor = Napi::Persistent(tensor);
  Napi::Function module = ModuleWrap::define(env);
  data->moduleConstructor = Napi::Persistent(module);

  exports.Set("Tensor", tensor);
  exports.Set("Module", module);
  exports.Set("loadModule", Napi::Function::New(env, ModuleWrap::load, "loadModule"));
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, getNumThreads, "getNumThreads"));
  exports.Set("workerNumThreads", Napi::Function::New(env, workerNumThreads, "workerNumThreads"));
  exports.Set("executorLanes", Napi::Function::New(env, executorLanes, "executorLanes"));
  exports.Set("cudaAvailable", Napi::Function::New(env, cudaAvailable, "cudaAvailable"));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, cudaDeviceCount, "cudaDeviceCount"));
  exports.Set("libtorchVersion", Napi::Function::New(env, libtorchVersion, "libtorchVersion"));
  exports.Set("buildInfo", Napi::Function::New(env, buildInfo, "buildInfo"));
  registerDetection(env, exports);
  registerStcn(env, exports);
  registerCrf(env, exports);
  return exports;
}

}  // namespace binding

static Napi::Object initAddon(Napi::Env env, Napi::Object exports) { return binding::init(env, exports); }

NODE_API_MODULE(stcn, initAddon)
