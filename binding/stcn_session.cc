// Node-API glue for STCN propagation (ts/stcn/*.ts): a loaded STCN model (StcnModel) and per-video
// sessions (StcnSession) that own the memory bank and the current frame's features natively.
// ts/stcn/tracker.ts checks every input and owns the order of calls; here inputs are read and copied
// on the main thread (binding/args.h), every heavy call runs on the session's lane (PromiseWorker),
// results (label maps, optional debug probabilities) come back as typed arrays.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/addon_data.h"
#include "binding/async.h"
#include "binding/js_error.h"
#include "runtime.h"
#include "script_module.h"
#include "stcn_session.h"

namespace binding {

using stcn::Error;
using stcn::ErrorCode;

namespace {

struct Model {
  std::shared_ptr<const stcn::ScriptModule> module;
  bool half = false;
};

}  // namespace

class StcnSessionWrap : public Napi::ObjectWrap<StcnSessionWrap> {
 public:
  static Napi::Function define(Napi::Env env, void* data) {
    return DefineClass(env, "StcnSession",
                       {
                           InstanceAccessor("objects", &StcnSessionWrap::objects, nullptr),
                           InstanceAccessor("memoryFrames", &StcnSessionWrap::memoryFrames, nullptr),
                           InstanceAccessor("memoryBytes", &StcnSessionWrap::memoryBytes, nullptr),
                           InstanceAccessor("workingSize", &StcnSessionWrap::workingSize, nullptr),
                           InstanceAccessor("disposed", &StcnSessionWrap::isDisposed, nullptr),
                           InstanceMethod("encodeFrame", &StcnSessionWrap::encodeFrame),
                           InstanceMethod("segment", &StcnSessionWrap::segment),
                           InstanceMethod("addObjects", &StcnSessionWrap::addObjects),
                           InstanceMethod("memorize", &StcnSessionWrap::memorize),
                           InstanceMethod("labels", &StcnSessionWrap::labels),
                           InstanceMethod("dispose", &StcnSessionWrap::dispose),
                       },
                       data);
  }

  // new StcnSession(model: StcnModel, topK, maxMemoryFrames, size, memoryBudget)
  explicit StcnSessionWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<stcn::StcnSession> session() const {
    if (!session_) throw Error(ErrorCode::Disposed, "STCN tracker was disposed");
    return session_;
  }

  Napi::Value objects(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(session()->objects())); });
  }
  Napi::Value memoryFrames(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(session()->memoryFrames())); });
  }
  Napi::Value memoryBytes(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(session()->memoryBytes())); });
  }
  Napi::Value workingSize(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto s = session();
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("width", static_cast<double>(s->workingWidth()));
      out.Set("height", static_cast<double>(s->workingHeight()));
      return out;
    });
  }
  Napi::Value isDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !session_); }

  // encodeFrame(rgb: Uint8Array, width, height): Promise<void>
  Napi::Value encodeFrame(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guardPromise(env, [&]() -> Napi::Value {
      std::shared_ptr<stcn::StcnSession> s = session();
      const int64_t width = integer(info[1], "encodeFrame width");
      const int64_t height = integer(info[2], "encodeFrame height");
      std::vector<uint8_t> rgb = copyArray<uint8_t>(info[0], "encodeFrame rgb", width * height * 3);
      return startVoid(env, [s, rgb = std::move(rgb), width, height]() { s->encodeFrame(rgb.data(), width, height); }, {info.This()}, lane_);
    });
  }

  // segment(): Promise<void>
  Napi::Value segment(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guardPromise(env, [&]() -> Napi::Value {
      std::shared_ptr<stcn::StcnSession> s = session();
      return startVoid(env, [s]() { s->segment(); }, {info.This()}, lane_);
    });
  }

  // addObjects(labels: Uint8Array, width, height, ids: number[], resize: boolean): Promise<number[]> (ids added)
  Napi::Value addObjects(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guardPromise(env, [&]() -> Napi::Value {
      std::shared_ptr<stcn::StcnSession> s = session();
      const int64_t width = integer(info[1], "addObjects width");
      const int64_t height = integer(info[2], "addObjects height");
      std::vector<uint8_t> labels = copyArray<uint8_t>(info[0], "addObjects labels", width * height);
      std::vector<uint8_t> ids = labelList(info[3], "addObjects ids");
      const bool resize = boolean(info[4], "addObjects resize");
      return PromiseWorker<std::vector<uint8_t>>::start(
          env,
          [s, labels = std::move(labels), width, height, ids = std::move(ids), resize]() {
            return s->addObjects(labels.data(), width, height, ids, resize);
          },
          [](Napi::Env env, std::vector<uint8_t>& kept) -> Napi::Value {
            Napi::Array out = Napi::Array::New(env, kept.size());
            for (size_t i = 0; i < kept.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, kept[i]));
            return out;
          },
          {info.This()}, lane_);
    });
  }

  // memorize(kind: "permanent" | "regular" | "temporary"): Promise<void>
  Napi::Value memorize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guardPromise(env, [&]() -> Napi::Value {
      std::shared_ptr<stcn::StcnSession> s = session();
      const stcn::MemoryKind kind = stcn::parseMemoryKind(string(info[0], "memorize kind"));
      return startVoid(env, [s, kind]() { s->memorize(kind); }, {info.This()}, lane_);
    });
  }

  struct LabelsResult {
    std::vector<uint8_t> labels;
    std::vector<float> probs;
    bool withProbs = false;
  };

  // labels(ids: number[], withProbs: boolean): Promise<{ labels: Uint8Array, probs?: Float32Array }>
  Napi::Value labels(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guardPromise(env, [&]() -> Napi::Value {
      std::shared_ptr<stcn::StcnSession> s = session();
      std::vector<uint8_t> ids = labelList(info[0], "labels ids");
      const bool withProbs = boolean(info[1], "labels withProbs");
      return PromiseWorker<LabelsResult>::start(
          env,
          [s, ids = std::move(ids), withProbs]() {
            LabelsResult r;
            r.withProbs = withProbs;
            r.labels = s->labels(ids, withProbs ? &r.probs : nullptr);
            return r;
          },
          [](Napi::Env env, LabelsResult& r) -> Napi::Value {
            Napi::Object out = Napi::Object::New(env);
            Napi::Uint8Array labels = Napi::Uint8Array::New(env, r.labels.size());
            if (!r.labels.empty()) std::memcpy(labels.Data(), r.labels.data(), r.labels.size());
            out.Set("labels", labels);
            if (r.withProbs) {
              Napi::Float32Array probs = Napi::Float32Array::New(env, r.probs.size());
              if (!r.probs.empty()) std::memcpy(probs.Data(), r.probs.data(), r.probs.size() * sizeof(float));
              out.Set("probs", probs);
            }
            return out;
          },
          {info.This()}, lane_);
    });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    session_.reset();  // in-flight work holds its own reference
    return info.Env().Undefined();
  }

  std::shared_ptr<stcn::StcnSession> session_;
  // The executor lane all work of this session uses (assigned once, at construction).
  int lane_ = 0;
};

class StcnModelWrap : public Napi::ObjectWrap<StcnModelWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "StcnModel",
                       {
                           InstanceAccessor("device", &StcnModelWrap::device, nullptr),
                           InstanceAccessor("path", &StcnModelWrap::path, nullptr),
                           InstanceAccessor("metadata", &StcnModelWrap::metadata, nullptr),
                           InstanceAccessor("optimization", &StcnModelWrap::optimization, nullptr),
                           InstanceAccessor("half", &StcnModelWrap::half, nullptr),
                           InstanceAccessor("disposed", &StcnModelWrap::isDisposed, nullptr),
                           InstanceMethod("dispose", &StcnModelWrap::dispose),
                       });
  }

  explicit StcnModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StcnModelWrap>(info) {}

  const Model& model() const {
    if (!model_.module) throw Error(ErrorCode::Disposed, "STCN model was disposed");
    return model_;
  }

  Model model_;

 private:
  Napi::Value device(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), model().module->device().str()); });
  }
  Napi::Value path(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), model().module->path()); });
  }
  Napi::Value metadata(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto& m = model().module->metadata();
      return m ? Napi::Value(Napi::String::New(info.Env(), *m)) : info.Env().Null();
    });
  }
  Napi::Value optimization(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      return Napi::String::New(info.Env(), stcn::optimizationName(model().module->appliedOptimization()));
    });
  }
  Napi::Value half(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), model().half); });
  }
  Napi::Value isDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_.module); }
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    model_.module.reset();
    return info.Env().Undefined();
  }
};

StcnSessionWrap::StcnSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StcnSessionWrap>(info) {
  Napi::Env env = info.Env();
  guard(env, [&]() -> Napi::Value {
    auto* data = static_cast<Napi::FunctionReference*>(info.Data());
    if (!info[0].IsObject() || !data || !info[0].As<Napi::Object>().InstanceOf(data->Value())) {
      badValue("new StcnSession model", "an StcnModel", ErrorCode::Internal);
    }
    const Model& model = StcnModelWrap::Unwrap(info[0].As<Napi::Object>())->model();
    stcn::SessionOptions options;
    options.topK = integer(info[1], "StcnSession topK");
    options.maxMemoryFrames = integer(info[2], "StcnSession maxMemoryFrames");
    options.size = integer(info[3], "StcnSession size");
    options.memoryBudget = integer(info[4], "StcnSession memoryBudget");
    options.half = model.half;
    session_ = std::make_shared<stcn::StcnSession>(model.module, options);
    lane_ = addonData(env).executor->assignLane();
    return env.Undefined();
  });
}

namespace {

struct StcnClasses {
  Napi::FunctionReference model;
  Napi::FunctionReference session;
};

// loadStcn(path, device, optimization, half): Promise<StcnModel>
Napi::Value loadStcn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* classes = static_cast<StcnClasses*>(info.Data());
  return guardPromise(env, [&]() -> Napi::Value {
    const std::string path = string(info[0], "loadStcn path");
    const std::string deviceName = string(info[1], "loadStcn device");
    const stcn::Optimization optimization = stcn::parseOptimization(string(info[2], "loadStcn optimization"));
    const bool half = boolean(info[3], "loadStcn half");
    return PromiseWorker<Model>::start(
        env,
        [path, deviceName, optimization, half]() {
          stcn::LoadOptions options;
          options.device = stcn::parseDevice(deviceName);
          options.optimization = optimization;
          // CPU bfloat16 autocast only reaches aten::conv2d & co.; optimize_for_inference replaces them
          // with prepacked oneDNN float32 ops, so mixed precision on CPU stops at freezing.
          if (half && options.device.is_cpu() && optimization == stcn::Optimization::Inference) {
            options.optimization = stcn::Optimization::Freeze;
          }
          Model model;
          auto loaded = stcn::ScriptModule::load(path, options);
          stcn::checkStcnModule(*loaded);
          if (half) stcn::checkHalfPrecision(options.device);
          stcn::probeStcnModule(*loaded, half);
          model.module = std::move(loaded);
          model.half = half;
          return model;
        },
        [classes](Napi::Env env, Model& model) -> Napi::Value {
          Napi::Object object = classes->model.New({});
          StcnModelWrap::Unwrap(object)->model_ = std::move(model);
          return object;
        });
  });
}

}  // namespace

void registerStcn(Napi::Env env, Napi::Object exports) {
  auto* classes = new StcnClasses();
  env.AddCleanupHook([classes]() { delete classes; });
  Napi::Function model = StcnModelWrap::define(env);
  classes->model = Napi::Persistent(model);
  // The session constructor checks its model argument against the model class (its data pointer).
  Napi::Function session = StcnSessionWrap::define(env, &classes->model);
  classes->session = Napi::Persistent(session);
  exports.Set("StcnModel", model);
  exports.Set("StcnSession", session);
  exports.Set("loadStcn", Napi::Function::New(env, loadStcn, "loadStcn", classes));
}

}  // namespace binding
