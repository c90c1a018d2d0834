#include "sim/run.h"

#include <charconv>
#include <chrono>
#include <vector>

namespace aipool::sim {

WorldConfig make_config(std::uint64_t seed, const RunOptions& options) {
  WorldConfig config = options.swarm ? WorldConfig::swarm_from_seed(seed) : WorldConfig{};
  config.seed = seed;
  if (options.workers) config.workers = *options.workers;
  if (options.jobs) config.jobs = *options.jobs;
  if (options.duration) config.duration = *options.duration;
  config.checks = options.checks;
#ifdef AIPOOL_BUG_INJECTION
  config.bugs_for_test = options.bugs_for_test;
#endif
  return config;
}

SeedRun run_seed(const WorldConfig& config, bool check_determinism,
                 const std::function<void(const World*)>& watch) {
  const auto watching = [&watch](const World* world) {
    if (watch) watch(world);
  };
  SeedRun result;
  result.config = config;
  std::vector<std::uint64_t> hashes;
  const auto start = std::chrono::steady_clock::now();
  {
    World world(config);
    if (check_determinism) world.record_hashes(&hashes);
    watching(&world);
    world.run();
    watching(nullptr);
    result.failure = world.failure();
    result.stats = world.stats();
    result.probes = world.probes();
    if (world.failed()) result.recent = world.recent_events();
  }
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!check_determinism || !result.passed()) return result;

  World again(config);
  again.expect_hashes(&hashes);
  watching(&again);
  again.run();
  watching(nullptr);
  if (!again.failed()) return result;
  result.failure = again.failure();
  result.recent = again.recent_events();
  if (result.failure.kind == FailureKind::kNondeterminism) {
    World first(config);  // replay the first run up to that event, to name it
    while (first.stats().events < result.failure.event && first.step()) {
    }
    const std::string recent = first.recent_events();
    const std::size_t last = recent.rfind('\n', recent.size() >= 2 ? recent.size() - 2 : 0);
    result.first_run_event = recent.substr(last == std::string::npos ? 0 : last + 1);
  }
  return result;
}

std::optional<std::uint64_t> parse_seed(const std::string& text) {
  std::uint64_t value = 0;
  const bool hex40 = text.size() == 40 &&
                     text.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (hex40) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + 16, value, 16);
    if (ec != std::errc()) return std::nullopt;
    return value;
  }
  int base = 10;
  std::size_t from = 0;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    base = 16;
    from = 2;
  }
  if (from >= text.size()) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data() + from, text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace aipool::sim
