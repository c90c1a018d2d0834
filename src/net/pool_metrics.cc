#include "net/pool_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <sstream>
#include <string_view>

namespace aipool::net {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

constexpr std::string_view kOther = "_other";

// An outcome's name as a label value: "all workers failed" -> "all_workers_failed".
std::string label_value(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == ' ') c = '_';
  }
  return out;
}

}  // namespace

Family<Counter>& counter_family(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

Family<Gauge>& gauge_family(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

Family<Histogram>& histogram_family(prometheus::Registry& registry, const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

// From a cached small job to a long video one.
const std::vector<double>& seconds_buckets() {
  static const std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,    5,     10,   30,    60,   120,  300};
  return buckets;
}

// The series of one (pipeline, model) pair; created on first use, kept for good.
struct PoolMetrics::KeySeries {
  Labels labels;
  Counter* requested = nullptr;
  Counter* refused = nullptr;
  Counter* retries = nullptr;
  Histogram* latency = nullptr;
  Histogram* queue_wait = nullptr;
  Gauge* capacity = nullptr;
  Gauge* in_use = nullptr;
  Gauge* idle = nullptr;
  Gauge* queue = nullptr;
  Gauge* latency_score = nullptr;
  std::array<Counter*, 8> jobs{};      // by JobStatus, made on first use
  std::array<Counter*, 8> attempts{};  // by AttemptEnd, made on first use
  std::map<std::string, Counter*> errors;  // by HTTP status
};

// One live worker's series (MET-9).
struct PoolMetrics::WorkerSeries {
  std::string id;
  std::array<Counter*, 8> attempts{};  // by AttemptEnd
  Gauge* last_error = nullptr;         // labelled with the error's text; null before one
};

PoolMetrics::PoolMetrics(std::size_t max_models)
    : max_models_(max_models), registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  requested_ = &counter_family(r, "livepeer_ai_models_requested_total", "API requests admitted, by pipeline and model");
  jobs_ = &counter_family(r, "aipool_jobs_total", "Jobs ended, by pipeline, model and outcome");
  refused_ = &counter_family(r, "aipool_jobs_refused_capacity_total",
                      "Jobs refused for lack of capacity (no live worker with the model, or its queue full)");
  errors_ = &counter_family(r, "livepeer_ai_request_errors_total",
                     "Jobs that ended in an error, by the HTTP status of the answer (error_code), pipeline and model");
  attempts_ = &counter_family(r, "aipool_attempts_total", "Attempts ended, by pipeline, model and how they ended");
  retries_ = &counter_family(r, "aipool_retries_total", "Attempts beyond a job's first, by pipeline and model");
  latency_ = &histogram_family(r, "aipool_job_latency_seconds",
                              "From a job's admission to its outcome, by pipeline and model");
  queue_wait_ = &histogram_family(r, "aipool_queue_wait_seconds",
                                  "From a job's admission to its first attempt's dispatch, by pipeline and model");
  capacity_ = &gauge_family(r, "aipool_capacity_slots", "Slots the live workers offer, by pipeline and model");
  in_use_ = &gauge_family(r, "livepeer_ai_container_in_use", "Slots running an attempt, by pipeline and model");
  idle_ = &gauge_family(r, "livepeer_ai_container_idle", "Slots free, by pipeline and model");
  queue_ = &gauge_family(r, "aipool_queue_length", "Jobs waiting for a slot, by pipeline and model");
  latency_score_ = &gauge_family(r, "livepeer_ai_request_latency_score",
                          "The last ok job's seconds per unit of work (go-livepeer's score), by pipeline and model");
  workers_ = &gauge_family(r, "aipool_workers_live", "Workers connected and registered").Add({});
  worker_attempts_ = &counter_family(r, "aipool_worker_attempts_total", "Attempts ended, by live worker and how they ended");
  worker_last_error_ = &gauge_family(r, "aipool_worker_last_error_timestamp_seconds",
                              "When a live worker's last failed attempt ended (Unix seconds), its text in error");
}

PoolMetrics::~PoolMetrics() = default;

PoolMetrics::KeySeries& PoolMetrics::series(const Key& key) {
  auto& models = series_[key.pipeline];
  auto it = models.find(std::string_view(key.model));
  if (it != models.end()) return *it->second;
  std::string model = key.model;
  if (series_count_ >= max_models_) {  // MET-2: the rest share one series per pipeline
    model = std::string(kOther);
    it = models.find(std::string_view(model));
    if (it != models.end()) return *it->second;
  }
  auto made = std::make_unique<KeySeries>();
  KeySeries& s = *made;
  s.labels = {{"pipeline", std::string(pipeline_name(key.pipeline))}, {"model_name", model}};
  s.requested = &requested_->Add(s.labels);
  s.refused = &refused_->Add(s.labels);
  s.retries = &retries_->Add(s.labels);
  s.latency = &latency_->Add(s.labels, seconds_buckets());
  s.queue_wait = &queue_wait_->Add(s.labels, seconds_buckets());
  s.capacity = &capacity_->Add(s.labels);
  s.in_use = &in_use_->Add(s.labels);
  s.idle = &idle_->Add(s.labels);
  s.queue = &queue_->Add(s.labels);
  s.latency_score = &latency_score_->Add(s.labels);
  models.emplace(std::move(model), std::move(made));
  ++series_count_;
  return s;
}

namespace {

// The counter of `family` for the series' labels plus one more, created once.
Counter& labelled(std::map<std::string, Counter*>& cache, Family<Counter>& family, const Labels& base,
                  const std::string& name, const std::string& value) {
  auto it = cache.find(value);
  if (it != cache.end()) return *it->second;
  Labels labels = base;
  labels.emplace(name, value);
  Counter& c = family.Add(labels);
  cache.emplace(value, &c);
  return c;
}

// The counter of `family` in `slot`, with the series' labels plus outcome=`name`.
Counter& outcome_counter(Counter*& slot, Family<Counter>& family, const Labels& base, std::string_view name) {
  if (slot == nullptr) {
    Labels labels = base;
    labels.emplace("outcome", label_value(name));
    slot = &family.Add(labels);
  }
  return *slot;
}

}  // namespace

void PoolMetrics::job_requested(const Key& key) { series(key).requested->Increment(); }

void PoolMetrics::job_finished(const Key& key, const JobOutcome& outcome, int http_status, double seconds,
                               double work_units) {
  KeySeries& s = series(key);
  if (outcome.status == JobStatus::kOk && work_units > 0) s.latency_score->Set(seconds / work_units);
  const auto status = static_cast<std::size_t>(outcome.status);
  if (status < s.jobs.size()) outcome_counter(s.jobs[status], *jobs_, s.labels, job_status_name(outcome.status)).Increment();
  if (outcome.status == JobStatus::kNoWorker || outcome.status == JobStatus::kQueueFull) s.refused->Increment();
  if (outcome.status != JobStatus::kOk) {
    labelled(s.errors, *errors_, s.labels, "error_code", std::to_string(http_status)).Increment();
  }
  if (outcome.attempts > 1) s.retries->Increment(static_cast<double>(outcome.attempts - 1));
  s.latency->Observe(seconds);
}

void PoolMetrics::attempt_started(const AttemptEvent& event) {
  if (event.key == nullptr || event.attempt != 1) return;
  series(*event.key).queue_wait->Observe(static_cast<double>(event.sent_at - event.job_submitted_at) / 1e6);
}

void PoolMetrics::attempt_ended(const AttemptEvent& event, std::int64_t wall_unix) {
  if (event.key == nullptr) return;
  if (event.worker != 0) worker_attempt(event, wall_unix);
  KeySeries& s = series(*event.key);
  const auto end = static_cast<std::size_t>(event.end);
  if (end < s.attempts.size()) outcome_counter(s.attempts[end], *attempts_, s.labels, attempt_end_name(event.end)).Increment();
}

void PoolMetrics::worker_attempt(const AttemptEvent& event, std::int64_t wall_unix) {
  std::unique_ptr<WorkerSeries>& slot = worker_series_[event.worker];
  if (!slot) {
    slot = std::make_unique<WorkerSeries>();
    slot->id = std::to_string(event.worker);
  }
  WorkerSeries& w = *slot;
  const auto end = static_cast<std::size_t>(event.end);
  if (end < w.attempts.size()) {
    outcome_counter(w.attempts[end], *worker_attempts_, {{"worker", w.id}}, attempt_end_name(event.end)).Increment();
  }
  const bool failure = event.end == AttemptEnd::kWorkerError || event.end == AttemptEnd::kSendFailure ||
                       event.end == AttemptEnd::kDisconnect || event.end == AttemptEnd::kTimeout;
  if (!failure) return;
  if (w.last_error != nullptr) worker_last_error_->Remove(w.last_error);
  std::string text(attempt_end_name(event.end));
  if (!event.detail.empty()) text += ": " + std::string(event.detail.substr(0, 200));
  w.last_error = &worker_last_error_->Add({{"worker", w.id}, {"error", text}});
  w.last_error->Set(static_cast<double>(wall_unix));
}

void PoolMetrics::worker_left(WorkerId worker) {
  const auto it = worker_series_.find(worker);
  if (it == worker_series_.end()) return;
  for (Counter* c : it->second->attempts) {
    if (c != nullptr) worker_attempts_->Remove(c);
  }
  if (it->second->last_error != nullptr) worker_last_error_->Remove(it->second->last_error);
  worker_series_.erase(it);
}

void PoolMetrics::set_pool(const std::vector<KeyView>& keys, std::size_t live_workers) {
  for (auto& [pipeline, models] : series_) {
    for (auto& [model, s] : models) {
      s->capacity->Set(0);
      s->in_use->Set(0);
      s->idle->Set(0);
      s->queue->Set(0);
    }
  }
  for (const KeyView& view : keys) {
    KeySeries& s = series(view.key);  // "_other" sums the keys beyond the cap
    s.capacity->Increment(static_cast<double>(view.capacity));
    s.in_use->Increment(static_cast<double>(view.in_use));
    s.idle->Increment(static_cast<double>(view.capacity > view.in_use ? view.capacity - view.in_use : 0));
    s.queue->Increment(static_cast<double>(view.waiting));
  }
  workers_->Set(static_cast<double>(live_workers));
}

std::string PoolMetrics::render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace aipool::net
