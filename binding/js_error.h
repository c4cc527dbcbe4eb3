// Node-API side of error handling: stcn::Error -> JavaScript Error with a stable `code`. Every binding
// entry point goes through `guard` (synchronous) or `guardPromise` (Promise-returning).
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

// The same for Promise-returning natives: `body` reads its arguments and starts the work; anything it
// throws becomes a rejected Promise with a code (never a synchronous throw).
template <typename F>
Napi::Value guardPromise(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(e.Value());
    return deferred.Promise();
  } catch (...) {
    return rejected(env, stcn::currentException(stcn::ErrorCode::Internal, ""));
  }
}

}  // namespace binding
