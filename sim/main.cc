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
    "                        first-fit, retry-tried-worker, no-slot-reclaim,\n"
    "                        keep-unused-keys, quarantine-ignored\n"
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

// The arguments, one at a time: flag() the next one, value() and number() the
// one after a flag; nullopt when it is missing (or, for number(), malformed).
class ArgReader {
 public:
  ArgReader(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool done() const { return next_ >= argc_; }
  std::string flag() { return argv_[next_++]; }
  std::optional<std::string> value() {
    if (next_ >= argc_) return std::nullopt;
    return std::string(argv_[next_++]);
  }
  std::optional<std::uint64_t> number() {
    std::optional<std::string> v = value();
    return v ? parse_seed(*v) : std::nullopt;
  }

 private:
  int argc_;
  char** argv_;
  int next_ = 1;
};

// What a group of flags made of one argument.
enum class Parsed : std::uint8_t { kTaken, kBad, kNotMine };

Parsed taken_if(bool good) { return good ? Parsed::kTaken : Parsed::kBad; }

Parsed switch_on(bool& flag) {
  flag = true;
  return Parsed::kTaken;
}

std::optional<CheckLevel> parse_check_level(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  if (*v == "full") return CheckLevel::kFull;
  if (*v == "invariants") return CheckLevel::kInvariants;
  if (*v == "off") return CheckLevel::kOff;
  return std::nullopt;
}

// The world's seed, size, load and checks.
Parsed parse_world_flag(const std::string& arg, ArgReader& in, Cli& cli) {
  if (arg == "--seed") return taken_if((cli.seed = in.number()).has_value());
  if (arg == "--swarm") return switch_on(cli.options.swarm);
  if (arg == "--workers") {
    std::optional<std::uint64_t> n = in.number();
    if (!n || *n == 0 || *n > 1'000'000) return Parsed::kBad;
    cli.options.workers = static_cast<std::uint32_t>(*n);
    return Parsed::kTaken;
  }
  if (arg == "--jobs") return taken_if((cli.options.jobs = in.number()).has_value());
  if (arg == "--duration") {
    std::optional<std::uint64_t> n = in.number();
    if (!n || *n == 0) return Parsed::kBad;
    cli.options.duration = seconds(static_cast<std::int64_t>(*n));
    return Parsed::kTaken;
  }
  if (arg == "--checks") {
    const std::optional<CheckLevel> level = parse_check_level(in.value());
    if (!level) return Parsed::kBad;
    cli.options.checks = *level;
    return Parsed::kTaken;
  }
  return Parsed::kNotMine;
}

// How many seeds, what to check across runs, what to print; or a scenario.
Parsed parse_mode_flag(const std::string& arg, ArgReader& in, Cli& cli) {
  if (arg == "--seed-count") {
    std::optional<std::uint64_t> n = in.number();
    if (!n || *n == 0) return Parsed::kBad;
    cli.seed_count = *n;
    return Parsed::kTaken;
  }
  if (arg == "--check-determinism") return switch_on(cli.determinism);
  if (arg == "--require-probes") return switch_on(cli.require_probes);
  if (arg == "--trace") return switch_on(cli.trace);
  if (arg == "--quiet") return switch_on(cli.quiet);
  if (arg == "--rewrite") return switch_on(cli.rewrite);
  if (arg == "--scenario") {
    std::optional<std::string> v = in.value();
    if (!v) return Parsed::kBad;
    cli.scenario = *v;
    return Parsed::kTaken;
  }
  return Parsed::kNotMine;
}

#ifdef AIPOOL_BUG_INJECTION
// aipool-sim-buggy only: the deliberate bug and the failure it must cause.
Parsed parse_bug_flag(const std::string& arg, ArgReader& in, Cli& cli) {
  if (arg == "--bug") {
    std::optional<std::string> v = in.value();
    if (!v) return Parsed::kBad;
    cli.bug = *v;
    if (*v == "leak-slot-on-failure") cli.options.bugs_for_test |= kBugLeakSlotOnFailure;
    else if (*v == "first-fit") cli.options.bugs_for_test |= kBugFirstFit;
    else if (*v == "retry-tried-worker") cli.options.bugs_for_test |= kBugRetryTriedWorker;
    else if (*v == "no-slot-reclaim") cli.options.bugs_for_test |= kBugNoSlotReclaim;
    else if (*v == "keep-unused-keys") cli.options.bugs_for_test |= kBugKeepUnusedKeys;
    else if (*v == "quarantine-ignored") cli.options.bugs_for_test |= kBugQuarantineIgnored;
    else return Parsed::kBad;
    return Parsed::kTaken;
  }
  if (arg == "--expect-failure") {
    std::optional<std::string> v = in.value();
    if (!v || (*v != "invariant" && *v != "liveness")) return Parsed::kBad;
    cli.expect_failure = *v;
    return Parsed::kTaken;
  }
  if (arg == "--expect-rule") {
    std::optional<std::string> v = in.value();
    if (!v) return Parsed::kBad;
    cli.expect_rule = *v;
    return Parsed::kTaken;
  }
  return Parsed::kNotMine;
}
#else
Parsed parse_bug_flag(const std::string&, ArgReader&, Cli&) { return Parsed::kNotMine; }
#endif

// False on any unknown, incomplete or malformed argument.
bool parse_cli(int argc, char** argv, Cli& cli) {
  cli.program = argv[0];
  ArgReader in(argc, argv);
  while (!in.done()) {
    const std::string arg = in.flag();
    Parsed parsed = parse_world_flag(arg, in, cli);
    if (parsed == Parsed::kNotMine) parsed = parse_mode_flag(arg, in, cli);
    if (parsed == Parsed::kNotMine) parsed = parse_bug_flag(arg, in, cli);
    if (parsed != Parsed::kTaken) return false;
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

// What a batch of seeds adds up to.
struct Batch {
  RunStats total;
  ProbeCounts probes;
  double wall = 0;
  std::uint64_t passed = 0;

  void add(const SeedRun& run) {
    total.events += run.stats.events;
    total.jobs += run.stats.jobs;
    total.ok += run.stats.ok;
    total.failed += run.stats.failed;
    total.attempts += run.stats.attempts;
    total.retries += run.stats.retries;
    total.sim_time += run.stats.sim_time;
    wall += run.wall_seconds;
    probes.add(run.probes);
  }
};

std::uint64_t draw_seed() {
  std::random_device entropy;
  return (std::uint64_t{entropy()} << 32) ^ entropy();
}

// One run with every event printed as it happens.
SeedRun run_traced(const WorldConfig& config) {
  SeedRun run;
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
  return run;
}

SeedRun run_one_seed(const Cli& cli, std::uint64_t seed) {
  const WorldConfig config = make_config(seed, cli.options);
  g_repro = repro_command(cli, seed);
  if (cli.seed_count == 1 && !cli.quiet) {
    if (cli.options.swarm) std::cout << "swarm seed " << seed << ":\n";
    std::cout << config.describe() << "\n";
  }
  if (cli.trace) return run_traced(config);
  return run_seed(config, cli.determinism, [](const World* world) { g_world = world; });
}

// --expect-failure: the seed failed; was it the failure the bug must cause?
int report_caught(const Cli& cli, const SeedRun& run, std::uint64_t seeds_run) {
  const bool expected =
      ((cli.expect_failure == "invariant" && run.failure.kind == FailureKind::kInvariant) ||
       (cli.expect_failure == "liveness" && run.failure.kind == FailureKind::kLiveness)) &&
      (cli.expect_rule.empty() || cli.expect_rule == run.failure.rule);
  const std::uint64_t seed = run.config.seed;
  std::cout << (expected ? "CAUGHT" : "CAUGHT, but not as expected:") << " bug " << cli.bug
            << " at seed " << seed << " after " << seeds_run << " seed(s): "
            << failure_kind_name(run.failure.kind) << ": " << run.failure.rule << ": "
            << run.failure.message << "\nreproduce: " << repro_command(cli, seed) << " --trace\n";
  return expected ? kExitPassed : kExitNotCaught;
}

// Every seed passed: the probes, and whether the batch passes.
int finish_batch(const Cli& cli, const Batch& batch) {
  if (!cli.expect_failure.empty()) {
    std::cout << "NOT CAUGHT: bug " << cli.bug << " survived " << cli.seed_count << " seed(s) from "
              << *cli.seed << "\n";
    return kExitNotCaught;
  }
  if (!cli.quiet || cli.seed_count > 1) std::cout << "probes: " << batch.probes.describe() << "\n";
  if (cli.require_probes && cli.options.checks == CheckLevel::kFull) {
    const std::vector<std::string> missing = batch.probes.missing();
    if (!missing.empty()) {
      std::cout << "FAILED: these rare paths never fired in " << cli.seed_count << " seed(s):";
      for (const std::string& name : missing) std::cout << " " << name;
      std::cout << "\n" << summary_line(batch.total, batch.wall) << "\n";
      return kExitProbesMissing;
    }
  }
  std::cout << "PASSED " << batch.passed << " seed(s)"
            << (cli.determinism ? ", each run twice with identical hashes" : "") << "\n"
            << summary_line(batch.total, batch.wall) << "\n";
  return kExitPassed;
}

// The seeds from cli.seed on, in order, up to the first failure; the exit code.
int run_seeds(const Cli& cli) {
  Batch batch;
  for (std::uint64_t i = 0; i < cli.seed_count; ++i) {
    const SeedRun run = run_one_seed(cli, *cli.seed + i);
    batch.add(run);
    if (run.passed()) {
      ++batch.passed;
      continue;
    }
    if (!cli.expect_failure.empty()) return report_caught(cli, run, i + 1);
    print_failure(cli, run);
    std::cout << summary_line(batch.total, batch.wall) << "\n";
    return exit_code(run.failure.kind);
  }
  return finish_batch(cli, batch);
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
  if (!cli.seed) cli.seed = draw_seed();
  std::cout << "seed: " << *cli.seed << (cli.seed_count > 1 ? " (+" + std::to_string(cli.seed_count - 1) + " more)" : "") << std::endl;
  return run_seeds(cli);
}
