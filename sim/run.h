// File: run.h
// One seed, start to finish: build the WorldConfig (fixed or swarm, with
// overrides), run the world, optionally run it again and compare the running
// hash after every event (the determinism check), and time it. Used by
// aipool-sim (main.cc), the ctests and the benchmark.
//
// Contract: single-threaded; no global state (each call builds its own worlds).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sim/world.h"

namespace aipool::sim {

struct RunOptions {
  bool swarm = false;
  std::optional<std::uint32_t> workers;
  std::optional<std::uint64_t> jobs;
  std::optional<Micros> duration;
  CheckLevel checks = CheckLevel::kFull;
  std::uint32_t bugs_for_test = 0;  // only in builds with AIPOOL_BUG_INJECTION
};

WorldConfig make_config(std::uint64_t seed, const RunOptions& options);

struct SeedRun {
  WorldConfig config;
  Failure failure;      // kind kNone when the run passed
  RunStats stats;
  ProbeCounts probes;
  std::string recent;   // the events before the failure, one per line
  std::string first_run_event;  // nondeterminism: the first run's event at that index
  double wall_seconds = 0;

  bool passed() const { return failure.kind == FailureKind::kNone; }
};

// `watch` (optional) is told of each World as it starts (and nullptr after), so
// that a crash handler can print its last events.
SeedRun run_seed(const WorldConfig& config, bool check_determinism,
                 const std::function<void(const World*)>& watch = {});

// Reads a seed: decimal, 0x-hex, or a 40-hex git commit (its first 16 hex digits).
std::optional<std::uint64_t> parse_seed(const std::string& text);

}  // namespace aipool::sim
