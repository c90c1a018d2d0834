// File: orchestrator_http.h
// The orchestrator's HTTP routes on Poco's server: the public AI API (one path per
// pipeline, spec/api.md), POST /aiResults (spec/wire.md RES-*), GET /healthz and
// GET /workers. Internal to the orchestrator node.
//
// Contract: the router and its handlers hold `shared` alive; each handler runs on a
// Poco pool thread and calls the Broker only under the core's mutex (CoreLock).
// Errors are answered as `{"detail":{"msg":...}}` with the status the spec names.
#pragma once

#include <memory>

#include "net/orchestrator_node.h"

namespace Poco::Net {
class HTTPRequestHandlerFactory;
}

namespace aipool::net {

// The factory Poco's HTTPServer takes (it takes ownership of the raw pointer).
Poco::Net::HTTPRequestHandlerFactory* make_http_router(std::shared_ptr<OrchestratorNode::Shared> shared);

}  // namespace aipool::net
