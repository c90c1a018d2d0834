// File: async_jobs.h
// The orchestrator's asynchronous jobs (spec/async.md): a pipeline request with
// `Prefer: respond-async` answered 202 at once, GET and DELETE /jobs/{id}, the jobs
// handed to the Broker as their key has room, and their callbacks. The jobs live in
// the node's AsyncStore (async_store.h); the callbacks go out through its
// WebhookSender. Internal to the orchestrator node.
//
// Contract: the handlers run on a server thread and never block; they and
// feed_async_jobs() touch the store and the Broker under the core's mutex only
// (CoreLock). Errors are answered as `{"detail":{"msg":...}}` with the status the spec
// names.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/api_request.h"
#include "net/async_store.h"
#include "net/http_server.h"
#include "net/orchestrator_access.h"
#include "net/orchestrator_node.h"

namespace aipool::net {

// ASYNC-1: true when the request's Prefer header holds the token respond-async.
bool prefers_async(const HttpRequest& request);

// ASYNC-2: "<node_id>-<32 hex digits>", and back (nullopt: not an id of this node).
std::string async_job_id(const std::string& node_id, const AsyncToken& token);
std::optional<AsyncToken> parse_async_job_id(std::string_view id, const std::string& node_id);

// ASYNC-1, ASYNC-3, ASYNC-4, ASYNC-9: accepts a validated request as an asynchronous
// job (202) or refuses it. `key` is the caller's client key (null with keys off), not
// yet counted in flight (SEC-5).
void submit_async(const std::shared_ptr<OrchestratorNode::Shared>& shared, ApiJob job, const ApiKey* key,
                  const HttpRequest& request, const std::shared_ptr<HttpExchange>& exchange);

// ASYNC-5..ASYNC-8: GET and DELETE /jobs/{id}.
void handle_job_path(const std::shared_ptr<OrchestratorNode::Shared>& shared, const HttpRequest& request,
                     const std::shared_ptr<HttpExchange>& exchange);

}  // namespace aipool::net
