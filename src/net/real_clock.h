// File: real_clock.h
// Production binding of the Clock seam: the steady clock, and one timer thread that
// calls `on_fire(id)` for each due timer. on_fire runs on the timer thread with no
// lock of this class held, so it may take the core's mutex (TIME-1).
// Arming a timer wakes the timer thread only when it is due before the time the
// thread already sleeps until: the core re-arms long timers on every job, and a
// wake-up per arm would cost two context switches per job.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "seams/clock.h"

namespace aipool::net {

class RealClock final : public Clock {
 public:
  explicit RealClock(std::function<void(TimerId)> on_fire);
  ~RealClock() override;  // stops the timer thread; pending timers never fire
  RealClock(const RealClock&) = delete;
  RealClock& operator=(const RealClock&) = delete;

  Micros now() const override;
  void arm_timer(TimerId id, Micros at) override;
  void cancel_timer(TimerId id) override;

 private:
  void run();

  std::function<void(TimerId)> on_fire_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<TimerId, Micros> deadline_of_;
  std::set<std::pair<Micros, TimerId>> due_;
  bool stopping_ = false;
  // When the timer thread wakes next by itself (Micros max while it waits for a
  // first timer). Guarded by mutex_.
  Micros wakes_at_ = 0;
  std::thread thread_;
};

}  // namespace aipool::net
