// JavaScript `Tensor` handle over an at::Tensor. The handle owns a reference to the tensor (LibTorch
// refcounting); data crosses the boundary only by copy (fromData, toTypedArray).
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

namespace binding {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  // Wraps `tensor` in a new JavaScript Tensor object (no copy).
  static Napi::Object wrap(Napi::Env env, at::Tensor tensor);
  // The tensor behind a JavaScript value, or nullptr if it is not a (live) Tensor handle.
  static TensorWrap* unwrap(const Napi::Value& value);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  // ERR_STCN_DISPOSED if disposed.
  const at::Tensor& tensor() const;
  bool disposed() const { return !tensor_.defined(); }

 private:
  static Napi::Value fromData(const Napi::CallbackInfo& info);
  Napi::Value shape(const Napi::CallbackInfo& info);
  Napi::Value dtype(const Napi::CallbackInfo& info);
  Napi::Value device(const Napi::CallbackInfo& info);
  Napi::Value isDisposed(const Napi::CallbackInfo& info);
  Napi::Value toTypedArray(const Napi::CallbackInfo& info);
  Napi::Value to(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  void set(at::Tensor tensor);
  void release();

  napi_env env_ = nullptr;
  at::Tensor tensor_;
  int64_t externalBytes_ = 0;
};

}  // namespace binding
