#include "net/work_queue.h"

#include <algorithm>

namespace aipool::net {

WorkQueue::WorkQueue(std::size_t threads) {
  state_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) state_.push_back(std::make_unique<Thread>());
  threads_.reserve(threads);
  for (auto& s : state_) threads_.emplace_back([this, t = s.get()] { run(*t); });
}

WorkQueue::~WorkQueue() { shutdown(); }

void WorkQueue::submit(std::function<void()> fn) {
  Thread* taker = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty() && queue_.empty()) {
      taker = idle_.back();
      idle_.pop_back();
      taker->task = std::move(fn);
      taker->has_task = true;
    } else {
      queue_.push_back(std::move(fn));
    }
  }
  if (taker != nullptr) taker->wake.notify_one();
}

void WorkQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (Thread* t : idle_) t->wake.notify_one();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t WorkQueue::idle_threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

void WorkQueue::run(Thread& self) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    std::function<void()> fn;
    if (self.has_task) {
      fn = std::move(self.task);
      self.task = nullptr;
      self.has_task = false;
    } else if (!queue_.empty()) {
      fn = std::move(queue_.front());
      queue_.pop_front();
    } else if (stopping_) {
      return;
    } else {
      idle_.push_back(&self);
      self.wake.wait(lock, [&] { return self.has_task || stopping_; });
      if (!self.has_task) idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
      continue;
    }
    lock.unlock();
    fn();
    fn = nullptr;  // the closure's captures die outside the lock, before the next wait
    lock.lock();
  }
}

}  // namespace aipool::net
