// The runner engine's job threads (job_threads.h).
#include "exec/job_threads.h"

#include <system_error>

namespace aipool::exec {

JobThreads::~JobThreads() { stop(); }

bool JobThreads::run(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return false;
  if (!idle_.empty()) {
    Thread* taker = idle_.back();
    idle_.pop_back();
    taker->job = std::move(job);
    lock.unlock();
    taker->wake.notify_one();
    return true;
  }
  auto made = std::make_unique<Thread>();
  made->job = std::move(job);
  Thread* raw = made.get();
  try {
    raw->thread = std::thread([this, raw] { loop(*raw); });  // it takes the lock once run() lets go
  } catch (const std::system_error&) {
    return false;
  }
  all_.push_back(std::move(made));
  return true;
}

void JobThreads::stop() {
  std::vector<Thread*> joining;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (Thread* idle : idle_) idle->wake.notify_one();
    for (const auto& t : all_) joining.push_back(t.get());
  }
  for (Thread* t : joining) {
    if (t->thread.joinable()) t->thread.join();
  }
}

std::size_t JobThreads::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return all_.size();
}

std::size_t JobThreads::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

void JobThreads::loop(Thread& self) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    self.wake.wait(lock, [&] { return self.job != nullptr || stopping_; });
    if (self.job == nullptr) return;  // stopping, and nothing was handed over
    std::function<void()> job = std::move(self.job);
    self.job = nullptr;
    lock.unlock();
    job();
    job = nullptr;  // the job's captures die outside the lock
    lock.lock();
    if (stopping_) return;
    idle_.push_back(&self);
  }
}

}  // namespace aipool::exec
