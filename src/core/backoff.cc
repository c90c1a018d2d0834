#include "core/backoff.h"

#include <algorithm>

#include "core/check.h"

namespace aipool {

Backoff::Backoff(Random& random, BackoffPolicy policy)
    : random_(random), policy_(policy), base_(policy.initial) {
  AIPOOL_CHECK(policy_.initial > 0 && policy_.cap >= policy_.initial, "backoff: bad bounds");
  AIPOOL_CHECK(policy_.factor_num >= policy_.factor_den && policy_.factor_den > 0,
               "backoff: factor below 1");
  AIPOOL_CHECK(policy_.jitter_percent >= 0 && policy_.jitter_percent <= 100,
               "backoff: jitter out of range");
}

Micros Backoff::next_delay() {
  const Micros spread = base_ * policy_.jitter_percent / 100;
  const Micros low = base_ - spread;
  const auto draw = static_cast<Micros>(uniform_below(random_, static_cast<std::uint64_t>(2 * spread + 1)));
  const Micros delay = std::min(low + draw, policy_.cap);
  base_ = std::min(base_ * policy_.factor_num / policy_.factor_den, policy_.cap);
  return delay;
}

void Backoff::session_ended(Micros session_length) {
  if (session_length >= policy_.reset_after) base_ = policy_.initial;
}

}  // namespace aipool
