#include "core/slot_gate.h"

#include "core/check.h"

namespace aipool {

SlotGate::SlotGate(const std::vector<Entry>& entries) {
  for (const Entry& entry : entries) slots_[entry.key].capacity += entry.capacity;
}

bool SlotGate::try_acquire(const Key& key) {
  auto it = slots_.find(key);
  if (it == slots_.end() || it->second.in_use >= it->second.capacity) return false;
  ++it->second.in_use;
  return true;
}

void SlotGate::release(const Key& key) {
  auto it = slots_.find(key);
  AIPOOL_CHECK(it != slots_.end() && it->second.in_use > 0, "slot gate: release without acquire");
  --it->second.in_use;
}

std::uint32_t SlotGate::in_use(const Key& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.in_use;
}

std::uint32_t SlotGate::capacity(const Key& key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.capacity;
}

}  // namespace aipool
