// File: job_answer.h
// How a job's outcome is answered to its client (spec/api.md API-5..API-10, RETRY-6,
// STOP-1), shared by the synchronous API and the asynchronous jobs (spec/async.md
// ASYNC-5), so that both answer a result or a failure with the same status and body.
// Internal to the orchestrator node.
//
// Contract: pure functions of their arguments (rendering a worker's result reads its
// shared bytes only); thread-safe; nothing here blocks or calls the core.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/broker.h"
#include "net/api_response.h"
#include "net/http_server.h"

namespace aipool::net {

inline constexpr const char* kShuttingDown = "orchestrator is shutting down";

HttpResponse json_response(int status, std::string body);
// {"detail":{"msg":...}} with `status` (API-7).
HttpResponse error_response(int status, std::string_view message);
// The same with `Retry-After: 1`.
HttpResponse retry_later(int status, std::string_view message);
// STOP-1: 503 with Retry-After, closing the connection.
HttpResponse shutting_down();

// A rendered API answer: small ones in one piece, large ones produced piece by piece
// as the previous piece goes out (`rendered` is kept alive by the response).
HttpResponse rendered_response(std::shared_ptr<const RenderedResponse> rendered);

// The HTTP status a job's outcome is answered with (a result that fails to render
// aside): API-7, RETRY-2, RETRY-6, TIME-3, STOP-1.
int outcome_status(JobStatus status, bool stopping);

// The answer to a finished job (API-5..API-10, RETRY-6, STOP-1).
HttpResponse outcome_response(Pipeline pipeline, const JobOutcome& outcome, bool stopping);

}  // namespace aipool::net
