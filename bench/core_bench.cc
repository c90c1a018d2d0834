// File: core_bench.cc
// aipool-bench-core: the cost of one dispatch plus its completion through the real
// core, against a naive first-fit scan over all workers (go-livepeer's selection,
// reference 5.3), both measured in the same run. bench/README.md has the command,
// the figures and how to read them.
//
// What it checks (SEL-5): selection costs O(1) amortised per dispatch whatever the
// number of workers. Goals: core at 10,000 workers within 1.5x of core at 10
// workers, and under 1 us per dispatch plus completion. The summary printed after
// the runs gives the ratios and says whether each goal is met.
//
// Setup, the same for every family, for W workers and K keys:
//  - every worker advertises all K keys with capacity 2, so each key's rotation
//    queue (SEL-1) holds all W workers, the longest queue W workers can make;
//  - the first W/2 workers to join are full on every key: they hold 2 x K jobs that
//    never complete during the measurement (long-running GPU jobs). The other W/2
//    join afterwards and stay idle. For the first-fit scan the full half therefore
//    comes first in scan order, as in go-livepeer, where the earliest workers fill
//    first;
//  - the measured jobs cycle over the K keys (job i asks for key i % K).
//
// Families (one iteration each = one job, dispatched and completed):
//  - core: Broker::submit (admission, selection by SEL-2, a TaskID, the attempt
//    timer, the notice to the transport), then Broker::report of a successful
//    result (the slot goes back, the job's completion callback runs). Clock and
//    transport are no-ops; the transport only remembers the last notice.
//  - core_selection: selection alone in the real core, WorkerPool::pick plus
//    take_slot and give_slot (rotation queue, free-seat index, ledger): the same
//    work the baseline does, so the two compare like for like.
//  - naive_first_fit: the baseline. Scan from index 0 for the first worker with a
//    free slot for the key and take it; give it back on completion. Flat per-worker
//    arrays of free slots, already cheaper than go-livepeer's per-worker capability
//    and model maps. It does none of the core's other work (job and task tables,
//    timers, callbacks), so at a few workers it is far cheaper than `core`; what
//    matters is how each grows with W.
//
// Ratios use CPU time per iteration over the repetitions: the median, and the
// minimum (best of N; noise from other tenants only ever adds time). Without
// --benchmark_repetitions both are the single run. These machines are shared and
// noisy, so run with repetitions and random interleaving (bench/README.md).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/broker.h"
#include "core/worker_pool.h"
#include "seams/clock.h"
#include "seams/transport.h"
#include "seams/types.h"

namespace aipool {
namespace {

constexpr std::uint32_t kCapacity = 2;  // per worker and key
constexpr const char* kSecret = "bench-secret";
const std::vector<int> kWorkerCounts = {10, 100, 1000, 10000};
const std::vector<int> kKeyCounts = {1, 50};

// Jobs run before timing starts on a new fixture (caches, allocator, rotation
// cursors), so that the first benchmark of a run is not the slowest, which would
// flatter the ratio against it.
int warm_up_jobs(int workers, int keys) { return std::max(20000, 2 * workers * keys); }

std::vector<Key> make_keys(int count) {
  std::vector<Key> keys;
  for (int i = 0; i < count; ++i) {
    keys.push_back(Key{Pipeline::kTextToImage, "bench/model-" + std::to_string(i)});
  }
  return keys;
}

// ------------------------------------------------------------------ core

class NullClock final : public Clock {
 public:
  Micros now() const override { return 0; }
  void arm_timer(TimerId, Micros) override {}
  void cancel_timer(TimerId) override {}
};

class RecordingTransport final : public WorkerTransport {
 public:
  bool send(const JobNotice& notice) override {
    last_worker = notice.worker;
    last_task = notice.task;
    return true;
  }
  void close(WorkerId, std::string_view) override {}

  WorkerId last_worker = 0;
  TaskId last_task = 0;
};

BrokerConfig bench_config() {
  BrokerConfig config;  // default timeouts; they never fire (NullClock)
  config.secret = kSecret;
  config.task_id_key = SipKey{0x62656E63686B6579ULL, 0x7461736B2D696473ULL};  // fixed: runs compare (TASK-1)
  return config;
}

// A Broker with W workers and K keys, half of the workers full (see the top).
struct CoreFixture {
  CoreFixture(int worker_count, int key_count)
      : keys(make_keys(key_count)),
        payload(std::make_shared<const std::string>(R"({"prompt":"a cat"})")),
        result(std::make_shared<const ResultBody>()),
        broker(bench_config(), clock, transport) {
    std::vector<Advert> adverts;
    for (const Key& key : keys) adverts.push_back(Advert{key, kCapacity});
    const auto join = [&](int id) {
      const JoinResult joined = broker.worker_joined(JoinRequest{
          static_cast<WorkerId>(id), kSecret, "10.0.0.1:" + std::to_string(id), adverts});
      if (joined.verdict != JoinVerdict::kAccepted) ok = false;
    };
    const int full = worker_count / 2;
    for (int id = 1; id <= full; ++id) join(id);
    // Only the first half is live yet: 2 x K jobs per worker fill it, and are never reported.
    for (int i = 0; i < full * static_cast<int>(kCapacity); ++i) {
      for (const Key& key : keys) {
        broker.submit(key, payload, [this](const JobOutcome&) { ok = false; });
      }
    }
    for (int id = full + 1; id <= worker_count; ++id) join(id);
    for (int i = 0; i < warm_up_jobs(worker_count, key_count); ++i) ok = ok && dispatch_and_complete();
    for (const Key& key : keys) {
      const std::optional<KeyView> view = broker.key_view(key);
      if (!view || view->in_use != static_cast<std::uint64_t>(full) * kCapacity ||
          view->capacity != static_cast<std::uint64_t>(worker_count) * kCapacity ||
          view->workers != static_cast<std::size_t>(worker_count) || view->waiting != 0) {
        ok = false;
      }
    }
  }

  // One job: dispatch, then its completion. False if anything went wrong.
  bool dispatch_and_complete() {
    const Key& key = keys[next_key];
    next_key = next_key + 1 == keys.size() ? 0 : next_key + 1;
    const TaskId before = transport.last_task;
    bool done = false;
    broker.submit(key, payload, [&done](const JobOutcome& outcome) {
      done = outcome.status == JobStatus::kOk;
    });
    if (transport.last_task == before) return false;  // not dispatched at once
    Report report;
    report.credentials = kSecret;
    report.task = transport.last_task;
    report.from = transport.last_worker;
    report.ok = true;
    report.result = result;
    return broker.report(report) == ReportVerdict::kAccepted && done;
  }

  std::uint64_t busy_slots() const {
    std::uint64_t sum = 0;
    for (const Key& key : keys) sum += broker.key_view(key)->in_use;
    return sum;
  }

  std::vector<Key> keys;
  Payload payload;
  ResultPtr result;
  NullClock clock;
  RecordingTransport transport;
  Broker broker;
  std::size_t next_key = 0;
  bool ok = true;
};

// The core's selection alone: a WorkerPool with the same workers, keys and full half.
struct SelectionFixture {
  SelectionFixture(int worker_count, int key_count) : key_count(static_cast<std::uint32_t>(key_count)) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> seats;
    for (const Key& key : make_keys(key_count)) seats.emplace_back(pool.intern_key(key), kCapacity);
    const int full = worker_count / 2;
    for (int id = 1; id <= worker_count; ++id) {
      Worker& worker = pool.add(static_cast<WorkerId>(id), "10.0.0.1:" + std::to_string(id), 0, seats);
      if (id > full) continue;
      for (Seat& seat : worker.seats) {
        while (seat.has_free_slot()) pool.take_slot(seat);
      }
    }
    for (int i = 0; i < warm_up_jobs(worker_count, key_count); ++i) ok = ok && dispatch_and_complete();
  }

  bool dispatch_and_complete() {
    const std::uint32_t key = next_key;
    next_key = next_key + 1 == key_count ? 0 : next_key + 1;
    Seat* seat = pool.pick(key, [](const Seat&) { return true; });  // a first attempt: nothing tried
    if (seat == nullptr) return false;
    pool.take_slot(*seat);
    pool.give_slot(*seat);
    return true;
  }

  std::uint64_t busy_slots() const {
    std::uint64_t sum = 0;
    for (std::uint32_t key = 0; key < key_count; ++key) sum += pool.ledger().totals(key).in_use;
    return sum;
  }

  WorkerPool pool;
  std::uint32_t key_count;
  std::uint32_t next_key = 0;
  bool ok = true;
};

// ------------------------------------------------------------------ baseline

// go-livepeer's selection (reference 5.3): scan the workers in registration order
// from index 0 and take the first with a free slot for the key.
struct NaiveFixture {
  NaiveFixture(int worker_count, int key_count) : key_count(static_cast<std::size_t>(key_count)) {
    workers.resize(static_cast<std::size_t>(worker_count));
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const std::uint32_t free = i < workers.size() / 2 ? 0 : kCapacity;  // first half full
      workers[i].free.assign(this->key_count, free);
    }
    for (int i = 0; i < warm_up_jobs(worker_count, key_count); ++i) ok = ok && dispatch_and_complete();
  }

  // The worker that takes the job, or npos if none has a free slot.
  std::size_t dispatch(std::size_t key) {
    for (std::size_t i = 0; i < workers.size(); ++i) {
      std::uint32_t& free = workers[i].free[key];
      if (free > 0) {
        --free;
        return i;
      }
    }
    return npos;
  }
  void complete(std::size_t worker, std::size_t key) { ++workers[worker].free[key]; }

  bool dispatch_and_complete() {
    const std::size_t key = next_key;
    next_key = next_key + 1 == key_count ? 0 : next_key + 1;
    const std::size_t worker = dispatch(key);
    benchmark::DoNotOptimize(worker);
    if (worker == npos) return false;
    complete(worker, key);
    return true;
  }

  std::uint64_t busy_slots() const {
    std::uint64_t sum = 0;
    for (const Record& worker : workers) {
      for (std::uint32_t free : worker.free) sum += kCapacity - free;
    }
    return sum;
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct Record {
    std::vector<std::uint32_t> free;  // free slots per key index
  };
  std::vector<Record> workers;
  std::size_t key_count;
  std::size_t next_key = 0;
  bool ok = true;
};

// ------------------------------------------------------------------ benchmarks

// Building a fixture with 10,000 workers and 50 keys submits 500,000 jobs (about
// 1 s and 180 MB), so each fixture is built once and kept for the whole run: the
// repeated calls Google Benchmark makes and the shuffled repetitions of
// --benchmark_enable_random_interleaving all reuse it. Every iteration leaves the
// fixture with the same jobs and busy slots as before.
template <typename Fixture>
Fixture& fixture_for(int workers, int keys) {
  static std::map<std::pair<int, int>, std::unique_ptr<Fixture>> built;
  std::unique_ptr<Fixture>& fixture = built[{workers, keys}];
  if (!fixture) fixture = std::make_unique<Fixture>(workers, keys);
  return *fixture;
}

template <typename Fixture>
void run_family(benchmark::State& state, int workers, int keys) {
  Fixture& f = fixture_for<Fixture>(workers, keys);
  if (!f.ok) {
    state.SkipWithError("setup did not give the expected state");
    return;
  }
  bool ok = true;
  for (auto _ : state) ok &= f.dispatch_and_complete();
  if (!ok) {
    state.SkipWithError("a job was not dispatched at once or not completed");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["busy_slots"] = static_cast<double>(f.busy_slots());
}

struct Family {
  const char* name;
  void (*run)(benchmark::State&, int, int);
};
// Run side by side for each size, so that all three see about the same noise.
const Family kFamilies[] = {
    {"core", run_family<CoreFixture>},
    {"core_selection", run_family<SelectionFixture>},
    {"naive_first_fit", run_family<NaiveFixture>},
};

std::string name_of(const char* family, int workers, int keys) {
  return std::string(family) + "/workers:" + std::to_string(workers) + "/keys:" + std::to_string(keys);
}

// ------------------------------------------------------------------ summary

double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

enum class Stat { kMedian, kMin };

// Passes everything to the console reporter and keeps, per benchmark, the CPU time
// per iteration of each repetition (or the median and min aggregates when only
// aggregates are reported).
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(OO_Tabular) {}  // no colour codes in logs

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") medians_[name] = run.GetAdjustedCPUTime();
        if (run.aggregate_name == "min") mins_[name] = run.GetAdjustedCPUTime();
      } else {
        samples_[name].push_back(run.GetAdjustedCPUTime());
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // ns per iteration, or -1 when the benchmark did not run.
  double ns(Stat stat, const char* family, int workers, int keys) const {
    const std::string name = name_of(family, workers, keys);
    const auto& aggregates = stat == Stat::kMedian ? medians_ : mins_;
    if (auto it = aggregates.find(name); it != aggregates.end()) return it->second;
    auto it = samples_.find(name);
    if (it == samples_.end() || it->second.empty()) return -1;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    if (stat == Stat::kMin) return v.front();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

 private:
  std::map<std::string, double> medians_;
  std::map<std::string, double> mins_;
  std::map<std::string, std::vector<double>> samples_;
};

std::string cell(const char* format, double value) {
  if (value <= 0) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

double ratio(double a, double b) { return a > 0 && b > 0 ? a / b : -1; }

// Returns false if a goal was missed.
bool print_summary(const SummaryReporter& r, Stat stat) {
  constexpr double kScalingGoal = 1.5;  // core(10,000 workers) / core(10 workers)
  constexpr double kCostGoalNs = 1000;  // per dispatch plus completion
  const char* stat_name = stat == Stat::kMedian ? "median" : "min";
  std::printf("\nSummary (%s): CPU ns per dispatch+completion in this run\n", stat_name);
  std::printf("%-5s %8s %9s %10s %10s %11s %11s\n", "keys", "workers", "core", "core_sel", "naive",
              "core/naive", "sel/naive");
  bool met = true;
  bool any = false;
  for (int keys : kKeyCounts) {
    for (int workers : kWorkerCounts) {
      const double core = r.ns(stat, "core", workers, keys);
      const double sel = r.ns(stat, "core_selection", workers, keys);
      const double naive = r.ns(stat, "naive_first_fit", workers, keys);
      if (core < 0 && sel < 0 && naive < 0) continue;
      std::printf("%-5d %8d %9s %10s %10s %11s %11s\n", keys, workers, cell("%.1f", core).c_str(),
                  cell("%.1f", sel).c_str(), cell("%.1f", naive).c_str(),
                  cell("%.3g", ratio(core, naive)).c_str(), cell("%.3g", ratio(sel, naive)).c_str());
      if (core > 0) {
        any = true;
        if (core >= kCostGoalNs) met = false;
      }
    }
  }
  if (any) {
    std::printf("(%s) core under %.0f ns per dispatch+completion at every size run: %s\n", stat_name,
                kCostGoalNs, met ? "met" : "MISSED");
  }
  const int small = kWorkerCounts.front();
  const int large = kWorkerCounts.back();
  for (int keys : kKeyCounts) {
    const auto growth = [&](const char* family) {
      return ratio(r.ns(stat, family, large, keys), r.ns(stat, family, small, keys));
    };
    const double core = growth("core");
    if (core < 0 && growth("core_selection") < 0 && growth("naive_first_fit") < 0) continue;
    std::printf("(%s) keys %d, %d/%d workers: core %s (goal <= %.1f: %s), core_selection %s, naive %s\n",
                stat_name, keys, large, small, cell("%.2f", core).c_str(), kScalingGoal,
                core < 0 ? "not run" : core <= kScalingGoal ? "met" : "MISSED",
                cell("%.2f", growth("core_selection")).c_str(), cell("%.1f", growth("naive_first_fit")).c_str());
    if (core > kScalingGoal) met = false;
  }
  return met;
}

// --loop=FAMILY:W:K:N builds one fixture and runs N iterations untimed, for
// valgrind or perf. Returns the exit status; nullopt when the flag is absent.
std::optional<int> run_loop(int argc, char** argv) {
  const std::string prefix = "--loop=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(prefix, 0) != 0) continue;
    char family[32] = {};
    int workers = 0;
    int keys = 0;
    long long n = 0;
    if (std::sscanf(arg.c_str() + prefix.size(), "%31[a-z_]:%d:%d:%lld", family, &workers, &keys, &n) != 4 ||
        workers < 2 || keys < 1 || n < 0) {
      std::fprintf(stderr, "usage: --loop=FAMILY:WORKERS:KEYS:ITERATIONS (FAMILY: core, core_selection, naive_first_fit)\n");
      return 2;
    }
    const auto loop = [&](auto& fixture) {
      bool ok = fixture.ok;
      for (long long j = 0; j < n; ++j) ok &= fixture.dispatch_and_complete();
      std::printf("%s: %lld iterations %s\n", arg.c_str(), n, ok ? "ok" : "FAILED");
      return ok ? 0 : 1;
    };
    const std::string name = family;
    if (name == "core") return loop(fixture_for<CoreFixture>(workers, keys));
    if (name == "core_selection") return loop(fixture_for<SelectionFixture>(workers, keys));
    if (name == "naive_first_fit") return loop(fixture_for<NaiveFixture>(workers, keys));
    std::fprintf(stderr, "unknown family %s\n", family);
    return 2;
  }
  return std::nullopt;
}

}  // namespace
}  // namespace aipool

int main(int argc, char** argv) {
  using namespace aipool;
  if (const std::optional<int> status = run_loop(argc, argv)) return *status;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (int keys : kKeyCounts) {
    for (int workers : kWorkerCounts) {
      for (const Family& family : kFamilies) {
        benchmark::RegisterBenchmark(name_of(family.name, workers, keys).c_str(), family.run, workers, keys)
            ->Unit(benchmark::kNanosecond)
            ->ComputeStatistics("min", min_of);
      }
    }
  }
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter, Stat::kMedian);
  print_summary(reporter, Stat::kMin);
  benchmark::Shutdown();
  return 0;
}
