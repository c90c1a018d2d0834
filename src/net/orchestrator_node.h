// File: orchestrator_node.h
// The orchestrator process minus its flags: the core (Broker) under one mutex, the
// steady clock, the gRPC worker service and the event-driven HTTP server
// (http_server.h) with the public AI
// API, /aiResults, /healthz and /workers (spec/api.md, spec/wire.md). The lifecycle
// is in orchestrator_node.cc, the HTTP routes in orchestrator_http.cc, the state
// they share in orchestrator_state.h.
//
// Threads: gRPC callback threads, the HTTP server's threads, the clock's timer thread
// and the worker-stream strand all call the Broker under `core_mutex_`, one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/broker.h"
#include "media/image_codec.h"
#include "net/api_keys.h"
#include "net/async_store.h"
#include "net/http_server.h"
#include "net/tls.h"
#include "net/webhook_sender.h"
namespace grpc {
class Server;
}

namespace aipool::net {

class RealClock;
class WorkerStreams;

struct OrchestratorConfig {
  BrokerConfig broker;                      // secret, timeouts, queue_limit, model_list
  std::string service_addr = "127.0.0.1:8935";  // gRPC listen address (host:port, port 0 = any)
  std::string http_addr = "127.0.0.1:8936";     // HTTP listen address
  std::string results_url;                  // sent to workers; empty: derived from http_addr
  std::size_t max_message_bytes = 64u << 20;  // gRPC messages and HTTP bodies (API-8)
  std::uint64_t max_pixels = media::kDefaultMaxPixels;  // largest input image, width x height (API-12)
  std::size_t max_stream_buffer = 1u << 20;  // LLM-6: unsent bytes of a streamed answer before its job is cancelled
  // HTTP limits and deadlines (spec/http.md); its address and body limit are
  // http_addr and max_message_bytes.
  HttpServerConfig http;
  // spec/security.md: client keys for the public API (null: none needed, SEC-2) and
  // the admin key for /workers (empty: loopback clients only, SEC-6).
  std::shared_ptr<const ApiKeys> api_keys;
  std::string admin_key;
  // MET-2: at most this many (pipeline, model) pairs get metric series of their own.
  std::size_t metrics_max_models = 256;
  // SEC-7: the certificate both listeners serve; nullopt: plain text (-insecure).
  std::optional<TlsIdentity> tls;
  // spec/async.md: the prefix of this orchestrator's job ids (ASYNC-2), the limits of
  // its asynchronous jobs and results (ASYNC-4, ASYNC-8), and their callbacks.
  std::string node_id = "orch";
  AsyncStoreLimits async;
  WebhookConfig webhooks;
};

struct NodeStats;

class OrchestratorNode {
 public:
  explicit OrchestratorNode(OrchestratorConfig config);
  ~OrchestratorNode();
  OrchestratorNode(const OrchestratorNode&) = delete;
  OrchestratorNode& operator=(const OrchestratorNode&) = delete;

  // Binds both ports and starts serving. On failure returns false with a message.
  bool start(std::string& error);
  // STOP-1: ends every worker stream, answers each API request still waiting for its
  // job with 503 `orchestrator is shutting down` (within 200 ms, its next poll) and
  // cancels the job, stops both servers, and returns once no handler uses the core.
  void stop();

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  const std::string& results_url() const { return results_url_; }

  // Internals shared with the HTTP handlers (orchestrator_state.h).
  struct Shared;

 private:
  // The steps of start(), in order; each sets `error` when it fails.
  bool listen_http(std::string& error);
  void start_core();
  bool start_grpc(std::string& error);

  OrchestratorConfig config_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HttpServer> http_server_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::string results_url_;
  bool started_ = false;
};

}  // namespace aipool::net
