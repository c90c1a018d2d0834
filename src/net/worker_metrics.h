// File: worker_metrics.h
// The worker's Prometheus metrics (spec/metrics.md MET-7), served on -metricsAddr:
// jobs by outcome, jobs running, executor time, result uploads (go-livepeer's
// livepeer_ai_result_uploaded_total and livepeer_ai_result_upload_time_seconds) and
// slots in use and idle, per served (pipeline, model).
//
// Threads: every method may be called from any thread. All series are made in the
// constructor, for the keys the worker serves and the orchestrators it serves, so the
// job path only reads the maps and updates atomics (histograms have their own small
// mutex). Events for other keys or orchestrators are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "seams/types.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace aipool::net {

class WorkerMetrics {
 public:
  // `adverts`: the served keys and their capacities; `orchestrators`: their names as
  // the worker logs them (host:port).
  WorkerMetrics(const std::vector<Advert>& adverts, const std::vector<std::string>& orchestrators);
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  void job_started(const Key& key);
  // The executor finished after `seconds`; ok: it made a result.
  void job_finished(const Key& key, bool ok, double seconds);
  // A job refused before it ran (at capacity, not served, stopping).
  void job_refused(const Key& key);
  // A result post to `orchestrator` ended: accepted (2xx) or not, after `seconds`.
  void result_posted(const Key& key, const std::string& orchestrator, bool accepted, double seconds);
  // GPU `id`'s memory now (where CUDA is present), set before a render.
  void set_gpu_memory(const std::string& id, const std::string& name, std::int64_t used, std::int64_t total);
  // The registry in the Prometheus text format (version 0.0.4).
  std::string render() const;

 private:
  struct KeySeries;
  struct UploadSeries;
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<Key, std::unique_ptr<KeySeries>> keys_;
  std::map<std::pair<Key, std::string>, std::unique_ptr<UploadSeries>> uploads_;
  mutable std::mutex gpu_mutex_;  // scrapes may overlap
  std::map<std::string, std::pair<prometheus::Gauge*, prometheus::Gauge*>> gpus_;  // used, total

};

}  // namespace aipool::net
