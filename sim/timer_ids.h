// File: timer_ids.h
// What a core timer id means. The Broker names each timer it arms on the Clock
// seam as (kind << 60) | target, kind 1 = attempt timeout of attempt number target
// (TIME-2), 2 = deadline of JobId target (TIME-3), 3 = slot reclaim of the
// abandoned attempt number target (SLOT-3; numbers, not TaskIDs, TASK-1), 4 = end of the
// cool-down number target (QUAR-3) (src/core/timer_id.h). The simulator decodes ids
// only to label its traces and to compare the armed timers with the reference
// model; if the core changes its encoding, the first timer shows up as a model
// mismatch, not as silent misbehaviour.
//
// Contract: pure functions; no state.
#pragma once

#include <cstdint>
#include <string>

#include "seams/clock.h"

namespace aipool::sim {

enum class TimerKind : std::uint8_t { kUnknown = 0, kAttempt = 1, kDeadline = 2, kReclaim = 3, kCooldown = 4 };

struct TimerName {
  TimerKind kind = TimerKind::kUnknown;
  std::uint64_t target = 0;

  friend bool operator==(const TimerName&, const TimerName&) = default;
};

inline TimerName decode_timer(TimerId id) {
  constexpr int kShift = 60;
  const std::uint64_t kind = id >> kShift;
  const std::uint64_t target = id & ((std::uint64_t{1} << kShift) - 1);
  if (kind < 1 || kind > 4) return {TimerKind::kUnknown, target};
  return {static_cast<TimerKind>(kind), target};
}

inline const char* timer_kind_name(TimerKind kind) {
  switch (kind) {
    case TimerKind::kAttempt: return "attempt timeout";
    case TimerKind::kDeadline: return "job deadline";
    case TimerKind::kReclaim: return "slot reclaim";
    case TimerKind::kCooldown: return "cool-down";
    case TimerKind::kUnknown: break;
  }
  return "unknown timer";
}

}  // namespace aipool::sim
