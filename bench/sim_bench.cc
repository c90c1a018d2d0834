// Simulated events per second: the deterministic simulator (sim/) driving the
// real core with 10,000 workers and 50 keys, every fault of the default world on,
// checks off (the core's own AIPOOL_CHECKs stay on). Selection must stay O(1)
// amortised whatever the number of workers (SEL-5), so the rate should barely
// move between 100 and 10,000 workers. A smaller world with the full checks
// (reference model and invariants after every event) shows what they cost.
//
//   build/bin/aipool-bench-sim --benchmark_filter='SimEvents/10000/50'
#include <benchmark/benchmark.h>

#include "sim/world.h"

namespace aipool::sim {
namespace {

WorldConfig bench_config(std::uint32_t workers, std::uint32_t keys, CheckLevel checks) {
  WorldConfig config;
  config.seed = 42;
  config.workers = workers;
  config.keys = keys;
  config.keys_per_worker_max = 3;
  config.capacity_max = 4;
  config.jobs = ~std::uint64_t{0} >> 1;
  config.duration = seconds(100'000'000);
  config.join_spread = seconds(1);
  config.session_max = seconds(3600);
  config.foreign_interval_max = seconds(600);
  // Enough load to keep most workers busy: about one job per worker-second.
  config.submit_interval_max = std::max<Micros>(2 * kMicrosPerSecond / workers, 1);
  config.checks = checks;
  return config;
}

void run_events(benchmark::State& state, const WorldConfig& config) {
  World world(config);
  world.run_until(seconds(10));  // every worker has joined; the load is steady
  const std::uint64_t before = world.stats().events;
  for (auto _ : state) {
    for (int i = 0; i < 100'000 && world.step(); ++i) {
    }
  }
  if (world.failed()) state.SkipWithError(world.failure().message.c_str());
  const auto events = static_cast<double>(world.stats().events - before);
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["events_per_second"] = benchmark::Counter(events, benchmark::Counter::kIsRate);
  state.counters["jobs"] = static_cast<double>(world.stats().jobs);
  state.counters["queue"] = static_cast<double>(world.pending_events());
  state.counters["open_jobs"] = static_cast<double>(world.orchestrator(0).broker->open_jobs());
}

// Proves SEL-5 holds end to end: the event rate with 10,000 workers.
void SimEvents(benchmark::State& state) {
  run_events(state, bench_config(static_cast<std::uint32_t>(state.range(0)),
                                 static_cast<std::uint32_t>(state.range(1)), CheckLevel::kOff));
}
BENCHMARK(SimEvents)->Args({100, 50})->Args({1'000, 50})->Args({10'000, 50})->Unit(benchmark::kMillisecond);

// The same load on healthy workers: no churn, failures, hangs or forgeries;
// only fast executors. Fewer jobs pile up, so the working set is smaller.
void SimEventsHealthy(benchmark::State& state) {
  WorldConfig config = bench_config(static_cast<std::uint32_t>(state.range(0)),
                                    static_cast<std::uint32_t>(state.range(1)), CheckLevel::kOff);
  config.weight_slow = 0;
  config.weight_failing = 0;
  config.weight_hanging = 0;
  config.base_fail = Ratio{0, 1};
  config.duplicate_upload = Ratio{0, 1};
  config.session_max = 0;
  config.foreign_interval_max = 0;
  config.forged_upload = Ratio{0, 1};
  config.forged_join = Ratio{0, 1};
  config.stale_timer = Ratio{0, 1};
  config.cancel = Ratio{0, 1};
  config.unknown_key = Ratio{0, 1};
  config.transport.notice_drop = Ratio{0, 1};
  run_events(state, config);
}
BENCHMARK(SimEventsHealthy)->Args({10'000, 50})->Unit(benchmark::kMillisecond);

// The same world, small, with the reference model and every invariant checked.
void SimEventsChecked(benchmark::State& state) {
  run_events(state, bench_config(static_cast<std::uint32_t>(state.range(0)),
                                 static_cast<std::uint32_t>(state.range(1)), CheckLevel::kFull));
}
BENCHMARK(SimEventsChecked)->Args({10, 3})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace aipool::sim

BENCHMARK_MAIN();
