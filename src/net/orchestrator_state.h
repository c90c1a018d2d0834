// File: orchestrator_state.h
// Internal to the orchestrator node (orchestrator_node.cc, orchestrator_http.cc):
// the state its gRPC hooks, HTTP handlers and timer share, and the small guards
// around it. Not for use outside src/net's orchestrator files.
//
// Threads: gRPC callback threads, the HTTP server's threads, the clock's timer thread
// and the worker-stream strand all call the Broker under `core_mutex`, one at a time, always
// through CoreLock (or a plain lock for read-only views).
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "codec/text.h"
#include "core/broker.h"
#include "net/async_store.h"
#include "net/orchestrator_access.h"
#include "net/orchestrator_node.h"
#include "net/orchestrator_stream.h"
#include "net/os_random.h"
#include "net/log_line.h"
#include "net/pool_history.h"
#include "net/pool_metrics.h"
#include "net/worker_health.h"
#include "net/real_clock.h"
#include "net/webhook_sender.h"
#include "net/worker_streams.h"

namespace aipool::net {

// Now, in seconds since the Unix epoch (for operators: join times, error times, the
// dashboard's seconds).
inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// API-11: one log line per attempt, from the core's attempt events; MET-4: each
// attempt's end counted in the metrics; API-13: and in its worker's health.
class AttemptLog final : public AttemptObserver {
 public:
  AttemptLog(PoolMetrics& metrics, WorkerHealthBook& health) : metrics_(metrics), health_(health) {}
  void attempt_started(const AttemptEvent& e) override {
    spdlog::debug("attempt task={} job={} {} {} worker={} sent", e.task, e.job, pipeline_name(e.key->pipeline),
                  codec::log_safe(e.key->model), e.worker);
    metrics_.attempt_started(e);
  }
  void attempt_ended(const AttemptEvent& e) override {
    if (json_logs()) {  // LOG-2
      LogFields line("attempt");
      line.add_id("task", static_cast<std::uint64_t>(e.task)).add("job", e.job);
      line.add("pipeline", pipeline_name(e.key->pipeline)).add("model", e.key->model).add_id("worker", e.worker);
      line.add("outcome", attempt_end_name(e.end));
      line.add("ms", static_cast<double>(e.ended_at - e.sent_at) / 1000.0);
      if (!e.detail.empty()) line.add("reason", e.detail);
      spdlog::info("{}", line.json());
    } else {
      spdlog::info("attempt task={} job={} {} {} worker={} outcome={} ms={:.2f}{}{}", e.task, e.job,
                 pipeline_name(e.key->pipeline), codec::log_safe(e.key->model), e.worker, attempt_end_name(e.end),
                 static_cast<double>(e.ended_at - e.sent_at) / 1000.0, e.detail.empty() ? "" : " reason=",
                 codec::log_safe(e.detail));
    }
    const std::int64_t now = unix_seconds();
    metrics_.attempt_ended(e, now);
    health_.attempt_ended(e, now);
  }

 private:
  PoolMetrics& metrics_;
  WorkerHealthBook& health_;
};

struct OrchestratorNode::Shared {
  explicit Shared(OrchestratorConfig config_)
      : config(std::move(config_)), key_in_flight(config.api_keys.get()), metrics(config.metrics_max_models) {}
  const OrchestratorConfig config;
  KeyInFlight key_in_flight;  // SEC-5
  PoolMetrics metrics;        // MET-1; updated under core_mutex
  WorkerHealthBook health;    // API-13; under core_mutex
  PoolHistory history;        // API-14; under core_mutex
  AttemptLog attempt_log{metrics, health};
  std::mutex core_mutex;  // guards broker, joined_wall_unix and gpus_json
  std::unique_ptr<RealClock> clock;
  std::unique_ptr<WorkerStreams> streams;
  std::unique_ptr<Broker> broker;
  std::map<WorkerId, std::int64_t> joined_wall_unix;  // for /workers
  std::map<WorkerId, std::string> gpus_json;          // for /workers (MODEL-19)
  // STOP-1: set first by stop(); API requests waiting for a job end with 503.
  std::atomic<bool> stopping{false};
  std::set<JobId> waiting_jobs;  // API jobs without an outcome yet; under core_mutex
  // Streamed llm jobs without an outcome yet (LLM-3), for their workers' posts; under core_mutex.
  std::map<JobId, std::shared_ptr<ClientStream>> client_streams;
  // spec/async.md: the asynchronous jobs (under core_mutex), the source of their ids
  // (ASYNC-2) and their callbacks' sender (ASYNC-9; made at start, stopped at stop).
  AsyncStore async_jobs{config.async};
  OsRandom random;
  std::unique_ptr<WebhookSender> webhooks;
};

// ASYNC-4: hands queued asynchronous jobs to the Broker while their keys have room.
// Under the core's mutex, outside any Broker call (CoreLock's end calls it).
void feed_async_jobs(OrchestratorNode::Shared& shared);

// The core's mutex, taken for one core call. Job notices the core sends meanwhile
// start on the wire when the lock is released (WorkerStreams::DeferWrites), so no
// socket write happens under the mutex. Members are released in reverse order:
// the mutex first, then the writes start.
// Before the mutex goes, queued asynchronous jobs are handed to the Broker as the
// call may have made room for them (ASYNC-4).
struct CoreLock {
  explicit CoreLock(OrchestratorNode::Shared& shared_) : shared(shared_), lock(shared_.core_mutex) {}
  ~CoreLock() { feed_async_jobs(shared); }
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;
  OrchestratorNode::Shared& shared;
  WorkerStreams::DeferWrites defer;
  std::lock_guard<std::mutex> lock;
};

}  // namespace aipool::net
