// Node-API glue for STCN propagation (ts/stcn/*.ts): a loaded STCN model (StcnModel) and per-video
// sessions (StcnSession) that own the memory bank and the current frame's features natively.
// Every heavy call runs on a worker thread (PromiseWorker); inputs are copied on the main thread,
// results (label maps, optional debug probabilities) come back as typed arrays.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

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

std::vector<uint8_t> copyBytes(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Error(ErrorCode::Argument, std::string(what) + " must be a Uint8Array");
  }
  Napi::Uint8Array array = value.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(array.Data(), array.Data() + array.ElementLength());
}

int64_t integer(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) throw Error(ErrorCode::Argument, std::string(what) + " must be a number");
  const double v = value.As<Napi::Number>().DoubleValue();
  if (v != static_cast<double>(static_cast<int64_t>(v))) throw Error(ErrorCode::Argument, std::string(what) + " must be an integer");
  return static_cast<int64_t>(v);
}

std::vector<uint8_t> idList(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw Error(ErrorCode::Argument, std::string(what) + " must be an array of labels 0..255");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<uint8_t> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const int64_t v = integer(array.Get(i), what);
    if (v < 0 || v > 255) throw Error(ErrorCode::Argument, std::string(what) + " must hold labels 0..255, got " + std::to_string(v));
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

void checkFrameBytes(const std::vector<uint8_t>& bytes, int64_t width, int64_t height, int64_t channels, const char* what) {
  if (width < 1 || height < 1 || static_cast<int64_t>(bytes.size()) != width * height * channels) {
    throw Error(ErrorCode::Argument, std::string(what) + " holds " + std::to_string(bytes.size()) + " bytes, expected " +
                                         std::to_string(width) + "x" + std::to_string(height) + "x" + std::to_string(channels));
  }
}

}  // namespace

class StcnSessionWrap : public Napi::ObjectWrap<StcnSessionWrap> {
 public:
  static Napi::Function define(Napi::Env env, void* data) {
    return DefineClass(env, "StcnSession",
                       {
                           InstanceAccessor("objects", &StcnSessionWrap::objects, nullptr),
                           InstanceAccessor("memoryFrames", &StcnSessionWrap::memoryFrames, nullptr),
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

  // new StcnSession(model: StcnModel, topK, maxMemoryFrames, size)
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
    std::shared_ptr<stcn::StcnSession> s;
    std::vector<uint8_t> rgb;
    int64_t width = 0, height = 0;
    try {
      s = session();
      if (info.Length() < 3) throw Error(ErrorCode::Argument, "encodeFrame(rgb: Uint8Array, width: number, height: number)");
      rgb = copyBytes(info[0], "rgb");
      width = integer(info[1], "width");
      height = integer(info[2], "height");
      checkFrameBytes(rgb, width, height, 3, "RGB frame");
    } catch (...) {
      return rejected(env, stcn::currentException(ErrorCode::Internal, ""));
    }
    return PromiseWorker<bool>::start(
        env, "stcn.StcnSession.encodeFrame",
        [s, rgb = std::move(rgb), width, height]() {
          s->encodeFrame(rgb.data(), width, height);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {info.This()}, s.get());
  }

  // segment(): Promise<void>
  Napi::Value segment(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<stcn::StcnSession> s;
    try {
      s = session();
    } catch (...) {
      return rejected(env, stcn::currentException(ErrorCode::Internal, ""));
    }
    return PromiseWorker<bool>::start(
        env, "stcn.StcnSession.segment",
        [s]() {
          s->segment();
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {info.This()}, s.get());
  }

  // addObjects(labels: Uint8Array, width, height, ids: number[], resize: boolean): Promise<number[]> (ids added)
  Napi::Value addObjects(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<stcn::StcnSession> s;
    std::vector<uint8_t> labels, ids;
    int64_t width = 0, height = 0;
    bool resize = false;
    try {
      s = session();
      if (info.Length() < 4) throw Error(ErrorCode::Argument, "addObjects(labels: Uint8Array, width: number, height: number, ids: number[])");
      labels = copyBytes(info[0], "labels");
      width = integer(info[1], "width");
      height = integer(info[2], "height");
      checkFrameBytes(labels, width, height, 1, "label map");
      ids = idList(info[3], "ids");
      resize = info.Length() > 4 && info[4].ToBoolean().Value();
    } catch (...) {
      return rejected(env, stcn::currentException(ErrorCode::Internal, ""));
    }
    return PromiseWorker<std::vector<uint8_t>>::start(
        env, "stcn.StcnSession.addObjects",
        [s, labels = std::move(labels), width, height, ids = std::move(ids), resize]() {
          return s->addObjects(labels.data(), width, height, ids, resize);
        },
        [](Napi::Env env, std::vector<uint8_t>& kept) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, kept.size());
          for (size_t i = 0; i < kept.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, kept[i]));
          return out;
        },
        {info.This()}, s.get());
  }

  // memorize(kind: "permanent" | "regular" | "temporary"): Promise<void>
  Napi::Value memorize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<stcn::StcnSession> s;
    stcn::MemoryKind kind = stcn::MemoryKind::Regular;
    try {
      s = session();
      const std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
      if (name == "permanent") kind = stcn::MemoryKind::Permanent;
      else if (name == "regular") kind = stcn::MemoryKind::Regular;
      else if (name == "temporary") kind = stcn::MemoryKind::Temporary;
      else throw Error(ErrorCode::Argument, "memorize(kind: \"permanent\" | \"regular\" | \"temporary\"), got \"" + name + "\"");
    } catch (...) {
      return rejected(env, stcn::currentException(ErrorCode::Internal, ""));
    }
    return PromiseWorker<bool>::start(
        env, "stcn.StcnSession.memorize",
        [s, kind]() {
          s->memorize(kind);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {info.This()}, s.get());
  }

  struct LabelsResult {
    std::vector<uint8_t> labels;
    std::vector<float> probs;
    bool withProbs = false;
  };

  // labels(ids: number[], withProbs: boolean): Promise<{ labels: Uint8Array, probs?: Float32Array }>
  Napi::Value labels(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<stcn::StcnSession> s;
    std::vector<uint8_t> ids;
    bool withProbs = false;
    try {
      s = session();
      if (info.Length() < 1) throw Error(ErrorCode::Argument, "labels(ids: number[], withProbs?: boolean)");
      ids = idList(info[0], "ids");
      withProbs = info.Length() > 1 && info[1].ToBoolean().Value();
    } catch (...) {
      return rejected(env, stcn::currentException(ErrorCode::Internal, ""));
    }
    return PromiseWorker<LabelsResult>::start(
        env, "stcn.StcnSession.labels",
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
        {info.This()}, s.get());
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    session_.reset();  // in-flight work holds its own reference
    return info.Env().Undefined();
  }

  std::shared_ptr<stcn::StcnSession> session_;
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
    if (info.Length() < 4 || !info[0].IsObject() || !data || !info[0].As<Napi::Object>().InstanceOf(data->Value())) {
      throw Error(ErrorCode::Argument, "new StcnSession(model: StcnModel, topK: number, maxMemoryFrames: number, size: number)");
    }
    const Model& model = StcnModelWrap::Unwrap(info[0].As<Napi::Object>())->model();
    stcn::SessionOptions options;
    options.topK = integer(info[1], "topK");
    options.maxMemoryFrames = integer(info[2], "maxMemoryFrames");
    options.size = integer(info[3], "size");
    options.half = model.half;
    session_ = std::make_shared<stcn::StcnSession>(model.module, options);
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
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsBoolean()) {
    return rejected(env, Error(ErrorCode::Argument, "loadStcn(path: string, device: string, optimization: string, half: boolean)"));
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const std::string deviceName = info[1].As<Napi::String>().Utf8Value();
  const bool half = info[3].As<Napi::Boolean>().Value();
  stcn::Optimization optimization;
  try {
    optimization = stcn::parseOptimization(info[2].As<Napi::String>().Utf8Value());
  } catch (const Error& e) {
    return rejected(env, e);
  }
  return PromiseWorker<Model>::start(
      env, "stcn.loadStcn",
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
        model.module = std::move(loaded);
        model.half = half;
        return model;
      },
      [classes](Napi::Env env, Model& model) -> Napi::Value {
        Napi::Object object = classes->model.New({});
        StcnModelWrap::Unwrap(object)->model_ = std::move(model);
        return object;
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
