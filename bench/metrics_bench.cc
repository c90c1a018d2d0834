// What the orchestrator's metrics (spec/metrics.md) add to one job, against a
// baseline in the same run: the core's own cost of the same job (a Broker with one
// worker: submit, the job notice, the report, the outcome), with and without the
// metrics calls the orchestrator makes for it (MET-3, MET-4, MET-6). Prints the
// ratio after the runs.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "core/broker.h"
#include "net/pool_metrics.h"
#include "seams/clock.h"
#include "seams/transport.h"

namespace {

using namespace aipool;

class NoClock final : public Clock {
 public:
  Micros now() const override { return 0; }
  void arm_timer(TimerId, Micros) override {}
  void cancel_timer(TimerId) override {}
};

class LastNotice final : public WorkerTransport {
 public:
  bool send(const JobNotice& notice) override {
    task = notice.task;
    return true;
  }
  void close(WorkerId, std::string_view) override {}
  TaskId task = 0;
};


void one_job(benchmark::State& state, bool with_metrics) {
  NoClock clock;
  LastNotice transport;
  BrokerConfig config;
  config.secret = "s";
  config.task_id_key = SipKey{1, 2};
  Broker broker(config, clock, transport);
  net::PoolMetrics metrics(256);
  struct Observer final : AttemptObserver {
    net::PoolMetrics* m = nullptr;
    void attempt_started(const AttemptEvent&) override {}
    void attempt_ended(const AttemptEvent& e) override {
      if (m != nullptr) m->attempt_ended(e);
    }
  } observer;
  observer.m = with_metrics ? &metrics : nullptr;
  broker.set_observer(&observer);
  const Key key{Pipeline::kTextToImage, "test/echo"};
  JoinRequest join;
  join.id = 7;
  join.secret = "s";
  join.adverts = {Advert{key, 4}};
  broker.worker_joined(join);
  auto payload = std::make_shared<const std::string>(R"({"model_id":"test/echo","prompt":"p"})");
  auto result = std::make_shared<const ResultBody>();
  for (auto _ : state) {
    if (with_metrics) metrics.job_requested(key);
    broker.submit(key, payload, [&](const JobOutcome& outcome) {
      if (with_metrics) metrics.job_finished(key, outcome, 200, 0.0004);
    });
    Report report;
    report.credentials = "s";
    report.task = transport.task;
    report.ok = true;
    report.result = result;
    benchmark::DoNotOptimize(broker.report(report));
  }
}

void BM_JobCore(benchmark::State& state) { one_job(state, false); }
void BM_JobCoreWithMetrics(benchmark::State& state) { one_job(state, true); }
BENCHMARK(BM_JobCore)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(BM_JobCoreWithMetrics)->Repetitions(5)->ReportAggregatesOnly(true);

class Ratio final : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.aggregate_name != "median") continue;
      const bool with = run.benchmark_name().find("WithMetrics") != std::string::npos;
      medians_[with] = run.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    if (medians_.size() == 2 && medians_[false] > 0) {
      std::printf("metrics add %.0f ns per job to the core's %.0f ns (median of 5): ratio %.3f\n",
                  medians_[true] - medians_[false], medians_[false], medians_[true] / medians_[false]);
    }
  }

 private:
  std::map<bool, double> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Ratio reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  return 0;
}
