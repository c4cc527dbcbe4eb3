// Runs native work off the main thread and settles a Promise with the result.
//
// `work` runs on an executor lane (binding/executor.h) and must not touch JavaScript values; `done`
// runs on the main thread and turns the result into a JavaScript value. Work for one native object
// runs on the lane the object was given when it was created (Executor::assignLane), in submission
// order; work of no particular object runs on lane 0. Objects
// passed as `keepAlive` (the receiver, argument wrappers) stay referenced until the Promise settles,
// so a finalizer can never run while native work uses them. Native exceptions never escape: they
// reject the Promise with a coded Error.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "binding/addon_data.h"
#include "binding/executor.h"
#include "binding/js_error.h"
#include "runtime.h"

namespace binding {

template <typename Result>
class PromiseWorker {
 public:
  using Work = std::function<Result()>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;

  static Napi::Promise start(Napi::Env env, Work work, Done done, std::initializer_list<Napi::Value> keepAlive = {},
                             int lane = 0) {
    auto state = std::make_shared<State>(env, std::move(work), std::move(done));
    for (const Napi::Value& value : keepAlive) {
      if (value.IsObject()) state->keepAlive.push_back(Napi::Persistent(value.As<Napi::Object>()));
    }
    Napi::Promise promise = state->deferred.Promise();
    addonData(env).executor->submit(
        env, lane, [state]() { state->execute(); }, [state, env]() { state->settle(env); });
    return promise;
  }

 private:
  struct State {
    State(Napi::Env env, Work w, Done d) : deferred(Napi::Promise::Deferred::New(env)), work(std::move(w)), done(std::move(d)) {}

    void execute() {
      try {
        stcn::syncThreadSettings();
        result.emplace(work());
      } catch (...) {
        error.emplace(stcn::currentException(stcn::ErrorCode::Internal, ""));
      }
    }

    void settle(Napi::Env env) {
      if (error) {
        deferred.Reject(makeError(env, *error).Value());
      } else {
        try {
          deferred.Resolve(done(env, *result));
        } catch (const Napi::Error& e) {
          deferred.Reject(e.Value());
        } catch (...) {
          deferred.Reject(makeError(env, stcn::currentException(stcn::ErrorCode::Internal, "")).Value());
        }
      }
      keepAlive.clear();
      result.reset();  // free native results on the main thread, now
    }

    Napi::Promise::Deferred deferred;
    Work work;
    Done done;
    std::optional<Result> result;
    std::optional<stcn::Error> error;
    std::vector<Napi::ObjectReference> keepAlive;
  };
};

// Native work without a result: the Promise resolves to undefined.
template <typename F>
Napi::Promise startVoid(Napi::Env env, F work, std::initializer_list<Napi::Value> keepAlive, int lane) {
  return PromiseWorker<bool>::start(
      env,
      [work = std::move(work)]() {
        work();
        return true;
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, keepAlive, lane);
}

}  // namespace binding
