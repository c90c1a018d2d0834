// File: slot_waits.h
// The worker's jobs that found their key full (MULTI-2): each waits, first come
// first served per key, at most a bound for a slot to free. When a slot frees the
// worker takes the oldest waiting job of that key and starts it; when the bound
// passes first, the job is refused (`worker at capacity`), and its orchestrator
// tries another worker. A worker that serves several orchestrators meets this
// whenever their jobs arrive together: none of them sees the others' jobs.
//
// Contract: thread-safe. add() and take() are meant to be called under the lock
// that guards the worker's SlotGate, so that a slot freed after a failed acquire
// always meets the job that failed. Expiry runs on the object's own thread and calls
// each entry's `refuse` without holding any lock of this object. Each added entry
// ends exactly once: taken (its `start` is the caller's to call), refused when its
// bound passes, or refused by refuse_all(). The destructor stops the thread; it does
// not refuse what still waits (call refuse_all() first).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "seams/types.h"

namespace aipool::net {

class SlotWaits {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::function<void()> start;                     // runs the job (its slot already taken)
    std::function<void(const std::string&)> refuse;  // posts its refusal with this error
    Clock::time_point deadline;
  };

  // bound 0: nothing waits (enabled() is false; do not add()).
  explicit SlotWaits(std::chrono::milliseconds bound);
  ~SlotWaits();
  SlotWaits(const SlotWaits&) = delete;
  SlotWaits& operator=(const SlotWaits&) = delete;

  bool enabled() const { return bound_.count() > 0; }
  // Queues a job of `key` behind the others of that key. REQUIRES: enabled().
  void add(const Key& key, std::function<void()> start, std::function<void(const std::string&)> refuse);
  // The oldest job still waiting for `key`, removed; nullopt when none.
  std::optional<Entry> take(const Key& key);
  // Refuses every waiting job with `reason` (a stop), on the caller's thread.
  void refuse_all(const std::string& reason);
  std::size_t waiting() const;

 private:
  void expire_loop();

  const std::chrono::milliseconds bound_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<Key, std::deque<Entry>> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aipool::net
