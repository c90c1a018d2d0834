// File: pool_history.h
// The last minutes of the pool for the dashboard (spec/api.md API-14): per second,
// the jobs that ended (ok and not) and their latency percentiles, and per key the
// jobs ended over the last minute.
//
// Contract: not thread-safe; the orchestrator calls it under its core mutex.
// Memory is bounded: kSeconds buckets of at most kSamples latencies each, and a
// 60-slot ring for each of the first kMaxKeys keys that end a job (model ids come
// from clients: later keys count in the series only).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "seams/types.h"

namespace aipool::net {

class PoolHistory {
 public:
  static constexpr std::size_t kSeconds = 300;  // the chart's span
  static constexpr std::size_t kSamples = 256;  // latencies kept per second
  static constexpr std::size_t kMaxKeys = 256;  // keys with a throughput of their own

  // A job ended at `unix_second`, ok or not, `ms` after its admission.
  void job_ended(const Key& key, std::int64_t unix_second, bool ok, double ms);
  // {"series":[{"t","ok","failed","p50_ms","p90_ms","p99_ms"}...],"per_key":[...]}:
  // one entry per second from `now - kSeconds + 1` to `now` (seconds without jobs
  // included), and per key the jobs ended in the last 60 s.
  std::string json(std::int64_t now) const;

 private:
  struct Second {
    std::int64_t t = -1;  // which second this slot holds now
    std::uint32_t ok = 0;
    std::uint32_t failed = 0;
    std::vector<double> ms;
  };
  struct KeyRing {
    std::array<std::int64_t, 60> t{};
    std::array<std::uint32_t, 60> jobs{};
  };
  std::array<Second, kSeconds> seconds_;
  std::map<Key, KeyRing> keys_;
};

}  // namespace aipool::net
