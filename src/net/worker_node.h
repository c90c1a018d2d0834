// File: worker_node.h
// The worker process minus its flags: one gRPC registration stream per orchestrator
// (MULTI-1), one capacity per key shared by all of them (MULTI-2), a job pool that
// runs jobs through the Executor seam, and the result upload (RES-1..RES-3).
//
// Per orchestrator ("link"), one thread:
//   connect: RegisterAIWorker(RegisterRequest) with the secret and the per-model
//     capacities (WIRE-2, WIRE-3), then let the job pool read NotifyAIJob messages
//     until the stream ends. The reads pass from pool thread to pool thread: the
//     thread whose read returns a job admits it, hands the next read to another pool
//     thread and runs the job itself (no wake-up of another thread before a job
//     starts). The pool has one thread per slot plus one per orchestrator. The orchestrator's initial metadata names where results go
//     (`aipool-results-url`) and this worker's id there (`aipool-worker-id`);
//     without it results go to http://<host of the address>:<http port>/aiResults.
//   on stream end: a refusal is fatal (the status message `invalid secret`, or any
//     status UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION or
//     INVALID_ARGUMENT, or `zero capacity`): the node stops (draining as below)
//     and wait() returns kExitFatal. Anything else (UNAVAILABLE, a clean end, a reset)
//     is retried after Backoff's delay (RECON-1), reset after a session of at least
//     a minute (RECON-2); the wait is interrupted by request_stop().
// Per job: the key is (type, model_id of the JSON). A key the worker does not serve
// gets the error result `model not served by this worker: <pipeline>/<model>`; a
// key with no free slot gets `worker at capacity` at once (MULTI-2); during a stop,
// `worker is shutting down`. Otherwise the job takes a slot and runs on the job
// pool; its result is posted in the binary form when it has files (RES-3), in the
// JSON form otherwise (RES-2), unless the post would be larger than
// max_message_bytes: then the worker error `output of N bytes is larger than the
// limit of M bytes` is posted instead (RES-11). The slot is released when the
// executor is done.
// Error results are posted from a separate small pool, never by the reading thread.
//
// Stopping (request_stop, e.g. on SIGTERM): no new job is taken (each is answered
// `worker is shutting down` while the streams stay open), the running jobs finish
// and their results are posted, then the streams are closed and wait() returns.
//
// Contract: start() once, then wait() once from one thread (it does the shutdown);
// request_stop() from any thread, any number of times (not from a signal handler:
// use a signal-waiting thread). The Executor and Random must outlive the node;
// Random is only called under the node's lock. The secret is never logged; strings
// from orchestrators and jobs (model ids, error texts, answers, metadata) are escaped
// before they enter a log line (LOG-1).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/backoff.h"
#include "net/orchestrator_address.h"
#include "net/tls.h"
#include "seams/executor.h"
#include "seams/random.h"
#include "seams/types.h"

namespace aipool::net {

class WorkerMetrics;

struct WorkerConfig {
  std::vector<OrchestratorAddress> orchestrators;
  std::string secret;
  std::vector<Advert> adverts;       // per key capacity, advertised and enforced
  std::vector<std::string> gpu_ids;  // reported in RegisterRequest.gpus; empty: CPU
  // What the GPU probe found for gpu_ids (name, memory, compute capability), by id.
  struct Gpu {
    std::string id;
    std::string name;
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
    std::int64_t memory_free = 0;
    std::int64_t memory_total = 0;
  };
  std::vector<Gpu> gpus;
  std::string version;
  // The largest job message received (gRPC receive limit) and result post sent
  // (RES-11); at least 4096.
  int max_message_bytes = 64 << 20;
  std::uint16_t default_http_port = 8936;
  BackoffPolicy backoff;             // RECON-1, RECON-2
  int post_retries = 3;
  std::chrono::milliseconds post_retry_delay{100};
  std::chrono::milliseconds post_timeout{30000};
  std::size_t max_post_connections = 32;  // per orchestrator (RES-12)
  // MULTI-2: how long a job that finds its key full waits for a slot before it is
  // refused `worker at capacity`; 0: refused at once.
  std::chrono::milliseconds capacity_wait{1000};
  // SEC-8, SEC-9: how orchestrators are trusted over TLS (gRPC and result posts);
  // nullopt: plain text (-insecure).
  std::optional<TlsTrust> tls;
  // MET-7: counted here when set (not owned; outlives the node).
  WorkerMetrics* metrics = nullptr;
};

class WorkerNode {
 public:
  static constexpr int kExitOk = 0;
  static constexpr int kExitFatal = 2;
  static constexpr std::string_view kShuttingDown = "worker is shutting down";

  WorkerNode(WorkerConfig config, Executor& executor, Random& random);
  ~WorkerNode();  // request_stop() and wait() if they were not called
  WorkerNode(const WorkerNode&) = delete;
  WorkerNode& operator=(const WorkerNode&) = delete;

  void start();
  void request_stop();
  // Blocks until a stop was requested (or a fatal error happened), the running jobs
  // finished and were posted, and every link ended. kExitOk or kExitFatal.
  int wait();
  // The fatal error, empty when none.
  std::string fatal_error() const;

  // Test hooks.
  std::size_t connected_links_for_test() const;
  std::vector<Micros> reconnect_delays_for_test() const;  // every backoff wait, in order

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aipool::net
