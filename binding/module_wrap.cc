#include "binding/module_wrap.h"

#include "binding/addon_data.h"
#include "binding/args.h"
#include "binding/async.h"
#include "binding/convert.h"
#include "binding/js_error.h"
#include "runtime.h"

namespace binding {

using stcn::Error;
using stcn::ErrorCode;

Napi::Function ModuleWrap::define(Napi::Env env) {
  return DefineClass(env, "Module",
                     {
                         InstanceAccessor("methods", &ModuleWrap::methods, nullptr),
                         InstanceAccessor("device", &ModuleWrap::device, nullptr),
                         InstanceAccessor("path", &ModuleWrap::path, nullptr),
                         InstanceAccessor("metadata", &ModuleWrap::metadata, nullptr),
                         InstanceAccessor("optimization", &ModuleWrap::optimization, nullptr),
                         InstanceAccessor("disposed", &ModuleWrap::isDisposed, nullptr),
                         InstanceMethod("signature", &ModuleWrap::signature),
                         InstanceMethod("run", &ModuleWrap::run),
                         InstanceMethod("dispose", &ModuleWrap::dispose),
                     });
}

ModuleWrap::ModuleWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModuleWrap>(info) {}

const std::shared_ptr<stcn::ScriptModule>& ModuleWrap::module() const {
  if (!module_) throw Error(ErrorCode::Disposed, "module was disposed");
  return module_;
}

Napi::Value ModuleWrap::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guardPromise(env, [&]() -> Napi::Value {
    const std::string path = string(info[0], "loadModule path");
    const std::string deviceName = string(info[1], "loadModule device");
    const stcn::Optimization optimization = stcn::parseOptimization(string(info[2], "loadModule optimization"));
    return PromiseWorker<std::shared_ptr<stcn::ScriptModule>>::start(
        env,
        [path, deviceName, optimization]() {
          stcn::LoadOptions options;
          options.device = stcn::parseDevice(deviceName);
          options.optimization = optimization;
          return stcn::ScriptModule::load(path, options);
        },
        [](Napi::Env env, std::shared_ptr<stcn::ScriptModule>& loaded) -> Napi::Value {
          Napi::Object object = addonData(env).moduleConstructor.New({});
          ModuleWrap* wrap = ModuleWrap::Unwrap(object);
          wrap->module_ = std::move(loaded);
          wrap->lane_ = addonData(env).executor->assignLane();
          return object;
        });
  });
}

Napi::Value ModuleWrap::methods(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto& names = module()->methodNames();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  });
}

Napi::Value ModuleWrap::device(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), stcn::deviceName(module()->device())); });
}

Napi::Value ModuleWrap::path(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), module()->path()); });
}

Napi::Value ModuleWrap::metadata(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto& metadata = module()->metadata();
    return metadata ? Napi::Value(Napi::String::New(info.Env(), *metadata)) : info.Env().Null();
  });
}

Napi::Value ModuleWrap::optimization(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), stcn::optimizationName(module()->appliedOptimization()));
  });
}

Napi::Value ModuleWrap::isDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !module_); }

Napi::Value ModuleWrap::signature(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), module()->signature(string(info[0], "signature method")));
  });
}

// run(method: string, args: unknown[]): Promise<unknown>. Arguments are converted on the main thread
// (tensors are shared, not copied); the method runs on a worker thread in inference mode.
Napi::Value ModuleWrap::run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guardPromise(env, [&]() -> Napi::Value {
    const std::string method = string(info[0], "run method");
    if (!info[1].IsArray()) badValue("run arguments", "an array", ErrorCode::Internal);
    std::shared_ptr<stcn::ScriptModule> module = module_;
    if (!module) throw Error(ErrorCode::Disposed, "method \"" + method + "\": module was disposed");
    // The arguments are checked here, against the method's declared schema (only the engine knows it).
    const std::vector<c10::Argument>& arguments = module->arguments(method);
    Napi::Array args = info[1].As<Napi::Array>();
    size_t required = 0;
    for (const auto& argument : arguments) {
      if (!argument.default_value()) ++required;
    }
    if (args.Length() < required || args.Length() > arguments.size()) {
      throw Error(ErrorCode::Argument,
                  "method \"" + method + "\" takes " +
                      (required == arguments.size() ? std::to_string(required)
                                                     : std::to_string(required) + " to " + std::to_string(arguments.size())) +
                      " argument(s), got " + std::to_string(args.Length()) + " (" + module->signature(method) + ")");
    }
    std::vector<c10::IValue> inputs;
    for (uint32_t i = 0; i < args.Length(); ++i) {
      inputs.push_back(toIValue(args.Get(i), arguments[i].type(),
                                "method \"" + method + "\" argument " + std::to_string(i + 1) + " (" + arguments[i].name() + ")"));
    }
    return PromiseWorker<c10::IValue>::start(
        env, [module, method, inputs = std::move(inputs)]() mutable { return module->run(method, std::move(inputs)); },
        [](Napi::Env env, c10::IValue& result) { return fromIValue(env, result); }, {info.This(), info[1]}, lane_);
  });
}

Napi::Value ModuleWrap::dispose(const Napi::CallbackInfo& info) {
  module_.reset();
  return info.Env().Undefined();
}

}  // namespace binding
