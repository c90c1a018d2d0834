// File: pool_metrics.h
// The orchestrator's Prometheus metrics (spec/metrics.md MET-1..MET-6): the
// registry, the counters and histograms the job path updates, and the pool's gauges
// set at each scrape. Built on prometheus-cpp's core registry and text serializer;
// the text is served by our own HTTP server (GET /metrics), not by prometheus-cpp's
// exposer.
//
// Threads: every method except render() must be called under the orchestrator's
// core mutex (it guards the map of per-key series, so the job path takes no lock of
// its own: a counter is an atomic, a histogram has its own small mutex).
// render() is called without it, after set_pool(). Errors: none; label values are
// escaped by the serializer, and at most `max_models` distinct (pipeline, model)
// pairs get series of their own (MET-2): the rest share model_name="_other".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/attempt_observer.h"
#include "core/broker.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace aipool::net {

// The buckets of every seconds histogram (MET-3, MET-7): 1 ms to 300 s.
const std::vector<double>& seconds_buckets();

// A family registered in `registry` under `name` with `help` (both metrics files).
prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& registry, const std::string& name,
                                                        const std::string& help);
prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& registry, const std::string& name,
                                                    const std::string& help);
prometheus::Family<prometheus::Histogram>& histogram_family(prometheus::Registry& registry, const std::string& name,
                                                            const std::string& help);

class PoolMetrics {
 public:
  explicit PoolMetrics(std::size_t max_models);
  ~PoolMetrics();
  PoolMetrics(const PoolMetrics&) = delete;
  PoolMetrics& operator=(const PoolMetrics&) = delete;

  // An API request admitted for `key` (MET-3: livepeer_ai_models_requested_total).
  void job_requested(const Key& key);
  // A job's outcome, `seconds` after it was submitted; `http_status` is the status
  // of its answer (MET-3, MET-4); `work_units`: its size for the latency score
  // (MET-10; 0: none).
  void job_finished(const Key& key, const JobOutcome& outcome, int http_status, double seconds,
                    double work_units = 0);
  // One attempt's start: a job's first gives its queue wait (MET-3).
  void attempt_started(const AttemptEvent& event);
  // One attempt's end (MET-4), also counted for its worker (MET-9), whose last error
  // it may be (at `wall_unix` seconds).
  void attempt_ended(const AttemptEvent& event, std::int64_t wall_unix = 0);
  // The worker left: its series go (MET-9).
  void worker_left(WorkerId worker);
  // The pool as the core sees it at a scrape (MET-5): per key capacity, in use and
  // waiting jobs, and the number of live workers. Keys absent from `keys` read 0.
  void set_pool(const std::vector<KeyView>& keys, std::size_t live_workers);
  // The registry in the Prometheus text format (version 0.0.4).
  std::string render() const;

 private:
  struct KeySeries;
  struct WorkerSeries;
  KeySeries& series(const Key& key);
  void worker_attempt(const AttemptEvent& event, std::int64_t wall_unix);

  const std::size_t max_models_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requested_;
  prometheus::Family<prometheus::Counter>* jobs_;
  prometheus::Family<prometheus::Counter>* refused_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Counter>* attempts_;
  prometheus::Family<prometheus::Counter>* retries_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Histogram>* queue_wait_;
  prometheus::Family<prometheus::Gauge>* capacity_;
  prometheus::Family<prometheus::Gauge>* in_use_;
  prometheus::Family<prometheus::Gauge>* idle_;
  prometheus::Family<prometheus::Gauge>* queue_;
  prometheus::Family<prometheus::Gauge>* latency_score_;
  prometheus::Gauge* workers_;
  prometheus::Family<prometheus::Counter>* worker_attempts_;
  prometheus::Family<prometheus::Gauge>* worker_last_error_;
  std::map<WorkerId, std::unique_ptr<WorkerSeries>> worker_series_;
  // By pipeline, then model (found without copying the model's name).
  std::map<Pipeline, std::map<std::string, std::unique_ptr<KeySeries>, std::less<>>> series_;
  std::size_t series_count_ = 0;
};

}  // namespace aipool::net
