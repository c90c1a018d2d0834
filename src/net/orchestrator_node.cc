// The orchestrator node's lifecycle (orchestrator_node.h): it binds the HTTP and
// gRPC ports, wires the core to the clock and the worker streams, and stops in the
// order STOP-1 asks. The HTTP routes are in orchestrator_http.cc.
#include "net/orchestrator_node.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "codec/json_text.h"
#include "net/orchestrator_http.h"
#include "net/orchestrator_state.h"
#include "net/orchestrator_stream.h"
#include "net/os_random.h"

namespace aipool::net {
namespace {

std::string host_of(const std::string& addr) {
  const std::size_t colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

// The registration's GPUs as the JSON array /workers shows (MODEL-19).
std::string gpus_json(const ::net::RegisterRequest& request) {
  std::string gpus = "[";
  for (const ::net::GPUInfo& gpu : request.gpus()) {
    if (gpus.size() > 1) gpus += ',';
    gpus += "{\"id\":" + codec::json_string(gpu.id()) + ",\"name\":" + codec::json_string(gpu.name()) +
            ",\"major\":" + std::to_string(gpu.major()) + ",\"minor\":" + std::to_string(gpu.minor()) +
            ",\"memory_free\":" + std::to_string(gpu.memory_free()) +
            ",\"memory_total\":" + std::to_string(gpu.memory_total()) + "}";
  }
  return gpus + "]";
}

// LOG-1: one line for a refused join; for an accepted one, what it offers and a
// bounded summary of what was skipped or ignored (net/capabilities.h).
void log_join(const JoinRequest& join, const ParsedAdverts& parsed, const JoinResult& result) {
  const JoinLog log = join_log(join, parsed, result);
  for (const std::string& line : log.warnings) spdlog::warn("{}", line);
  if (!log.info.empty()) spdlog::info("{}", log.info);
}

// The worker streams' calls into the core: a registration and a stream's end.
WorkerStreams::Hooks stream_hooks(OrchestratorNode::Shared* shared) {
  WorkerStreams::Hooks hooks;
  hooks.join = [shared](const JoinRequest& join, const ParsedAdverts& parsed, const ::net::RegisterRequest& request) {
    std::string gpus = gpus_json(request);
    JoinResult result;
    {
      CoreLock lock(*shared);
      result = shared->broker->worker_joined(join);
      if (result.verdict == JoinVerdict::kAccepted) {
        shared->joined_wall_unix[join.id] = unix_seconds();
        shared->gpus_json[join.id] = std::move(gpus);
      }
    }
    log_join(join, parsed, result);
    return result;
  };
  hooks.left = [shared](WorkerId id, const std::string& reason) {
    bool was_live = false;
    {
      CoreLock lock(*shared);
      if (!shared->broker) return;
      was_live = shared->joined_wall_unix.erase(id) > 0;
      shared->gpus_json.erase(id);
      shared->health.forget(id);
      shared->metrics.worker_left(id);  // MET-9
      shared->broker->worker_left(id, reason);
    }
    if (was_live) spdlog::info("worker {} left: {}", id, reason);
  };
  return hooks;
}

}  // namespace

OrchestratorNode::OrchestratorNode(OrchestratorConfig config)
    : config_(std::move(config)), shared_(std::make_shared<Shared>(config_)) {}

OrchestratorNode::~OrchestratorNode() { stop(); }

bool OrchestratorNode::start(std::string& error) {
  // HTTP first: its port is part of the results URL that workers get. It takes
  // connections at once and serves them once the core is up.
  if (!listen_http(error)) return false;
  start_core();
  if (!start_grpc(error)) return false;
  http_server_->run();
  started_ = true;
  spdlog::info("orchestrator serving gRPC on port {} and HTTP{} on port {}; results URL {}", grpc_port_,
               config_.tls ? "S" : "", http_port_,
               results_url_.empty() ? "(not sent: workers use their own flag)" : results_url_);
  return true;
}

bool OrchestratorNode::listen_http(std::string& error) {
  HttpServerConfig http = config_.http;
  http.address = config_.http_addr;
  http.max_body_bytes = config_.max_message_bytes;
  http.reserved_paths = {"/aiResults"};  // HTTP-4: results get through beyond the caps
  http.on_body_too_large = make_oversize_hook(shared_);
  http.streams_body = is_stream_post;  // LLM-5: a streamed result is read as it arrives
  http.screen = make_access_screen(shared_->config);  // SEC-3, SEC-6: before the body is read
  if (config_.tls) {
    http.tls_cert_pem = config_.tls->cert_pem;
    http.tls_key_pem = config_.tls->key_pem;
  }
  http_server_ = std::make_unique<HttpServer>(std::move(http), make_http_handler(shared_));
  if (!http_server_->listen(error)) {
    http_server_.reset();
    return false;
  }
  http_port_ = http_server_->port();
  results_url_ = config_.results_url;
  if (results_url_.empty()) {
    std::string host = host_of(config_.http_addr);
    if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host.clear();
    if (!host.empty()) {
      results_url_ = (config_.tls ? "https://" : "http://") + host + ":" + std::to_string(http_port_) + "/aiResults";
    }
  }
  return true;
}

void OrchestratorNode::start_core() {
  Shared* shared = shared_.get();
  shared->clock = std::make_unique<RealClock>([shared](TimerId id) {
    CoreLock lock(*shared);
    if (shared->broker) shared->broker->timer_fired(id);
  });
  OsRandom entropy;  // TASK-1, CONN-6: fresh keys at each start
  shared->streams = std::make_unique<WorkerStreams>(stream_hooks(shared), results_url_, draw_id_key(entropy),
                                                    config_.broker.max_models_per_worker);
  BrokerConfig broker = config_.broker;
  broker.task_id_key = draw_id_key(entropy);
  shared->broker = std::make_unique<Broker>(std::move(broker), *shared->clock, *shared->streams);
  shared->broker->set_observer(&shared->attempt_log);
  shared->webhooks = std::make_unique<WebhookSender>(config_.webhooks);  // ASYNC-10
}

bool OrchestratorNode::start_grpc(std::string& error) {
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (config_.tls) {  // SEC-7
    grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back({config_.tls->key_pem, config_.tls->cert_pem});
    credentials = grpc::SslServerCredentials(options);
  }
  builder.AddListeningPort(config_.service_addr, credentials, &grpc_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.RegisterService(shared_->streams.get());
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    error = "cannot listen for gRPC on " + config_.service_addr;
    grpc_server_.reset();
    return false;
  }
  return true;
}

void OrchestratorNode::stop() {
  if (!started_) return;
  started_ = false;
  shared_->stopping = true;  // STOP-1: new API requests get 503 at once
  cancel_waiting_jobs(*shared_);  // and waiting ones 503 through their cancelled outcome
  if (shared_->streams) shared_->streams->close_all("orchestrator shutting down");
  if (grpc_server_) grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  http_server_->stop(2000);  // the 503s are written first
  grpc_server_.reset();
  if (shared_->webhooks) shared_->webhooks->stop();  // ASYNC-10: waiting callbacks are dropped
  shared_->clock.reset();  // joins the timer thread
  {
    std::lock_guard<std::mutex> lock(shared_->core_mutex);
    shared_->broker.reset();  // drops the callbacks that hold the HTTP exchanges
  }
  shared_->streams.reset();
  http_server_.reset();
}

}  // namespace aipool::net
