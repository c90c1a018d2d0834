// File: seat_health.h
// The quarantine state of one seat (worker x key), QUAR-1: plain data kept in the
// Seat and changed only by Quarantine (quarantine.h).
//
// Contract: plain value type; single-threaded like the Seat that holds it.
#pragma once

#include <cstdint>
#include <string_view>

#include "seams/types.h"

namespace aipool {

// QUAR-1: healthy, cooling down (quarantined), allowed one probe, running it.
enum class SeatState : std::uint8_t { kHealthy, kQuarantined, kProbeReady, kProbing };
std::string_view seat_state_name(SeatState state);  // "healthy", "quarantined", ...

struct SeatHealth {
  SeatState state = SeatState::kHealthy;
  std::uint32_t failures = 0;  // consecutive counted failures (QUAR-1)
  std::uint32_t strikes = 0;   // times quarantined since the last result (QUAR-2)
  Micros until = 0;            // kQuarantined: when the cool-down ends
  std::uint64_t cooldown = 0;  // kQuarantined: the cool-down's number, its timer's target
  std::uint64_t probe = 0;     // kProbing: the probe's attempt number (TASK-1)

  // QUAR-4: skipped while a job has an untried seat that is not blocked.
  bool blocked() const { return state == SeatState::kQuarantined || state == SeatState::kProbing; }
};

}  // namespace aipool
