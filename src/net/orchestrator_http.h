// File: orchestrator_http.h
// The orchestrator's HTTP routes on the event-driven server (http_server.h): the
// public AI API (one path per pipeline, spec/api.md), POST /aiResults (spec/wire.md
// RES-*), GET /healthz and GET /workers. Internal to the orchestrator node.
//
// Contract: the handler holds `shared` alive; it runs on a server thread, never
// blocks, and calls the Broker only under the core's mutex (CoreLock). A job's
// answer is written when the core's outcome callback fires, from whatever thread
// that is. Errors are answered as `{"detail":{"msg":...}}` with the status the spec
// names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/http_server.h"
#include "net/orchestrator_node.h"

namespace aipool::net {

// The server's handler for every path.
HttpHandler make_http_handler(std::shared_ptr<OrchestratorNode::Shared> shared);

// RES-9: a result post refused for its size (`length` bytes, 0 when unknown) still
// ends its attempt when its headers name the task and carry the secret.
std::function<void(const HttpRequest&, std::uint64_t)> make_oversize_hook(
    std::shared_ptr<OrchestratorNode::Shared> shared);

// The answer to a result post the core judged (RES-4, RES-5, TASK-2, TASK-4).
HttpResponse verdict_response(ReportVerdict verdict, TaskId task);

// MET-3, API-14: a job's end counted in the metrics and the dashboard's history;
// under the core's mutex (synchronous and asynchronous jobs alike).
void job_ended(OrchestratorNode::Shared& shared, const Key& key, const JobOutcome& outcome, double seconds,
               double work_units);

// API-11, SEC-4: the job's log line; it names its client key's name, never the key.
void log_job(const JobOutcome& outcome, JobId id, Pipeline pipeline, const std::string& model, const ApiKey* key,
             double ms);

// STOP-1: cancels every job still waiting for its outcome; their clients get 503.
void cancel_waiting_jobs(OrchestratorNode::Shared& shared);

}  // namespace aipool::net
