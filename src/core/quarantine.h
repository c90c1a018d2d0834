// File: quarantine.h
// Quarantine of failing workers (spec/core.md QUAR-1..QUAR-7): counts each seat's
// consecutive failures, quarantines a seat that reaches `after` of them for a
// cool-down that doubles per strike up to a cap, arms the cool-down's timer on the
// Clock seam, lets a probe-ready seat take one probe, and keeps per key the number
// of blocked seats so that selection knows in O(1) whether there is anything to skip.
// Which seat a job may take (QUAR-4) is the Broker's: it reads blocked() and
// blocked_count().
//
// Contract: single-threaded, owned and driven by the Broker during its calls. Holds
// pointers to the seats it cools down; the Broker calls seat_leaving() for every seat
// of a worker before the worker is destroyed. Arms and cancels only kCooldown timers
// (timer_id.h). No errors: a stale or unknown cool-down number is ignored (TIME-4).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/rotation_queue.h"
#include "seams/clock.h"
#include "seams/types.h"

namespace aipool {

struct QuarantineConfig {
  std::uint32_t after = 3;                           // QUAR-2: N; 0 turns quarantine off
  Micros cooldown = 30 * kMicrosPerSecond;           // QUAR-2: the first cool-down
  Micros max_cooldown = 600 * kMicrosPerSecond;      // QUAR-2: the cap of the doubling
};

// How an attempt on a seat ended, for QUAR-1.
enum class AttemptVerdict : std::uint8_t {
  kResult,     // result: clears the seat
  kCounted,    // worker error (not RETRY-6), send failure, attempt timeout
  kUncounted,  // rejected input, job cancelled, job deadline
};

class Quarantine {
 public:
  Quarantine(const QuarantineConfig& config, Clock& clock) : config_(config), clock_(clock) {}

  // Keeps a count per key index; call when key indices grow.
  void resize(std::size_t key_slots) { blocked_.resize(key_slots, 0); }
  // QUAR-7: how many seats of the key are blocked (quarantined or probing).
  std::uint32_t blocked_count(std::uint32_t key) const { return key < blocked_.size() ? blocked_[key] : 0; }

  // QUAR-3: attempt `number` went to `seat`; a probe-ready seat starts its probe.
  // True when the seat's state changed (its key's waiting jobs should be dispatched).
  bool attempt_sent(Seat& seat, std::uint64_t number);
  // QUAR-1, QUAR-2, QUAR-4, QUAR-5: attempt `number` on `seat` ended. True when the
  // seat's state changed.
  bool attempt_ended(Seat& seat, std::uint64_t number, AttemptVerdict verdict);
  // QUAR-3: the timer of cool-down `number` fired. The seat, now probe ready, or
  // nullptr when that cool-down already ended (TIME-4).
  Seat* cooldown_ended(std::uint64_t number);
  // CONN-5: the seat's worker leaves; its cool-down timer is cancelled.
  void seat_leaving(Seat& seat);

 private:
  void quarantine(Seat& seat);
  void end_cooldown(Seat& seat);
  void set_state(Seat& seat, SeatState state);

  QuarantineConfig config_;
  Clock& clock_;
  std::vector<std::uint32_t> blocked_;                 // by key index
  std::unordered_map<std::uint64_t, Seat*> cooling_;   // by cool-down number
  std::uint64_t next_cooldown_ = 1;
};

}  // namespace aipool
