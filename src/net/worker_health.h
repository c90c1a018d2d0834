// File: worker_health.h
// Each live worker's health for GET /workers (spec/api.md API-13): results and
// failures since it joined, failures in a row, its last error and when, and the
// median time of its recent results per key. Fed by the core's attempt events.
//
// Contract: not thread-safe; the orchestrator calls every method under its core
// mutex (the attempt events arrive there). Memory: per worker, one small record and
// at most kSamples durations per key it has returned a result for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/attempt_observer.h"
#include "seams/types.h"

namespace aipool::net {

struct WorkerHealth {
  std::uint64_t jobs_ok = 0;
  std::uint64_t jobs_failed = 0;
  std::uint64_t rejected_input = 0;
  std::uint64_t consecutive_failures = 0;
  std::string last_error;                    // empty: none yet
  std::int64_t last_error_at = 0;            // Unix seconds
  std::map<Key, std::vector<double>> recent;  // per key, the last results' ms (a ring)
  std::map<Key, std::size_t> next_slot;       // where each ring writes next
};

class WorkerHealthBook {
 public:
  static constexpr std::size_t kSamples = 32;

  // One attempt's end, at `wall_unix` seconds.
  void attempt_ended(const AttemptEvent& event, std::int64_t wall_unix);
  // The worker left: its health goes.
  void forget(WorkerId worker);
  // A copy of every worker's health (for rendering outside the mutex).
  std::map<WorkerId, WorkerHealth> snapshot() const { return workers_; }

  // The median of `samples`, nullopt when empty.
  static std::optional<double> median(std::vector<double> samples);

 private:
  std::map<WorkerId, WorkerHealth> workers_;
};

}  // namespace aipool::net
