// File: checker.h
// What the simulator checks after every event, and the "sometimes" probes.
//
// Invariants (each failure names the rule it breaks):
//  - check_core_invariants: from the Broker's own views only. For every live
//    worker and key 0 <= in_use <= capacity (CAP-2); a worker's slots in use equal
//    its open plus abandoned attempts (CAP-2, CAP-4, SLOT-1); each key's ledger
//    equals the sums over live workers (CAP-1, CAP-5); the rotation queue holds
//    exactly the live workers of the key (SEL-1, SEL-4); a key is held only while a
//    live worker offers it or the model list names it (CAP-6); every open job is in
//    exactly one state, waiting with no attempt or running one open attempt of its
//    own, and the waiting counts add up (TASK-3, ADM-2); the jobs the core holds are
//    exactly the jobs without an outcome (TASK-5).
//  - check_against_model: the core's state equals the reference model's: the keys
//    it holds (CAP-6), rotation
//    order (SEL-1, SEL-2, SEL-4), slots (CAP-2), waiting jobs (ADM-2), each job's
//    tried workers and running attempt (RETRY-1), each attempt (TASK-1, SLOT-1) and
//    the armed timers with their deadlines (TIME-1..TIME-3, SLOT-3).
//  - check_effects: the core did what the model did, in the same order: the same
//    notices to the same workers (SEL-2), closes (CONN-4), attempt ends with
//    their reasons (TASK-3, via the Broker's AttemptObserver) and outcomes
//    (TASK-5, RETRY-2, ADM-1, ADM-3, TIME-3), with the messages the spec asks for.
//
// Contract: pure functions over const views; they never call a mutating Broker
// method, so they may run between any two events.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/broker.h"
#include "sim/reference_model.h"
#include "sim/sim_clock.h"

namespace aipool::sim {

struct Violation {
  std::string rule;     // e.g. "CAP-2"
  std::string message;  // what was seen, with ids
};

std::optional<Violation> check_core_invariants(const Broker& broker, const std::set<JobId>& open_jobs);
std::optional<Violation> check_against_model(const Broker& broker, const ReferenceModel& model,
                                             const SimClock& clock);
std::optional<Violation> check_effects(const std::vector<Effect>& core,
                                       const std::vector<Effect>& model);
// QUAR-4, from the Broker's views while it starts attempt `event` (AttemptObserver):
// a quarantined or probing seat gets no job but its probe while the key has a live
// seat that the job has not tried and that is not blocked.
std::optional<Violation> check_quarantine_send(const Broker& broker, const AttemptEvent& event);

// Rare paths that a batch of seeds must reach at least once each (FoundationDB's
// CODE_PROBE, Antithesis' SOMETIMES): a batch where one never fires is not
// testing what it claims to, and fails.
enum class Probe : std::uint8_t {
  kRetry,            // a job went to a second worker (RETRY-1)
  kLeftMidTask,      // a worker left with open attempts (CONN-5)
  kAllBusy,          // a job waited because every worker was busy (ADM-2)
  kRetryWaited,      // a retrying job waited ahead of new ones (RETRY-3)
  kLateResult,       // a late report released a held slot (SLOT-2)
  kSlotReclaimed,    // a held slot was reclaimed by time (SLOT-3)
  kSendFailure,      // a send failed and the worker was closed (CONN-4)
  kQueueFull,        // ADM-3
  kAllFailed,        // RETRY-2
  kAttemptTimeout,   // TIME-2
  kDeadline,         // TIME-3
  kCancelRunning,    // a running job was cancelled (SLOT-1)
  kAtCapacity,       // a worker answered "worker at capacity" (MULTI-2)
  kReregistered,     // a worker came back with a new id (CONN-3)
  kForgedRefused,    // a forged upload or join was refused (CONN-1, TASK-2)
  kDuplicateRefused, // a duplicate upload was refused (TASK-4)
  kStaleTimer,       // a cancelled timer fired anyway (TIME-4)
  kListRefused,      // a worker's join was refused: none of its keys is listed (LIST-1)
  kRejectedInput,    // a worker error rejected the input and ended its job (RETRY-6)
  kKeyForgotten,     // a key went with its last worker (CAP-6)
  kQuarantined,      // a seat was quarantined (QUAR-2)
  kBlockedSkipped,   // a scan passed over a blocked seat for a healthy one (QUAR-4)
  kProbeCleared,     // a quarantine probe's result cleared its seat (QUAR-5)
  kCount,
};
const char* probe_name(Probe probe);

struct ProbeCounts {
  std::array<std::uint64_t, static_cast<std::size_t>(Probe::kCount)> hits{};

  void hit(Probe probe, std::uint64_t n = 1) { hits[static_cast<std::size_t>(probe)] += n; }
  std::uint64_t count(Probe probe) const { return hits[static_cast<std::size_t>(probe)]; }
  void add(const ProbeCounts& other) {
    for (std::size_t i = 0; i < hits.size(); ++i) hits[i] += other.hits[i];
  }
  // The probes that never fired, by name.
  std::vector<std::string> missing() const;
  std::string describe() const;  // "retry=12 left-mid-task=3 ..."
};

}  // namespace aipool::sim
