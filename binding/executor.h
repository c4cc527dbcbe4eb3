// Where native work runs: a few dedicated threads ("lanes"), not the libuv pool.
//
// Why: LibTorch's OpenMP keeps a thread team per calling thread. On the libuv pool consecutive calls
// land on different threads, each with its own (cold) team, and a 2-core machine ran a small conv net
// about 2x slower than Python. Here all work for one native object (a module, a session) goes to the
// same lane, so its team stays warm; different objects spread over the lanes and can run in
// parallel. It also keeps long video loops off the libuv pool, which fs and dns share.
//
// Lanes: STCN_LANES (default 2). Work runs on a lane; its completion runs on the main thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace binding {

class Executor {
 public:
  explicit Executor(Napi::Env env);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // A lane for a new native object (handed out round-robin); the object keeps it for its lifetime,
  // so all its work runs on one thread. Nothing is recorded here, so nothing grows. Main thread only.
  int assignLane();
  // Runs `work` on lane `lane`, then `done` on the main thread. Main thread only.
  void submit(Napi::Env env, int lane, std::function<void()> work, std::function<void()> done);

  int lanes() const { return static_cast<int>(lanes_.size()); }

 private:
  struct Job {
    std::function<void()> work;
    std::function<void()> done;
  };
  struct Lane {
    std::thread thread;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job*> queue;
    std::atomic<int> queued{0};  // queue.size(), readable without the lock
    bool stop = false;
  };
  void loop(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  int nextLane_ = 0;                                // main thread only
  int inFlight_ = 0;                                // main thread only
  Napi::ThreadSafeFunction completions_;
};

}  // namespace binding
