#include "binding/js_error.h"

namespace binding {

Napi::Error makeError(Napi::Env env, const stcn::Error& error) {
  Napi::Error js = Napi::Error::New(env, error.what());
  js.Set("code", Napi::String::New(env, stcn::errorCodeName(error.code())));
  return js;
}

Napi::Promise rejected(Napi::Env env, const stcn::Error& error) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(makeError(env, error).Value());
  return deferred.Promise();
}

}  // namespace binding
