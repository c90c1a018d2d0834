// Access to the orchestrator's HTTP routes (orchestrator_access.h, spec/security.md).
#include "net/orchestrator_access.h"

#include "net/api_response.h"

namespace aipool::net {
namespace {

HttpResponse refusal(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = api_error_json(message);
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

bool open_path(std::string_view path) { return path == "/healthz" || path == "/aiResults"; }

}  // namespace

bool is_admin_path(std::string_view path) {
  return path == "/workers" || path == "/metrics" || path == "/dashboard.json";
}

ClientAccess check_client_key(const OrchestratorConfig& config, const HttpRequest& request) {
  ClientAccess access;
  if (!config.api_keys) return access;
  const std::optional<std::string_view> token = bearer_token(request.header("Authorization").value_or(""));
  if (!token) {
    access.refusal = refusal(401, "missing API key: send Authorization: Bearer <key>");
    return access;
  }
  access.key = config.api_keys->find(*token);
  if (access.key == nullptr) access.refusal = refusal(401, "invalid API key");
  return access;
}

std::optional<HttpResponse> check_admin(const OrchestratorConfig& config, const HttpRequest& request) {
  if (config.admin_key.empty()) {
    if (request.peer_loopback) return std::nullopt;
    return refusal(403, request.path + " answers only clients on this machine (loopback); set -adminKey to allow "
                                       "remote access");
  }
  const std::optional<std::string_view> token = bearer_token(request.header("Authorization").value_or(""));
  if (!token) return refusal(401, "missing admin key: send Authorization: Bearer <adminKey>");
  // Digests, so that the comparison's time depends on neither key's length.
  if (!same_digest(key_digest(*token), key_digest(config.admin_key))) return refusal(401, "invalid admin key");
  return std::nullopt;
}

std::function<std::optional<HttpResponse>(const HttpRequest&)> make_access_screen(const OrchestratorConfig& config) {
  return [&config](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (open_path(head.path)) return std::nullopt;
    if (is_admin_path(head.path)) return check_admin(config, head);
    return check_client_key(config, head).refusal;
  };
}

KeyInFlight::KeyInFlight(const ApiKeys* keys) {
  const std::size_t n = keys != nullptr ? keys->size() : 0;
  counts_ = std::make_unique<std::atomic<std::uint32_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) counts_[i].store(0);
}

bool KeyInFlight::take(const ApiKey& key) {
  std::atomic<std::uint32_t>& count = counts_[key.index];
  if (key.max_in_flight == 0) {
    count.fetch_add(1);
    return true;
  }
  std::uint32_t now = count.load();
  do {
    if (now >= key.max_in_flight) return false;
  } while (!count.compare_exchange_weak(now, now + 1));
  return true;
}

void KeyInFlight::give_back(const ApiKey& key) { counts_[key.index].fetch_sub(1); }

std::uint32_t KeyInFlight::in_flight(const ApiKey& key) const { return counts_[key.index].load(); }

HttpResponse key_at_cap(const ApiKey& key) {
  HttpResponse response = refusal(503, "key " + key.name + " has " + std::to_string(key.max_in_flight) +
                                           " jobs in flight, its limit");
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace aipool::net
