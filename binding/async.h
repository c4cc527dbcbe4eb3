// Runs native work off the main thread and settles a Promise with the result.
//
// `work` runs on a libuv worker thread and must not touch JavaScript values; `done` runs on the main
// thread and turns the result into a JavaScript value. Objects passed as `keepAlive` (the receiver,
// argument wrappers) stay referenced until the Promise settles, so a finalizer can never run while
// native work uses them. Native exceptions never escape: they reject the Promise with a coded Error.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "binding/js_error.h"
#include "runtime.h"

namespace binding {

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;

  static Napi::Promise start(Napi::Env env, const char* name, Work work, Done done,
                             std::initializer_list<Napi::Value> keepAlive = {}) {
    auto* worker = new PromiseWorker(env, name, std::move(work), std::move(done));
    for (const Napi::Value& value : keepAlive) {
      if (value.IsObject()) worker->keepAlive_.push_back(Napi::Persistent(value.As<Napi::Object>()));
    }
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      stcn::syncThreadSettings();
      result_.emplace(work_());
    } catch (...) {
      error_.emplace(stcn::currentException(stcn::ErrorCode::Internal, ""));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) {
      deferred_.Reject(makeError(env, *error_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_(env, *result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(makeError(env, stcn::currentException(stcn::ErrorCode::Internal, "")).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), done_(std::move(done)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::optional<Result> result_;
  std::optional<stcn::Error> error_;
  std::vector<Napi::ObjectReference> keepAlive_;
};

}  // namespace binding
