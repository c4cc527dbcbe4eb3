// JavaScript values <-> TorchScript IValues. Arguments are converted against the method's declared
// types, so a JavaScript number becomes an `int` or a `float` as the method expects.
#pragma once

#include <napi.h>
#include <torch/script.h>

#include <string>

namespace binding {

// Converts `value` to `type`; `where` names the argument in error messages (ERR_STCN_ARGUMENT).
c10::IValue toIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& where);

// Tensors become Tensor handles (no copy); int/float -> number; bool; str; None -> null;
// list/tuple -> Array; Dict[str, V] -> plain object.
Napi::Value fromIValue(Napi::Env env, const c10::IValue& value);

}  // namespace binding
