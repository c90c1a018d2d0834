// The worker's jobs waiting for a slot (slot_waits.h).
#include "net/slot_waits.h"

#include <utility>
#include <vector>

#include "core/check.h"
#include "core/slot_gate.h"

namespace aipool::net {

SlotWaits::SlotWaits(std::chrono::milliseconds bound) : bound_(bound) {
  if (bound_.count() > 0) thread_ = std::thread([this] { expire_loop(); });
}

SlotWaits::~SlotWaits() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SlotWaits::add(const Key& key, std::function<void()> start, std::function<void(const std::string&)> refuse) {
  AIPOOL_CHECK(enabled(), "SlotWaits::add with a bound of 0");
  {
    std::lock_guard lock(mutex_);
    waiting_[key].push_back(Entry{std::move(start), std::move(refuse), Clock::now() + bound_});
  }
  changed_.notify_all();
}

std::optional<SlotWaits::Entry> SlotWaits::take(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = waiting_.find(key);
  if (it == waiting_.end() || it->second.empty()) return std::nullopt;
  Entry entry = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) waiting_.erase(it);
  return entry;
}

void SlotWaits::refuse_all(const std::string& reason) {
  std::map<Key, std::deque<Entry>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(waiting_);
  }
  for (auto& [key, entries] : all) {
    for (Entry& entry : entries) entry.refuse(reason);
  }
}

std::size_t SlotWaits::waiting() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [key, entries] : waiting_) n += entries.size();
  return n;
}

// Entries of one key are in deadline order (one bound for all), so the fronts hold
// the earliest deadlines.
void SlotWaits::expire_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::optional<Clock::time_point> next;
    for (const auto& [key, entries] : waiting_) {
      if (!next || entries.front().deadline < *next) next = entries.front().deadline;
    }
    if (!next) {
      changed_.wait(lock);
      continue;
    }
    if (Clock::now() < *next) {
      changed_.wait_until(lock, *next);
      continue;
    }
    std::vector<Entry> expired;
    const Clock::time_point now = Clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      while (!it->second.empty() && it->second.front().deadline <= now) {
        expired.push_back(std::move(it->second.front()));
        it->second.pop_front();
      }
      it = it->second.empty() ? waiting_.erase(it) : std::next(it);
    }
    lock.unlock();
    for (Entry& entry : expired) entry.refuse(std::string(SlotGate::kAtCapacity));
    lock.lock();
  }
}

}  // namespace aipool::net
