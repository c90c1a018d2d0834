// File: worker_pool.h
// The live workers, the keys they advertise, one RotationQueue per key and the
// CapacityLedger: everything selection needs (CONN, CAP, SEL rules).
//
// Contract: single-threaded. Keys are interned to dense indices; an index stays the
// key's until the key is forgotten (CAP-6), and a forgotten index is handed to the
// next new key. Worker and Seat addresses are stable while the worker is in the
// pool. Worker ids are never accepted twice (CONN-3).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/capacity_ledger.h"
#include "core/rotation_queue.h"
#include "seams/types.h"

namespace aipool {

struct Worker {
  WorkerId id = 0;
  std::vector<Seat> seats;    // one per advertised key; never resized after the join
  std::vector<std::uint64_t> tasks;  // numbers of its open and abandoned attempts (TASK-1)
  std::string address;
  Micros joined_at = 0;

  Seat* seat_for(std::uint32_t key) {
    for (Seat& seat : seats) {
      if (seat.key == key) return &seat;
    }
    return nullptr;
  }
};

class WorkerPool {
 public:
  std::optional<std::uint32_t> find_key(const Key& key) const;
  // The key's index; a new key takes a forgotten index first, else the next one.
  std::uint32_t intern_key(const Key& key);
  // CAP-6: drops a key no worker offers; its index becomes free. REQUIRES: the key
  // is live and its queue empty (checked).
  void forget_key(std::uint32_t index);
  bool key_live(std::uint32_t index) const { return index < live_.size() && live_[index]; }
  const Key& key(std::uint32_t index) const { return keys_.at(index); }
  // Indices handed out so far, live or free: every index is below this.
  std::size_t key_slots() const { return keys_.size(); }
  std::size_t key_count() const { return key_index_.size(); }  // live keys

  bool id_ever_used(WorkerId id) const { return used_ids_.contains(id); }
  // REQUIRES: !id_ever_used(id); each key index interned and listed once; capacities > 0.
  Worker& add(WorkerId id, std::string address, Micros joined_at,
              const std::vector<std::pair<std::uint32_t, std::uint32_t>>& key_capacities);
  // Takes the worker out of every queue and the ledger and hands it to the caller.
  // nullptr if it is not live.
  std::unique_ptr<Worker> remove(WorkerId id);
  Worker* find(WorkerId id);
  const Worker* find(WorkerId id) const;
  // Live worker ids, ascending.
  std::vector<WorkerId> worker_ids() const;

  template <typename Eligible>
  Seat* pick(std::uint32_t key, Eligible&& eligible) {
    return queues_[key].pick(std::forward<Eligible>(eligible));
  }
  void take_slot(Seat& seat);
  void give_slot(Seat& seat);

  const RotationQueue& queue(std::uint32_t key) const { return queues_.at(key); }
  const CapacityLedger& ledger() const { return ledger_; }

 private:
  // By hash, not by order: a lookup hashes the model name once instead of
  // comparing it with a handful of others (model ids often share a prefix).
  struct KeyHash {
    std::size_t operator()(const Key& key) const {
      return std::hash<std::string>{}(key.model) * 31 + static_cast<std::size_t>(key.pipeline);
    }
  };
  std::unordered_map<Key, std::uint32_t, KeyHash> key_index_;
  std::vector<Key> keys_;                // by index; empty for a free index
  std::vector<bool> live_;               // by index
  std::vector<std::uint32_t> free_keys_; // forgotten indices, reused last first
  std::vector<RotationQueue> queues_;
  CapacityLedger ledger_;
  std::unordered_map<WorkerId, std::unique_ptr<Worker>> workers_;  // lookups only, never iterated for decisions
  std::unordered_set<WorkerId> used_ids_;
};

}  // namespace aipool
