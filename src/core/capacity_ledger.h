// File: capacity_ledger.h
// The orchestrator's capacity per key: the sum of the live workers' advertised
// capacities (CAP-1) and the sum of their slots in use (CAP-2). A key is offered
// iff its capacity is above 0 (CAP-3).
//
// Contract: single-threaded; every add has exactly one matching remove (CAP-5) and
// every take exactly one matching give (CAP-4). Violations abort: they are bugs.
#pragma once

#include <cstdint>
#include <vector>

namespace aipool {

class CapacityLedger {
 public:
  struct Totals {
    std::uint64_t capacity = 0;
    std::uint64_t in_use = 0;
  };

  // Makes room for key indices below `keys`.
  void resize(std::size_t keys) {
    if (totals_.size() < keys) totals_.resize(keys);
  }
  void add_capacity(std::uint32_t key, std::uint32_t capacity);
  // Removes a leaving seat: its capacity and whatever slots it still held.
  void remove_capacity(std::uint32_t key, std::uint32_t capacity, std::uint32_t in_use);
  void take_slot(std::uint32_t key);
  void give_slot(std::uint32_t key);

  const Totals& totals(std::uint32_t key) const { return totals_.at(key); }
  bool offers(std::uint32_t key) const { return key < totals_.size() && totals_[key].capacity > 0; }

 private:
  std::vector<Totals> totals_;
};

}  // namespace aipool
