#include "core/capacity_ledger.h"

#include "core/check.h"

namespace aipool {

void CapacityLedger::add_capacity(std::uint32_t key, std::uint32_t capacity) {
  AIPOOL_CHECK(key < totals_.size(), "ledger: unknown key");
  totals_[key].capacity += capacity;
}

void CapacityLedger::remove_capacity(std::uint32_t key, std::uint32_t capacity,
                                     std::uint32_t in_use) {
  AIPOOL_CHECK(key < totals_.size(), "ledger: unknown key");
  Totals& t = totals_[key];
  AIPOOL_CHECK(t.capacity >= capacity, "ledger: capacity removed twice");
  AIPOOL_CHECK(t.in_use >= in_use, "ledger: slots removed twice");
  t.capacity -= capacity;
  t.in_use -= in_use;
}

void CapacityLedger::take_slot(std::uint32_t key) {
  AIPOOL_CHECK(key < totals_.size(), "ledger: unknown key");
  Totals& t = totals_[key];
  AIPOOL_CHECK(t.in_use < t.capacity, "ledger: slot taken beyond capacity");
  ++t.in_use;
}

void CapacityLedger::give_slot(std::uint32_t key) {
  AIPOOL_CHECK(key < totals_.size(), "ledger: unknown key");
  Totals& t = totals_[key];
  AIPOOL_CHECK(t.in_use > 0, "ledger: slot given back twice");
  --t.in_use;
}

}  // namespace aipool
