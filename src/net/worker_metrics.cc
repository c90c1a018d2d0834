#include "net/worker_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "net/pool_metrics.h"

namespace aipool::net {
struct WorkerMetrics::KeySeries {
  std::uint32_t capacity = 0;
  prometheus::Counter* ok = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* refused = nullptr;
  prometheus::Gauge* running = nullptr;
  prometheus::Gauge* in_use = nullptr;
  prometheus::Gauge* idle = nullptr;
  prometheus::Histogram* executor = nullptr;
};

struct WorkerMetrics::UploadSeries {
  prometheus::Counter* uploaded = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Histogram* time = nullptr;
};

WorkerMetrics::WorkerMetrics(const std::vector<Advert>& adverts, const std::vector<std::string>& orchestrators)
    : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  auto& jobs = counter_family(r, "aipool_worker_jobs_total", "Jobs this worker ended, by pipeline, model and outcome (ok, error, refused)");
  auto& running = gauge_family(r, "aipool_worker_jobs_running", "Jobs in the executor now, by pipeline and model");
  auto& in_use = gauge_family(r, "livepeer_ai_container_in_use", "Slots running a job, by pipeline and model");
  auto& idle = gauge_family(r, "livepeer_ai_container_idle", "Slots free, by pipeline and model");
  auto& executor = histogram_family(r, "aipool_worker_executor_seconds", "From a job's arrival to its executor's result, by pipeline and model");
  auto& uploaded = counter_family(r, "livepeer_ai_result_uploaded_total", "Results the orchestrator accepted, by orchestrator, pipeline and model");
  auto& upload_failed = counter_family(r, "aipool_worker_result_upload_failed_total", "Result posts not accepted (refused, or no answer), by orchestrator, pipeline and model");
  auto& upload_time = histogram_family(r, "livepeer_ai_result_upload_time_seconds", "Time to post a result to the orchestrator, by orchestrator, pipeline and model");
  for (const Advert& advert : adverts) {
    const prometheus::Labels labels{{"pipeline", std::string(pipeline_name(advert.key.pipeline))},
                                    {"model_name", advert.key.model}};
    auto s = std::make_unique<KeySeries>();
    s->capacity = advert.capacity;
    const auto with_outcome = [&](const char* outcome) {
      prometheus::Labels l = labels;
      l.emplace("outcome", outcome);
      return &jobs.Add(l);
    };
    s->ok = with_outcome("ok");
    s->failed = with_outcome("error");
    s->refused = with_outcome("refused");
    s->running = &running.Add(labels);
    s->in_use = &in_use.Add(labels);
    s->idle = &idle.Add(labels);
    s->idle->Set(advert.capacity);
    s->executor = &executor.Add(labels, seconds_buckets());
    for (const std::string& orch : orchestrators) {
      prometheus::Labels l = labels;
      l.emplace("orchestrator_uri", orch);
      auto u = std::make_unique<UploadSeries>();
      u->uploaded = &uploaded.Add(l);
      u->failed = &upload_failed.Add(l);
      u->time = &upload_time.Add(l, seconds_buckets());
      uploads_.emplace(std::make_pair(advert.key, orch), std::move(u));
    }
    keys_.emplace(advert.key, std::move(s));
  }
}

WorkerMetrics::~WorkerMetrics() = default;

void WorkerMetrics::job_started(const Key& key) {
  const auto it = keys_.find(key);
  if (it == keys_.end()) return;
  it->second->running->Increment();
  it->second->in_use->Increment();
  it->second->idle->Decrement();
}

void WorkerMetrics::job_finished(const Key& key, bool ok, double seconds) {
  const auto it = keys_.find(key);
  if (it == keys_.end()) return;
  KeySeries& s = *it->second;
  s.running->Decrement();
  s.in_use->Decrement();  // the worker frees the slot before it posts the result
  s.idle->Increment();
  (ok ? s.ok : s.failed)->Increment();
  s.executor->Observe(seconds);
}

void WorkerMetrics::job_refused(const Key& key) {
  const auto it = keys_.find(key);
  if (it != keys_.end()) it->second->refused->Increment();
}

void WorkerMetrics::result_posted(const Key& key, const std::string& orchestrator, bool accepted, double seconds) {
  const auto u = uploads_.find(std::make_pair(key, orchestrator));
  if (u == uploads_.end()) return;
  (accepted ? u->second->uploaded : u->second->failed)->Increment();
  u->second->time->Observe(seconds);
}

void WorkerMetrics::set_gpu_memory(const std::string& id, const std::string& name, std::int64_t used,
                                   std::int64_t total) {
  std::lock_guard<std::mutex> lock(gpu_mutex_);
  auto it = gpus_.find(id);
  if (it == gpus_.end()) {
    const prometheus::Labels labels{{"gpu", id}, {"name", name}};
    auto& used_family =
        gauge_family(*registry_, "aipool_worker_gpu_memory_used_bytes",
                     "GPU memory in use (total minus free, as the CUDA runtime reports it), by GPU");
    auto& total_family = gauge_family(*registry_, "aipool_worker_gpu_memory_total_bytes", "GPU memory, by GPU");
    it = gpus_.emplace(id, std::make_pair(&used_family.Add(labels), &total_family.Add(labels))).first;
  }
  it->second.first->Set(static_cast<double>(used));
  it->second.second->Set(static_cast<double>(total));
}

std::string WorkerMetrics::render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace aipool::net
