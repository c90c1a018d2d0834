#include "core/worker_pool.h"

#include <algorithm>

#include "core/check.h"

namespace aipool {

std::optional<std::uint32_t> WorkerPool::find_key(const Key& key) const {
  auto it = key_index_.find(key);
  if (it == key_index_.end()) return std::nullopt;
  return it->second;
}

std::uint32_t WorkerPool::intern_key(const Key& key) {
  if (auto it = key_index_.find(key); it != key_index_.end()) return it->second;
  std::uint32_t index = 0;
  if (!free_keys_.empty()) {
    index = free_keys_.back();
    free_keys_.pop_back();
    keys_[index] = key;
    live_[index] = true;
  } else {
    index = static_cast<std::uint32_t>(keys_.size());
    keys_.push_back(key);
    live_.push_back(true);
    queues_.emplace_back();
    ledger_.resize(keys_.size());
  }
  key_index_.emplace(key, index);
  return index;
}

void WorkerPool::forget_key(std::uint32_t index) {
  AIPOOL_CHECK(key_live(index), "pool: forgetting a key that is not live");
  AIPOOL_CHECK(queues_[index].empty(), "pool: forgetting a key that a worker offers");
  const CapacityLedger::Totals& totals = ledger_.totals(index);
  AIPOOL_CHECK(totals.capacity == 0 && totals.in_use == 0, "pool: forgetting a key with capacity");
  key_index_.erase(keys_[index]);
  keys_[index] = Key{};             // frees the model name
  queues_[index] = RotationQueue{};  // and the queue's memory
  live_[index] = false;
  free_keys_.push_back(index);
}

Worker& WorkerPool::add(WorkerId id, std::string address, Micros joined_at,
                        const std::vector<std::pair<std::uint32_t, std::uint32_t>>& key_capacities) {
  AIPOOL_CHECK(!id_ever_used(id), "pool: worker id reused");
  used_ids_.insert(id);
  auto worker = std::make_unique<Worker>();
  worker->id = id;
  worker->address = std::move(address);
  worker->joined_at = joined_at;
  worker->seats.reserve(key_capacities.size());
  for (const auto& [key, capacity] : key_capacities) {
    AIPOOL_CHECK(key < keys_.size(), "pool: key not interned");
    AIPOOL_CHECK(capacity > 0, "pool: zero capacity seat");
    worker->seats.push_back(Seat{id, key, capacity, 0, 0, worker.get(), {}});
  }
  for (Seat& seat : worker->seats) {
    queues_[seat.key].enter(seat);
    ledger_.add_capacity(seat.key, seat.capacity);
  }
  Worker& ref = *worker;
  workers_.emplace(id, std::move(worker));
  return ref;
}

std::unique_ptr<Worker> WorkerPool::remove(WorkerId id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return nullptr;
  std::unique_ptr<Worker> worker = std::move(it->second);
  workers_.erase(it);
  for (Seat& seat : worker->seats) {
    queues_[seat.key].leave(seat);
    ledger_.remove_capacity(seat.key, seat.capacity, seat.in_use);
  }
  return worker;
}

Worker* WorkerPool::find(WorkerId id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : it->second.get();
}

const Worker* WorkerPool::find(WorkerId id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : it->second.get();
}

std::vector<WorkerId> WorkerPool::worker_ids() const {
  std::vector<WorkerId> ids;
  ids.reserve(workers_.size());
  for (const auto& entry : workers_) ids.push_back(entry.first);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void WorkerPool::take_slot(Seat& seat) {
  AIPOOL_CHECK(seat.in_use < seat.capacity, "pool: slot taken on a full seat");
  ledger_.take_slot(seat.key);
  ++seat.in_use;
  queues_[seat.key].slots_changed(seat);
}

void WorkerPool::give_slot(Seat& seat) {
  AIPOOL_CHECK(seat.in_use > 0, "pool: slot given back on an idle seat");
  ledger_.give_slot(seat.key);
  --seat.in_use;
  queues_[seat.key].slots_changed(seat);
}

}  // namespace aipool
