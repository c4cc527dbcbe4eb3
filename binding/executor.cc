#include "binding/executor.h"

#include <chrono>
#include <cstdlib>

namespace binding {

static int laneCount() {
  const char* env = std::getenv("STCN_LANES");
  const int n = env ? std::atoi(env) : 0;
  return n >= 1 && n <= 64 ? n : 2;
}

Executor::Executor(Napi::Env env) {
  completions_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                               "stcn.executor", 0, 1);
  completions_.Unref(env);  // idle lanes must not keep the process alive
  const int n = laneCount();
  for (int i = 0; i < n; ++i) {
    auto lane = std::make_unique<Lane>();
    Lane* raw = lane.get();
    lane->thread = std::thread([this, raw]() { loop(*raw); });
    lanes_.push_back(std::move(lane));
  }
}

Executor::~Executor() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mutex);
      lane->stop = true;
    }
    lane->wake.notify_all();
  }
  // Jobs still queued are left unreleased on purpose: they hold JavaScript references that must not
  // be deleted while the environment is being torn down.
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void Executor::loop(Lane& lane) {
  for (;;) {
    Job* job = nullptr;
    // Back-to-back calls (await run(); run(); ...) submit the next job right after the previous
    // completion: poll briefly before sleeping, so the lane does not pay a futex wake-up (and the
    // scheduler does not pile the lane onto the main thread's core) for every call.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
    while (lane.queued.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
    {
      std::unique_lock<std::mutex> lock(lane.mutex);
      lane.wake.wait(lock, [&]() { return lane.stop || !lane.queue.empty(); });
      if (lane.stop) return;
      job = lane.queue.front();
      lane.queue.pop_front();
      lane.queued.fetch_sub(1, std::memory_order_relaxed);
    }
    job->work();  // never throws: PromiseWorker catches everything
    // If this fails (napi_closing: the environment is shutting down) the job is left unreleased on
    // purpose: deleting it here would delete JavaScript references off the main thread.
    completions_.NonBlockingCall(job, [this](Napi::Env env, Napi::Function, Job* finished) {
      Napi::HandleScope scope(env);
      finished->done();
      delete finished;
      if (--inFlight_ == 0) completions_.Unref(env);
    });
  }
}

int Executor::assignLane() {
  const int lane = nextLane_;
  nextLane_ = (nextLane_ + 1) % lanes();
  return lane;
}

void Executor::submit(Napi::Env env, int index, std::function<void()> work, std::function<void()> done) {
  if (inFlight_++ == 0) completions_.Ref(env);
  Lane& lane = *lanes_[static_cast<size_t>(index) % lanes_.size()];
  {
    std::lock_guard<std::mutex> lock(lane.mutex);
    lane.queue.push_back(new Job{std::move(work), std::move(done)});
    lane.queued.fetch_add(1, std::memory_order_release);
  }
  lane.wake.notify_one();
}

}  // namespace binding
