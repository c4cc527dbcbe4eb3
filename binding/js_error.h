// Node-API side of error handling: stcn::Error -> JavaScript Error with a stable `code`.
#pragma once

#include <napi.h>

#include "errors.h"

namespace binding {

Napi::Error makeError(Napi::Env env, const stcn::Error& error);

// Runs `body` on the main thread; any native exception becomes a thrown JavaScript Error with a code.
template <typename F>
Napi::Value guard(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw makeError(env, stcn::currentException(stcn::ErrorCode::Internal, ""));
  }
}

// A rejected Promise (Promise-returning natives reject rather than throw).
Napi::Promise rejected(Napi::Env env, const stcn::Error& error);

}  // namespace binding
