// Reading JavaScript values in the binding: the one set of typed getters every binding file uses.
//
// User input is checked once, in TypeScript (ts/check.ts and the typed wrappers): by the time a value
// reaches the binding, its kind and range are known. The getters below only read; a value of the
// wrong kind is a bug of ours and is reported as ERR_STCN_INTERNAL naming the argument. The one
// exception is input only the engine can judge (a TorchScript method's declared argument types, a
// tensor's dtype/shape): binding/convert.cc and binding/tensor_wrap.cc pass ERR_STCN_ARGUMENT /
// ERR_STCN_TENSOR as `code`.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"

namespace binding {

[[noreturn]] inline void badValue(const std::string& what, const std::string& expected, stcn::ErrorCode code) {
  throw stcn::Error(code, (code == stcn::ErrorCode::Internal ? "internal: " : "") + what + " must be " + expected);
}

// A double that holds an integer exactly representable as int64_t.
inline bool isInt64(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9223372036854775808.0; }

inline double number(const Napi::Value& v, const std::string& what, stcn::ErrorCode code = stcn::ErrorCode::Internal) {
  if (!v.IsNumber()) badValue(what, "a number", code);
  return v.As<Napi::Number>().DoubleValue();
}

inline int64_t integer(const Napi::Value& v, const std::string& what, stcn::ErrorCode code = stcn::ErrorCode::Internal) {
  const double d = number(v, what, code);
  if (!isInt64(d)) badValue(what, "an integer, got " + std::to_string(d), code);
  return static_cast<int64_t>(d);
}

// An integer that fits an int (sizes, counts, thread numbers).
inline int int32(const Napi::Value& v, const std::string& what, stcn::ErrorCode code = stcn::ErrorCode::Internal) {
  const int64_t i = integer(v, what, code);
  if (i < INT32_MIN || i > INT32_MAX) badValue(what, "a 32-bit integer, got " + std::to_string(i), code);
  return static_cast<int>(i);
}

inline bool boolean(const Napi::Value& v, const std::string& what, stcn::ErrorCode code = stcn::ErrorCode::Internal) {
  if (!v.IsBoolean()) badValue(what, "a boolean", code);
  return v.As<Napi::Boolean>().Value();
}

inline std::string string(const Napi::Value& v, const std::string& what, stcn::ErrorCode code = stcn::ErrorCode::Internal) {
  if (!v.IsString()) badValue(what, "a string", code);
  return v.As<Napi::String>().Utf8Value();
}

inline Napi::Object object(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject()) badValue(what, "an object", stcn::ErrorCode::Internal);
  return v.As<Napi::Object>();
}

// The typed-array kind of an element type.
template <typename T>
struct TypedArrayOf;
template <>
struct TypedArrayOf<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "a Uint8Array";
};
template <>
struct TypedArrayOf<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "a Float32Array";
};

// A copy of a typed array's elements (owned by the native side: JavaScript may reuse its array at
// once). `expected` < 0: any length; otherwise the length is an invariant.
template <typename T>
std::vector<T> copyArray(const Napi::Value& v, const std::string& what, int64_t expected = -1) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayOf<T>::type) {
    badValue(what, TypedArrayOf<T>::name, stcn::ErrorCode::Internal);
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  const size_t n = a.ElementLength();
  if (expected >= 0 && n != static_cast<size_t>(expected)) {
    throw stcn::Error(stcn::ErrorCode::Internal,
                      "internal: " + what + " has " + std::to_string(n) + " elements, expected " + std::to_string(expected));
  }
  std::vector<T> out(n);
  if (n) std::memcpy(out.data(), a.Data(), n * sizeof(T));
  return out;
}

// A JavaScript array of labels 0..255.
inline std::vector<uint8_t> labelList(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) badValue(what, "an array of labels 0..255", stcn::ErrorCode::Internal);
  Napi::Array array = v.As<Napi::Array>();
  std::vector<uint8_t> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const int64_t label = integer(array.Get(i), what);
    if (label < 0 || label > 255) badValue(what, "labels 0..255, got " + std::to_string(label), stcn::ErrorCode::Internal);
    out.push_back(static_cast<uint8_t>(label));
  }
  return out;
}

}  // namespace binding
