#include "net/real_clock.h"

#include <chrono>
#include <limits>

namespace aipool::net {

RealClock::RealClock(std::function<void(TimerId)> on_fire)
    : on_fire_(std::move(on_fire)), thread_([this] { run(); }) {}

RealClock::~RealClock() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Micros RealClock::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void RealClock::arm_timer(TimerId id, Micros at) {
  bool earliest = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = deadline_of_.find(id);
    if (it != deadline_of_.end()) {
      due_.erase({it->second, id});
      it->second = at;
    } else {
      deadline_of_.emplace(id, at);
    }
    due_.insert({at, id});
    earliest = at < wakes_at_;  // else the thread wakes in time by itself
    if (earliest) wakes_at_ = at;
  }
  if (earliest) wake_.notify_one();
}

void RealClock::cancel_timer(TimerId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) return;
  due_.erase({it->second, id});
  deadline_of_.erase(it);
}

void RealClock::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      wakes_at_ = std::numeric_limits<Micros>::max();
      wake_.wait(lock);
      continue;
    }
    const auto [at, id] = *due_.begin();
    const Micros now_us = now();
    if (at > now_us) {
      wakes_at_ = at;
      wake_.wait_for(lock, std::chrono::microseconds(at - now_us));
      continue;
    }
    due_.erase(due_.begin());
    deadline_of_.erase(id);
    lock.unlock();
    on_fire_(id);
    lock.lock();
  }
}

}  // namespace aipool::net
