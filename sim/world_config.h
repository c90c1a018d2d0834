// File: world_config.h
// Every size and fault rate of a simulated run. The defaults are a moderate run
// with every fault on; swarm() draws every field from the seed (swarm testing,
// TigerBeetle's options_swarm) so that a batch of seeds covers small and large
// worlds, calm and stormy ones. describe() prints every field, so a failing
// seed's log says what world it ran in.
//
// Contract: plain value type.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "seams/types.h"
#include "sim/prng.h"
#include "sim/sim_transport.h"

namespace aipool::sim {

// How much is checked after every event.
enum class CheckLevel : std::uint8_t {
  kOff,         // nothing (benchmarks): the core's own AIPOOL_CHECKs only
  kInvariants,  // the core's views against the spec's invariants
  kFull,        // plus the reference model, decision by decision
};

constexpr Micros seconds(std::int64_t s) { return s * kMicrosPerSecond; }
constexpr Micros millis(std::int64_t ms) { return ms * 1000; }
// TIME-5: the shortest per-pipeline or per-model timeout drawn for a core value `t`:
// half of it, but never under 30 s (or `t` itself when shorter), so that the
// liveness phase's jobs (notice, execution and upload of a few seconds each) fit.
constexpr Micros shortest_timeout(Micros t) { return t / 2 > seconds(30) ? t / 2 : (t < seconds(30) ? t : seconds(30)); }

struct WorldConfig {
  std::uint64_t seed = 1;
  bool swarm = false;

  // The world.
  std::uint32_t orchestrators = 1;
  std::uint32_t workers = 8;
  std::uint32_t keys = 3;
  std::uint32_t keys_per_worker_max = 2;
  std::uint32_t capacity_max = 3;
  Ratio register_elsewhere{1, 2};  // with several orchestrators: a worker also serves o2, o3...

  // Each orchestrator's BrokerConfig (TIME-1, ADM-2).
  Micros attempt_timeout = seconds(30);
  Micros job_deadline = seconds(120);
  Micros slot_reclaim = seconds(60);
  std::uint32_t queue_limit = 16;
  // TIME-5: per pipeline (0: the values above), never longer than them so that the
  // liveness bound holds; and, with a model list, listed keys' own values (LIST-4).
  std::array<Micros, kPipelineCount> pipeline_attempt_timeout{};
  std::array<Micros, kPipelineCount> pipeline_job_deadline{};
  bool model_timeouts = false;
  std::uint32_t quarantine_after = 3;                // QUAR-2; 0: off
  Micros quarantine_cooldown = seconds(30);
  Micros quarantine_max_cooldown = seconds(600);

  // The workload; the faults stop at `duration`.
  std::uint64_t jobs = 3000;
  Micros duration = seconds(1800);
  Micros submit_interval_max = millis(1000);
  Ratio burst{1, 20};
  std::uint32_t burst_max = 12;
  Ratio cancel{1, 20};
  Micros cancel_delay_max = seconds(40);
  Ratio unknown_key{1, 100};

  // The workers' executors.
  std::uint32_t weight_fast = 6;
  std::uint32_t weight_slow = 1;
  std::uint32_t weight_failing = 1;
  std::uint32_t weight_hanging = 1;
  Micros fast_latency_max = seconds(3);
  Ratio base_fail{1, 50};      // fast and slow workers
  Ratio failing_fail{2, 3};    // failing workers
  Ratio hang{1, 3};            // hanging workers
  Ratio duplicate_upload{1, 20};
  // Of the worker errors (not "at capacity"): those that reject the request itself
  // (RETRY-6). Fixed, not drawn in swarm mode, so that the drawn streams stay as they were.
  Ratio rejected_input{1, 10};

  // Churn: each worker's sessions last up to session_max, then it crashes, leaves
  // or loses one stream (weights). session_max 0: no churn.
  Micros session_max = seconds(400);
  std::uint32_t weight_crash = 1;
  std::uint32_t weight_leave = 1;
  std::uint32_t weight_break = 2;
  Micros downtime_max = seconds(60);
  Micros join_spread = seconds(10);

  // Transport and uploads.
  TransportFaults transport{millis(50), Ratio{1, 200}, seconds(5)};
  Micros upload_delay_max = millis(200);
  Ratio anonymous_upload{1, 4};

  // Forgeries, per submitted job.
  Ratio forged_upload{1, 10};
  Ratio forged_join{1, 80};

  // Load from an orchestrator outside the simulation (MULTI-2); interval 0: none.
  Micros foreign_interval_max = seconds(200);
  Micros foreign_hold_max = seconds(60);

  // LIST-1, LIST-3: each orchestrator is started with a model list of some of
  // the keys (and one no worker advertises); workers advertise keys outside it.
  bool model_list = false;

  // Cancelled timers that fire anyway (TIME-4).
  Ratio stale_timer{1, 20};

  CheckLevel checks = CheckLevel::kFull;

#ifdef AIPOOL_BUG_INJECTION
  // Negative tests only: BrokerConfig::bugs_for_test of every orchestrator.
  std::uint32_t bugs_for_test = 0;
#endif

  // Draws every field above from `seed` (seed, swarm and checks excepted).
  static WorldConfig swarm_from_seed(std::uint64_t seed);
  // One line per group, every field.
  std::string describe() const;

 private:
  static void draw_quarantine_and_timeouts(Prng& p, WorldConfig& c);
};

}  // namespace aipool::sim
