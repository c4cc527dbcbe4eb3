#include "binding/convert.h"

#include <cmath>

#include "binding/args.h"
#include "binding/tensor_wrap.h"
#include "errors.h"

namespace binding {

using stcn::Error;
using stcn::ErrorCode;

static std::string describe(const Napi::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsUndefined()) return "undefined";
  if (value.IsBoolean()) return "a boolean";
  if (value.IsNumber()) return "a number";
  if (value.IsBigInt()) return "a bigint";
  if (value.IsString()) return "a string";
  if (value.IsArray()) return "an array";
  if (value.IsTypedArray()) return "a typed array (wrap it with Tensor.fromTypedArray)";
  if (TensorWrap::unwrap(value)) return "a Tensor";
  return "an object";
}

static Error mismatch(const Napi::Value& value, const c10::TypePtr& type, const std::string& where) {
  return Error(ErrorCode::Argument, where + ": expected " + type->annotation_str() + ", got " + describe(value));
}

static int64_t toInt(const Napi::Value& value, const c10::TypePtr& type, const std::string& where) {
  if (value.IsBigInt()) {
    bool lossless = false;
    int64_t v = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Error(ErrorCode::Argument, where + ": bigint out of int64 range");
    return v;
  }
  if (!value.IsNumber()) throw mismatch(value, type, where);
  const double v = value.As<Napi::Number>().DoubleValue();
  if (!isInt64(v)) throw Error(ErrorCode::Argument, where + ": expected an integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

static c10::IValue inferIValue(const Napi::Value& value, const std::string& where);

c10::IValue toIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& where) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::TensorType: {
      TensorWrap* wrap = TensorWrap::unwrap(value);
      if (!wrap) throw mismatch(value, type, where);
      if (wrap->disposed()) throw Error(ErrorCode::Disposed, where + ": tensor was disposed");
      return wrap->tensor();
    }
    case TypeKind::IntType:
      return toInt(value, type, where);
    case TypeKind::FloatType:
      if (!value.IsNumber()) throw mismatch(value, type, where);
      return value.As<Napi::Number>().DoubleValue();
    case TypeKind::NumberType:
      if (!value.IsNumber()) throw mismatch(value, type, where);
      {
        const double v = value.As<Napi::Number>().DoubleValue();
        if (std::floor(v) == v && std::fabs(v) < 9007199254740992.0) return static_cast<int64_t>(v);
        return v;
      }
    case TypeKind::BoolType:
      if (!value.IsBoolean()) throw mismatch(value, type, where);
      return value.As<Napi::Boolean>().Value();
    case TypeKind::StringType:
      if (!value.IsString()) throw mismatch(value, type, where);
      return value.As<Napi::String>().Utf8Value();
    case TypeKind::DeviceObjType:
      if (!value.IsString()) throw mismatch(value, type, where);
      return c10::Device(value.As<Napi::String>().Utf8Value());
    case TypeKind::NoneType:
      if (!value.IsNull() && !value.IsUndefined()) throw mismatch(value, type, where);
      return c10::IValue();
    case TypeKind::OptionalType:
      if (value.IsNull() || value.IsUndefined()) return c10::IValue();
      return toIValue(value, type->expectRef<c10::OptionalType>().getElementType(), where);
    case TypeKind::ListType: {
      if (!value.IsArray()) throw mismatch(value, type, where);
      const c10::TypePtr element = type->expectRef<c10::ListType>().getElementType();
      Napi::Array array = value.As<Napi::Array>();
      c10::impl::GenericList list(element);
      list.reserve(array.Length());
      for (uint32_t i = 0; i < array.Length(); ++i) {
        list.push_back(toIValue(array.Get(i), element, where + "[" + std::to_string(i) + "]"));
      }
      return list;
    }
    case TypeKind::TupleType: {
      if (!value.IsArray()) throw mismatch(value, type, where);
      const auto& elements = type->expectRef<c10::TupleType>().elements();
      Napi::Array array = value.As<Napi::Array>();
      if (array.Length() != elements.size()) {
        throw Error(ErrorCode::Argument, where + ": expected a tuple of " + std::to_string(elements.size()) +
                                             " items, got " + std::to_string(array.Length()));
      }
      std::vector<c10::IValue> items;
      for (uint32_t i = 0; i < array.Length(); ++i) {
        items.push_back(toIValue(array.Get(i), elements[i], where + "[" + std::to_string(i) + "]"));
      }
      return c10::ivalue::Tuple::create(std::move(items));
    }
    case TypeKind::DictType: {
      const auto& dictType = type->expectRef<c10::DictType>();
      if (dictType.getKeyType()->kind() != TypeKind::StringType) {
        throw Error(ErrorCode::Argument, where + ": only Dict[str, V] arguments are supported");
      }
      if (!value.IsObject() || value.IsArray() || TensorWrap::unwrap(value)) throw mismatch(value, type, where);
      Napi::Object object = value.As<Napi::Object>();
      Napi::Array keys = object.GetPropertyNames();
      c10::impl::GenericDict dict(dictType.getKeyType(), dictType.getValueType());
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
        dict.insert(key, toIValue(object.Get(key), dictType.getValueType(), where + "." + key));
      }
      return dict;
    }
    case TypeKind::AnyType:
      return inferIValue(value, where);
    default:
      throw Error(ErrorCode::Argument, where + ": arguments of type " + type->annotation_str() + " are not supported");
  }
}

static c10::IValue inferIValue(const Napi::Value& value, const std::string& where) {
  if (TensorWrap::unwrap(value)) return toIValue(value, c10::TensorType::get(), where);
  if (value.IsNull() || value.IsUndefined()) return c10::IValue();
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value();
  if (value.IsString()) return value.As<Napi::String>().Utf8Value();
  if (value.IsNumber() || value.IsBigInt()) return toIValue(value, c10::NumberType::get(), where);
  if (value.IsArray()) {
    Napi::Array array = value.As<Napi::Array>();
    std::vector<c10::IValue> items;
    for (uint32_t i = 0; i < array.Length(); ++i) items.push_back(inferIValue(array.Get(i), where + "[" + std::to_string(i) + "]"));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  throw Error(ErrorCode::Argument, where + ": cannot convert " + describe(value));
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& value) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    if (!tensor.defined()) return env.Null();
    return TensorWrap::wrap(env, tensor);
  }
  if (value.isNone()) return env.Null();
  if (value.isInt()) {
    const int64_t v = value.toInt();
    if (v > 9007199254740991LL || v < -9007199254740991LL) return Napi::BigInt::New(env, v);
    return Napi::Number::New(env, static_cast<double>(v));
  }
  if (value.isDouble()) return Napi::Number::New(env, value.toDouble());
  if (value.isBool()) return Napi::Boolean::New(env, value.toBool());
  if (value.isString()) return Napi::String::New(env, value.toStringRef());
  if (value.isDevice()) return Napi::String::New(env, value.toDevice().str());
  if (value.isList()) {
    auto list = value.toListRef();
    Napi::Array out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, list[i]));
    return out;
  }
  if (value.isTuple()) {
    const auto& items = value.toTupleRef().elements();
    Napi::Array out = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, items[i]));
    return out;
  }
  if (value.isGenericDict()) {
    Napi::Object out = Napi::Object::New(env);
    for (const auto& entry : value.toGenericDict()) {
      const c10::IValue& key = entry.key();
      std::string name = key.isString() ? key.toStringRef() : key.isInt() ? std::to_string(key.toInt()) : "";
      if (name.empty() && !key.isString()) throw Error(ErrorCode::Run, "unsupported dict key type " + key.tagKind());
      out.Set(name, fromIValue(env, entry.value()));
    }
    return out;
  }
  throw Error(ErrorCode::Run, "unsupported return value of type " + value.tagKind());
}

}  // namespace binding
