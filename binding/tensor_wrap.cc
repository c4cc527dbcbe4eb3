#include "binding/tensor_wrap.h"

#include <cstring>

#include "binding/addon_data.h"
#include "binding/args.h"
#include "binding/async.h"
#include "binding/js_error.h"
#include "runtime.h"
#include "tensor_util.h"

namespace binding {

using stcn::Error;
using stcn::ErrorCode;

Napi::Function TensorWrap::define(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {
                         StaticMethod("fromData", &TensorWrap::fromData),
                         InstanceAccessor("shape", &TensorWrap::shape, nullptr),
                         InstanceAccessor("dtype", &TensorWrap::dtype, nullptr),
                         InstanceAccessor("device", &TensorWrap::device, nullptr),
                         InstanceAccessor("disposed", &TensorWrap::isDisposed, nullptr),
                         InstanceMethod("toTypedArray", &TensorWrap::toTypedArray),
                         InstanceMethod("to", &TensorWrap::to),
                         InstanceMethod("dispose", &TensorWrap::dispose),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info), env_(info.Env()) {}

TensorWrap::~TensorWrap() { release(); }

void TensorWrap::set(at::Tensor tensor) {
  release();
  tensor_ = std::move(tensor);
  // Host memory held by a tensor counts towards V8's GC pressure, so tensors dropped without
  // dispose() are collected (and freed by the finalizer) before memory runs away.
  if (tensor_.defined() && tensor_.device().is_cpu()) {
    externalBytes_ = static_cast<int64_t>(tensor_.numel()) * static_cast<int64_t>(tensor_.element_size());
    if (externalBytes_ > 0) Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env_), externalBytes_);
  }
}

void TensorWrap::release() {
  if (externalBytes_ > 0) {
    Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env_), -externalBytes_);
    externalBytes_ = 0;
  }
  tensor_ = at::Tensor();
}

Napi::Object TensorWrap::wrap(Napi::Env env, at::Tensor tensor) {
  Napi::Object object = addonData(env).tensorConstructor.New({});
  TensorWrap::Unwrap(object)->set(std::move(tensor));
  return object;
}

TensorWrap* TensorWrap::unwrap(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object object = value.As<Napi::Object>();
  if (!object.InstanceOf(addonData(value.Env()).tensorConstructor.Value())) return nullptr;
  return TensorWrap::Unwrap(object);
}

const at::Tensor& TensorWrap::tensor() const {
  if (!tensor_.defined()) throw Error(ErrorCode::Disposed, "tensor was disposed");
  return tensor_;
}

// fromData(typedArray, shape: number[], dtype: string): copies the typed array into a new CPU tensor.
// ts/tensor.ts has checked that the array, the shape and the dtype agree.
Napi::Value TensorWrap::fromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() || !info[1].IsArray()) badValue("Tensor.fromData arguments", "(TypedArray, number[], string)", ErrorCode::Internal);
    Napi::TypedArray array = info[0].As<Napi::TypedArray>();
    Napi::Array shapeArray = info[1].As<Napi::Array>();
    std::vector<int64_t> shape;
    for (uint32_t i = 0; i < shapeArray.Length(); ++i) shape.push_back(integer(shapeArray.Get(i), "Tensor.fromData shape"));
    const c10::ScalarType dtype = stcn::parseDtype(string(info[2], "Tensor.fromData dtype"));
    const uint8_t* data = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    c10::InferenceMode guard;
    return wrap(env, stcn::tensorFromHost(data, array.ByteLength(), shape, dtype));
  });
}

Napi::Value TensorWrap::shape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto sizes = tensor().sizes();
    Napi::Array out = Napi::Array::New(info.Env(), sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(sizes[i])));
    return out;
  });
}

Napi::Value TensorWrap::dtype(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), stcn::dtypeName(tensor().scalar_type())); });
}

Napi::Value TensorWrap::device(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), stcn::deviceName(tensor().device())); });
}

Napi::Value TensorWrap::isDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed()); }

// A copy of the data in a typed array of the tensor's element type (float16/bfloat16 -> Float32Array,
// bool -> Uint8Array). CUDA tensors are copied to the host first (this waits for the device).
Napi::Value TensorWrap::toTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    c10::InferenceMode guard;
    at::Tensor source = tensor();
    napi_typedarray_type type;
    switch (source.scalar_type()) {
      case at::kFloat: type = napi_float32_array; break;
      case at::kDouble: type = napi_float64_array; break;
      case at::kHalf:
      case at::kBFloat16:
        source = source.to(at::kFloat);
        type = napi_float32_array;
        break;
      case at::kByte:
      case at::kBool: type = napi_uint8_array; break;
      case at::kChar: type = napi_int8_array; break;
      case at::kShort: type = napi_int16_array; break;
      case at::kInt: type = napi_int32_array; break;
      case at::kLong: type = napi_bigint64_array; break;
      default: throw Error(ErrorCode::Tensor, "toTypedArray: unsupported dtype " + stcn::dtypeName(source.scalar_type()));
    }
    const size_t length = static_cast<size_t>(source.numel());
    const size_t bytes = length * source.element_size();
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
    stcn::copyToHost(source, buffer.Data(), bytes);
    napi_value result;
    NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, length, buffer, 0, &result), Napi::Value());
    return Napi::Value(env, result);
  });
}

// to(device): Promise<Tensor>, the copy runs off the main thread. Same device -> a new handle, no copy.
Napi::Value TensorWrap::to(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guardPromise(env, [&]() -> Napi::Value {
    const at::Tensor source = tensor();
    const std::string name = string(info[0], "Tensor.to device");
    return PromiseWorker<at::Tensor>::start(
        env,
        [source, name]() {
          c10::Device device = stcn::parseDevice(name);
          c10::InferenceMode guard;
          return source.device() == device ? source : source.to(device);
        },
        [](Napi::Env env, at::Tensor& result) -> Napi::Value { return wrap(env, result); }, {info.This()});
  });
}

Napi::Value TensorWrap::dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

}  // namespace binding
