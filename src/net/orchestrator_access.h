// File: orchestrator_access.h
// Who may use which of the orchestrator's HTTP routes (spec/security.md SEC-3..SEC-6):
// client keys for the public AI API, the admin key (or a loopback client) for the
// operators' pages, nothing for /healthz, the workers' secret for /aiResults (checked
// by the result route itself, RES-4). Internal to the orchestrator node.
//
// Contract: every function is thread-safe and does not block; the config must
// outlive the returned objects. Refusals are complete HTTP answers
// (`{"detail":{"msg"}}`); no key is ever put in one or logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "net/api_keys.h"
#include "net/http_server.h"
#include "net/orchestrator_node.h"

namespace aipool::net {

// The result of checking a request's client key.
struct ClientAccess {
  const ApiKey* key = nullptr;          // the caller's key; null when keys are off
  std::optional<HttpResponse> refusal;  // set: answer this instead (401)
};

// The operators' pages (SEC-6): /workers.
bool is_admin_path(std::string_view path);

// SEC-3, SEC-4: the client key a request for the public API must carry.
ClientAccess check_client_key(const OrchestratorConfig& config, const HttpRequest& request);

// SEC-6: nullopt when the request may see an operators' page, else the refusal
// (401 with -adminKey, 403 for a remote client without it).
std::optional<HttpResponse> check_admin(const OrchestratorConfig& config, const HttpRequest& request);

// The HTTP server's screen (HttpServerConfig::screen): refuses a request that lacks
// its key before its body is read. /aiResults and /healthz pass.
std::function<std::optional<HttpResponse>(const HttpRequest&)> make_access_screen(const OrchestratorConfig& config);

// SEC-5: the jobs in flight of each capped key.
class KeyInFlight {
 public:
  explicit KeyInFlight(const ApiKeys* keys);
  // Counts a job for `key`; false (nothing counted) when the key is at its cap.
  bool take(const ApiKey& key);
  // Uncounts a job taken before; call exactly once per successful take().
  void give_back(const ApiKey& key);
  std::uint32_t in_flight(const ApiKey& key) const;

 private:
  std::unique_ptr<std::atomic<std::uint32_t>[]> counts_;
};

// The 503 for a key at its cap (SEC-5).
HttpResponse key_at_cap(const ApiKey& key);

}  // namespace aipool::net
