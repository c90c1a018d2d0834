// File: slot_gate.h
// The worker's own capacity per key, shared by all the orchestrators it serves
// (MULTI-2). A job that finds no free slot is answered at once with the worker
// error kAtCapacity instead of being queued on the worker.
//
// Contract: not thread-safe; the worker calls it under its own mutex. Every
// successful try_acquire() has exactly one release() of the same key.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "seams/types.h"

namespace aipool {

class SlotGate {
 public:
  static constexpr std::string_view kAtCapacity = "worker at capacity";

  struct Entry {
    Key key;
    std::uint32_t capacity = 0;
  };
  explicit SlotGate(const std::vector<Entry>& entries);

  bool serves(const Key& key) const { return slots_.contains(key); }
  // Takes a slot for `key`; false when the key is full or not served.
  bool try_acquire(const Key& key);
  void release(const Key& key);
  std::uint32_t in_use(const Key& key) const;
  std::uint32_t capacity(const Key& key) const;

 private:
  struct Slots {
    std::uint32_t capacity = 0;
    std::uint32_t in_use = 0;
  };
  std::map<Key, Slots> slots_;
};

}  // namespace aipool
