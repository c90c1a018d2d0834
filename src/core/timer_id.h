// File: timer_id.h
// How the core names the timers it arms on the Clock seam: what a timer is for in
// the top bits and the attempt number, JobId or cool-down number in the rest, so no
// table of timers is needed and a stale firing is recognised by looking the target
// up (TIME-4). sim/timer_ids.h decodes the same layout.
//
// Contract: pure functions; no state.
#pragma once

#include <cstdint>

#include "seams/clock.h"

namespace aipool {

constexpr int kTimerKindShift = 60;
constexpr std::uint64_t kTimerTargetMask = (std::uint64_t{1} << kTimerKindShift) - 1;
// kAttempt: TIME-2, by attempt number; kDeadline: TIME-3, by JobId; kReclaim: SLOT-3,
// by attempt number; kCooldown: QUAR-3, by cool-down number.
enum class TimerKind : std::uint64_t { kAttempt = 1, kDeadline = 2, kReclaim = 3, kCooldown = 4 };

inline TimerId timer_id(TimerKind kind, std::uint64_t target) {
  return (static_cast<std::uint64_t>(kind) << kTimerKindShift) | (target & kTimerTargetMask);
}

}  // namespace aipool
