// aipool-sim: the deterministic simulator of the orchestrator core.
//
//   aipool-sim [--seed N] [--swarm] [--workers N] [--jobs N] [--duration S]
//              [--seed-count N] [--check-determinism] [--require-probes]
//              [--checks full|invariants|off] [--trace] [--quiet]
//   aipool-sim --scenario FILE [--rewrite] [--quiet]
//   aipool-sim-buggy --bug NAME ... --expect-failure invariant|liveness
//
// The seed is the first line of output; a failure prints the rule that broke,
// the last events before it and the exact command that reproduces it.
// Exit codes: see kExit* below.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace {

using namespace aipool;
using namespace aipool::sim;

constexpr int kExitPassed = 0;
constexpr int kExitInvariant = 1;     // a safety invariant or the reference model broke
constexpr int kExitLiveness = 2;      // a job or slot did not settle within the stated bound
constexpr int kExitCrash = 3;         // the process died (an AIPOOL_CHECK in the core, a signal)
constexpr int kExitNondeterminism = 4;
constexpr int kExitScenarioMismatch = 5;
constexpr int kExitProbesMissing = 6;  // a batch never reached a rare path
constexpr int kExitNotCaught = 7;      // --expect-failure: no seed failed
constexpr int kExitUsage = 64;

const char kUsage[] =
    "usage: aipool-sim [options]\n"
    "  --seed N              seed (decimal, 0x-hex or a 40-hex commit); drawn and printed if absent\n"
    "  --swarm               draw every size and fault rate from the seed (printed)\n"
    "  --workers N --jobs N --duration S   override the world's size, load and faulty phase\n"
    "  --seed-count N        run N seeds: seed, seed+1, ...; stop at the first failure\n"
    "  --check-determinism   run each seed twice; compare a hash after every event\n"
    "  --require-probes      fail the batch if a rare path never fired\n"
    "  --checks LEVEL        full (model + invariants, default), invariants, off\n"
    "  --trace               print every event as it happens\n"
    "  --scenario FILE       run a golden scenario (sim/scenarios/*.txt); --rewrite updates it\n"
    "  --quiet               print only the seed, failures and the summary\n"
#ifdef AIPOOL_BUG_INJECTION
    "  --bug NAME            switch on a deliberate core bug: leak-slot-on-failure,\n"
    "                        first-fit, retry-tried-worker, no-slot-reclaim\n"
    "  --expect-failure KIND pass only if a seed fails with KIND (invariant, liveness)\n"
    "  --expect-rule RULE    ... and names RULE (e.g. CAP-4)\n"
#endif
    "exit: 0 passed, 1 invariant broken, 2 liveness failure, 3 crash, 4 nondeterminism,\n"
    "      5 scenario mismatch, 6 probe never fired, 7 bug not caught, 64 usage\n";

// What the crash handler prints: kept up to date before each run.
std::string g_repro;
const World* g_world = nullptr;

void on_crash_signal(int signal_number) {
  const char header[] = "\nCRASH: the simulator died with a signal (an AIPOOL_CHECK in the core?)\n";
  (void)!write(STDERR_FILENO, header, sizeof header - 1);
  const std::string repro = "reproduce: " + g_repro + "\n";
  (void)!write(STDERR_FILENO, repro.data(), repro.size());
  if (g_world != nullptr) {  // best effort: the process is dying anyway
    const std::string recent = "last events:\n" + g_world->recent_events();
    (void)!write(STDERR_FILENO, recent.data(), recent.size());
  }
  (void)signal_number;
  _exit(kExitCrash);
}

void install_crash_handlers() {
  for (int s : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(s, on_crash_signal);
}

int exit_code(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return kExitPassed;
    case FailureKind::kInvariant: return kExitInvariant;
    case FailureKind::kLiveness: return kExitLiveness;
    case FailureKind::kNondeterminism: return kExitNondeterminism;
  }
  return kExitInvariant;
}

struct Cli {
  std::optional<std::uint64_t> seed;
  std::uint64_t seed_count = 1;
  bool determinism = false;
  bool require_probes = false;
  bool trace = false;
  bool quiet = false;
  bool rewrite = false;
  std::string scenario;
  std::string expect_failure;
  std::string expect_rule;
  std::string bug;
  RunOptions options;
  std::string program = "build/bin/aipool-sim";
};

bool parse_cli(int argc, char** argv, Cli& cli) {
  cli.program = argv[0];
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    const auto number = [&]() -> std::optional<std::uint64_t> {
      std::optional<std::string> v = value();
      return v ? parse_seed(*v) : std::nullopt;
    };
    if (arg == "--seed") {
      if (!(cli.seed = number())) return false;
    } else if (arg == "--swarm") {
      cli.options.swarm = true;
    } else if (arg == "--workers") {
      std::optional<std::uint64_t> n = number();
      if (!n || *n == 0 || *n > 1'000'000) return false;
      cli.options.workers = static_cast<std::uint32_t>(*n);
    } else if (arg == "--jobs") {
      if (!(cli.options.jobs = number())) return false;
    } else if (arg == "--duration") {
      std::optional<std::uint64_t> n = number();
      if (!n || *n == 0) return false;
      cli.options.duration = seconds(static_cast<std::int64_t>(*n));
    } else if (arg == "--seed-count") {
      std::optional<std::uint64_t> n = number();
      if (!n || *n == 0) return false;
      cli.seed_count = *n;
    } else if (arg == "--check-determinism") {
      cli.determinism = true;
    } else if (arg == "--require-probes") {
      cli.require_probes = true;
    } else if (arg == "--checks") {
      std::optional<std::string> v = value();
      if (!v) return false;
      if (*v == "full") cli.options.checks = CheckLevel::kFull;
      else if (*v == "invariants") cli.options.checks = CheckLevel::kInvariants;
      else if (*v == "off") cli.options.checks = CheckLevel::kOff;
      else return false;
    } else if (arg == "--trace") {
      cli.trace = true;
    } else if (arg == "--quiet") {
      cli.quiet = true;
    } else if (arg == "--scenario") {
      std::optional<std::string> v = value();
      if (!v) return false;
      cli.scenario = *v;
    } else if (arg == "--rewrite") {
      cli.rewrite = true;
#ifdef AIPOOL_BUG_INJECTION
    } else if (arg == "--bug") {
      std::optional<std::string> v = value();
      if (!v) return false;
      cli.bug = *v;
      if (*v == "leak-slot-on-failure") cli.options.bugs_for_test |= kBugLeakSlotOnFailure;
      else if (*v == "first-fit") cli.options.bugs_for_test |= kBugFirstFit;
      else if (*v == "retry-tried-worker") cli.options.bugs_for_test |= kBugRetryTriedWorker;
      else if (*v == "no-slot-reclaim") cli.options.bugs_for_test |= kBugNoSlotReclaim;
      else return false;
    } else if (arg == "--expect-failure") {
      std::optional<std::string> v = value();
      if (!v || (*v != "invariant" && *v != "liveness")) return false;
      cli.expect_failure = *v;
    } else if (arg == "--expect-rule") {
      std::optional<std::string> v = value();
      if (!v) return false;
      cli.expect_rule = *v;
#endif
    } else {
      return false;
    }
  }
  return true;
}

std::string repro_command(const Cli& cli, std::uint64_t seed) {
  std::string out = cli.program + " --seed " + std::to_string(seed);
  if (cli.options.swarm) out += " --swarm";
  if (cli.options.workers) out += " --workers " + std::to_string(*cli.options.workers);
  if (cli.options.jobs) out += " --jobs " + std::to_string(*cli.options.jobs);
  if (cli.options.duration) out += " --duration " + std::to_string(*cli.options.duration / kMicrosPerSecond);
  if (cli.options.checks == CheckLevel::kInvariants) out += " --checks invariants";
  if (cli.options.checks == CheckLevel::kOff) out += " --checks off";
  if (cli.determinism) out += " --check-determinism";
  if (!cli.bug.empty()) out += " --bug " + cli.bug;
  return out;
}

std::string summary_line(const RunStats& stats, double wall) {
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f", wall > 0 ? static_cast<double>(stats.events) / wall : 0.0);
  char wall_text[32];
  std::snprintf(wall_text, sizeof wall_text, "%.3fs", wall);
  return "summary: events=" + std::to_string(stats.events) + " jobs=" + std::to_string(stats.jobs) +
         " ok=" + std::to_string(stats.ok) + " failed=" + std::to_string(stats.failed) +
         " attempts=" + std::to_string(stats.attempts) + " retries=" + std::to_string(stats.retries) +
         " simulated=" + time_text(stats.sim_time) + " wall=" + wall_text +
         " events_per_second=" + rate;
}

void print_failure(const Cli& cli, const SeedRun& run) {
  const Failure& f = run.failure;
  std::cout << "FAILED seed " << run.config.seed << ": " << failure_kind_name(f.kind) << ": "
            << f.rule << ": " << f.message << "\n  (at @" << time_text(f.at) << ", event "
            << f.event << ")\n";
  if (!run.first_run_event.empty()) {
    std::cout << "first run had at that event:\n" << run.first_run_event << "\n";
  }
  std::cout << "last events:\n" << run.recent;
  std::cout << "reproduce: " << repro_command(cli, run.config.seed) << " --trace\n";
}

int run_scenario(const Cli& cli) {
  std::ifstream in(cli.scenario);
  if (!in) {
    std::cerr << "aipool-sim: cannot read " << cli.scenario << "\n";
    return kExitUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  g_repro = cli.program + " --scenario " + cli.scenario;
  ScenarioRunner runner(cli.quiet ? std::function<void(const std::string&)>{}
                                  : [](const std::string& line) { std::cout << line << "\n"; });
  if (!runner.run(text.str())) {
    std::cerr << "aipool-sim: " << cli.scenario << ": " << runner.error() << "\n";
    return kExitUsage;
  }
  if (runner.world_failed()) {
    const Failure& f = runner.world()->failure();
    std::cout << "FAILED scenario " << cli.scenario << ": " << failure_kind_name(f.kind) << ": "
              << f.rule << ": " << f.message << "\nlast events:\n"
              << runner.world()->recent_events() << "reproduce: " << g_repro << "\n";
    return exit_code(f.kind);
  }
  if (cli.rewrite) {
    std::ofstream out(cli.scenario);
    out << runner.rewritten();
    std::cout << "rewrote " << cli.scenario << "\n";
    return kExitPassed;
  }
  const std::uint64_t events = runner.world() ? runner.world()->stats().events : 0;
  if (runner.mismatches() > 0) {
    std::cout << "FAILED scenario " << cli.scenario << ": " << runner.mismatches()
              << " command(s) did not give the expected trace\n"
              << runner.mismatch_report() << "reproduce: " << g_repro << "\n";
    return kExitScenarioMismatch;
  }
  std::cout << "PASSED scenario " << cli.scenario << ": " << runner.commands()
            << " commands gave the expected trace; invariants and the reference model held after all "
            << events << " events\n";
  return kExitPassed;
}

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  if (!parse_cli(argc, argv, cli)) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  install_crash_handlers();
  if (!cli.scenario.empty()) return run_scenario(cli);
  if (!cli.seed) {
    std::random_device entropy;
    cli.seed = (std::uint64_t{entropy()} << 32) ^ entropy();
  }
  std::cout << "seed: " << *cli.seed << (cli.seed_count > 1 ? " (+" + std::to_string(cli.seed_count - 1) + " more)" : "") << std::endl;

  RunStats total;
  ProbeCounts probes;
  double wall = 0;
  std::uint64_t passed = 0;
  for (std::uint64_t i = 0; i < cli.seed_count; ++i) {
    const std::uint64_t seed = *cli.seed + i;
    const WorldConfig config = make_config(seed, cli.options);
    g_repro = repro_command(cli, seed);
    if (cli.seed_count == 1 && !cli.quiet) {
      if (cli.options.swarm) std::cout << "swarm seed " << seed << ":\n";
      std::cout << config.describe() << "\n";
    }
    SeedRun run;
    if (cli.trace) {
      const auto start = std::chrono::steady_clock::now();
      World world(config);
      g_world = &world;
      world.set_trace([](const std::string& line) { std::cout << line << "\n"; });
      world.run();
      g_world = nullptr;
      run.config = config;
      run.failure = world.failure();
      run.stats = world.stats();
      run.probes = world.probes();
      run.recent = world.recent_events();
      run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
      run = run_seed(config, cli.determinism, [](const World* world) { g_world = world; });
    }
    total.events += run.stats.events;
    total.jobs += run.stats.jobs;
    total.ok += run.stats.ok;
    total.failed += run.stats.failed;
    total.attempts += run.stats.attempts;
    total.retries += run.stats.retries;
    total.sim_time += run.stats.sim_time;
    wall += run.wall_seconds;
    probes.add(run.probes);
    if (!run.passed()) {
      if (!cli.expect_failure.empty()) {
        const bool expected =
            ((cli.expect_failure == "invariant" && run.failure.kind == FailureKind::kInvariant) ||
             (cli.expect_failure == "liveness" && run.failure.kind == FailureKind::kLiveness)) &&
            (cli.expect_rule.empty() || cli.expect_rule == run.failure.rule);
        std::cout << (expected ? "CAUGHT" : "CAUGHT, but not as expected:") << " bug " << cli.bug
                  << " at seed " << seed << " after " << i + 1 << " seed(s): "
                  << failure_kind_name(run.failure.kind) << ": " << run.failure.rule << ": "
                  << run.failure.message << "\nreproduce: " << repro_command(cli, seed) << " --trace\n";
        return expected ? kExitPassed : kExitNotCaught;
      }
      print_failure(cli, run);
      std::cout << summary_line(total, wall) << "\n";
      return exit_code(run.failure.kind);
    }
    ++passed;
  }
  if (!cli.expect_failure.empty()) {
    std::cout << "NOT CAUGHT: bug " << cli.bug << " survived " << cli.seed_count << " seed(s) from "
              << *cli.seed << "\n";
    return kExitNotCaught;
  }
  if (!cli.quiet || cli.seed_count > 1) std::cout << "probes: " << probes.describe() << "\n";
  if (cli.require_probes && cli.options.checks == CheckLevel::kFull) {
    const std::vector<std::string> missing = probes.missing();
    if (!missing.empty()) {
      std::cout << "FAILED: these rare paths never fired in " << cli.seed_count << " seed(s):";
      for (const std::string& name : missing) std::cout << " " << name;
      std::cout << "\n" << summary_line(total, wall) << "\n";
      return kExitProbesMissing;
    }
  }
  std::cout << "PASSED " << passed << " seed(s)" << (cli.determinism ? ", each run twice with identical hashes" : "")
            << "\n" << summary_line(total, wall) << "\n";
  return kExitPassed;
}
