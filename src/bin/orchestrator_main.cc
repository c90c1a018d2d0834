// aipool-orchestrator: accepts remote AI workers over gRPC and serves the public AI
// API over HTTP. Flags follow go-livepeer's names; single or double dash both work.
// The command line, -help and the exit codes are bin/program.h's: 0 after
// SIGTERM/SIGINT, 2 for a bad flag or configuration (the message names it).
#include <gflags/gflags.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <unistd.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <variant>

#include "bin/program.h"
#include "net/log_line.h"
#include "codec/durations.h"
#include "codec/model_config.h"
#include "net/orchestrator_node.h"
#include "net/process_memory.h"
#include "net/tls.h"

#ifndef AIPOOL_VERSION
#define AIPOOL_VERSION "unknown"
#endif

DEFINE_string(orchSecret, "",
              "shared secret that workers must present: the path of a file holding it; empty: the environment's "
              "AIPOOL_ORCH_SECRET; a literal value works but shows in ps (a warning)");
DEFINE_string(apiKeys, "",
              "file of client keys for the AI API, one per line: KEY [NAME] [maxInFlight=N]; clients send "
              "Authorization: Bearer KEY; empty: the API needs no key");
DEFINE_string(adminKey, "",
              "key for /workers (Authorization: Bearer KEY): a file holding it; empty: the environment's "
              "AIPOOL_ADMIN_KEY, and without either /workers answers loopback clients only");
DEFINE_string(tlsCert, "", "TLS certificate chain (PEM) for gRPC and HTTP; empty: a self-signed one kept in -dataDir");
DEFINE_string(tlsKey, "", "private key (PEM) of -tlsCert");
DEFINE_string(dataDir, "", "folder for the self-signed TLS certificate; empty: $HOME/.aipool");
DEFINE_bool(insecure, false,
            "serve gRPC and HTTP in plain text, without TLS (secrets and jobs then cross the network in clear; for "
            "loopback and tests)");
DEFINE_string(serviceAddr, "0.0.0.0:8935", "gRPC listen address for workers (host:port)");
DEFINE_string(httpAddr, "0.0.0.0:8936", "HTTP listen address for the AI API and /aiResults (host:port)");
DEFINE_string(resultsURL, "",
              "URL of /aiResults sent to workers; default https://<httpAddr host>:<port>/aiResults (http:// "
              "with -insecure) when the "
              "host is not a wildcard, else none (workers then use -orchAddr's host and -orchHttpPort)");
DEFINE_string(aiModels, "",
              "models to offer: a go-livepeer aiModels.json file (with prices) or inline "
              "pipeline:model_id[,...]; empty: offer whatever workers advertise");
DEFINE_string(attemptTimeout,
              "text-to-image=300s,image-to-text=60s,image-to-image=300s,upscale=300s,audio-to-text=300s,llm=600s,"
              "text-to-speech=120s",
              "time one worker has for one attempt: a duration for every pipeline (300s, 5m, 1500ms) and/or "
              "pipeline=duration items, comma-separated; pipelines not named keep their defaults; a model list "
              "entry's attempt_timeout comes first");
DEFINE_string(jobDeadline,
              "text-to-image=900s,image-to-text=300s,image-to-image=900s,upscale=900s,audio-to-text=900s,llm=1800s,"
              "text-to-speech=600s",
              "time a job may take across all attempts, in the form of -attemptTimeout; a model list entry's "
              "job_deadline comes first");
DEFINE_string(slotReclaim, "300s", "time after which a slot held by an abandoned attempt is reclaimed");
DEFINE_int32(quarantineAfter, 3,
             "consecutive failures (worker errors, send failures, attempt timeouts) of one worker on one model "
             "before it is skipped for that model for a cool-down; 0: never");
DEFINE_string(quarantineCooldown, "30s", "first cool-down of a quarantined worker; doubles at each failed probe");
DEFINE_string(quarantineMaxCooldown, "10m", "longest cool-down of a quarantined worker");
DEFINE_int32(queueLength, 256, "jobs that may wait per pipeline and model when every worker is busy");
DEFINE_int64(maxMessageBytes, 64LL << 20, "largest request body, gRPC message and result upload, in bytes");
DEFINE_int64(maxPixels, 16777216,
             "largest input image accepted, in pixels (width x height; 413 above); default 4096 x 4096");
DEFINE_int64(maxStreamBuffer, 1 << 20,
             "bytes of a streamed llm answer its client may leave unread before its job is cancelled");
DEFINE_int32(maxModelsPerWorker, 1024, "most models one worker registration may advertise; more: refused");
DEFINE_int32(metricsMaxModels, 256,
             "most (pipeline, model) pairs with metric series of their own; the rest share model_name=\"_other\"");
DEFINE_int32(maxModelIdBytes, 256, "longest model id a worker may advertise, in bytes; longer: skipped");
DEFINE_int32(httpThreads, 0, "HTTP event-loop threads; 0: one per CPU core (at least 2)");
DEFINE_int32(maxClientConns, 15000,
             "open client connections; beyond it a new one gets 503 and is closed (/aiResults is exempt)");
DEFINE_int64(maxBodyBytesInFlight, 512LL << 20,
             "bytes of request bodies held at once across all connections (503 beyond; /aiResults has its own)");
DEFINE_int64(maxHeaderBytes, 16384, "largest request head (request line and headers), in bytes (431 above)");
DEFINE_string(httpHeaderTimeout, "10s", "time a client has to send a request's headers (408 after)");
DEFINE_string(httpBodyTimeout, "120s", "time a client has to send a request's body (408 after)");
DEFINE_string(httpIdleTimeout, "60s", "time an idle keep-alive connection is kept open between requests");
DEFINE_string(httpWriteTimeout, "60s", "time a client has to take each piece of an answer before it is cut");
DEFINE_string(nodeId, "",
              "this orchestrator's prefix of asynchronous job ids (1 to 16 of a-z0-9), for a load balancer to route "
              "/jobs/{id} by; empty: the host name's letters and digits (10 at most) and the -httpAddr port");
DEFINE_string(resultTTL, "10m", "time an asynchronous job's result is kept after it finished");
DEFINE_int64(resultMemory, 1LL << 30, "bytes of finished asynchronous results kept at most; the oldest go first");
DEFINE_int32(asyncQueueLimit, 100000, "asynchronous jobs that may be unfinished at once (503 beyond)");
DEFINE_int32(webhookRetries, 5, "times a failed X-Callback-URL delivery is tried again");
DEFINE_string(webhookTimeout, "10s", "time one X-Callback-URL delivery may take");
DEFINE_string(webhookBackoff, "1s", "wait before the first retry of a callback; doubles each time up to 5m");
DEFINE_string(webhookCACert, "",
              "PEM file of CA certificates trusted for https:// callbacks besides the system's (a private CA)");
DEFINE_bool(webhookAllowPrivate, false,
            "let callbacks go to loopback, private and link-local addresses (refused by default: SSRF)");
DEFINE_int32(v, 3, aipool::bin::kLogLevelHelp);
DEFINE_string(logFormat, "text", aipool::bin::kLogFormatHelp);

namespace {

using aipool::bin::die;

const aipool::bin::ProgramHelp kHelp{
    "aipool-orchestrator",
    "accepts remote AI workers and serves the AI API (go-livepeer's) to clients",
    "-orchSecret <secret or file> [-serviceAddr host:port] [-httpAddr host:port] [flags]",
    {
        {"Connection", "orchSecret", "-orchSecret /etc/aipool/secret"},
        {"Connection", "serviceAddr", "-serviceAddr 0.0.0.0:8935"},
        {"Connection", "httpAddr", "-httpAddr 127.0.0.1:8936"},
        {"Connection", "resultsURL", "-resultsURL https://orch.example:8936/aiResults"},
        {"TLS", "tlsCert", "-tlsCert /etc/aipool/tls-cert.pem"},
        {"TLS", "tlsKey", "-tlsKey /etc/aipool/tls-key.pem"},
        {"TLS", "dataDir", "-dataDir /var/lib/aipool"},
        {"TLS", "insecure", "-insecure"},
        {"Access", "apiKeys", "-apiKeys /etc/aipool/api-keys"},
        {"Access", "adminKey", "-adminKey /etc/aipool/admin-key"},
        {"Models", "aiModels", "-aiModels /etc/aipool/aiModels.json"},
        {"Timing", "attemptTimeout", "-attemptTimeout 5m,llm=15m"},
        {"Timing", "jobDeadline", "-jobDeadline 30m"},
        {"Timing", "slotReclaim", "-slotReclaim 10m"},
        {"Timing", "quarantineAfter", "-quarantineAfter 5"},
        {"Timing", "quarantineCooldown", "-quarantineCooldown 1m"},
        {"Timing", "quarantineMaxCooldown", "-quarantineMaxCooldown 30m"},
        {"Limits", "queueLength", "-queueLength 1024"},
        {"Limits", "maxMessageBytes", "-maxMessageBytes 134217728"},
        {"Limits", "maxPixels", "-maxPixels 33554432"},
        {"Limits", "maxStreamBuffer", "-maxStreamBuffer 4194304"},
        {"Limits", "maxModelsPerWorker", "-maxModelsPerWorker 4096"},
        {"Limits", "maxModelIdBytes", "-maxModelIdBytes 512"},
        {"Limits", "metricsMaxModels", "-metricsMaxModels 1024"},
        {"HTTP", "maxClientConns", "-maxClientConns 30000"},
        {"HTTP", "maxBodyBytesInFlight", "-maxBodyBytesInFlight 1073741824"},
        {"HTTP", "maxHeaderBytes", "-maxHeaderBytes 32768"},
        {"HTTP", "httpHeaderTimeout", "-httpHeaderTimeout 5s"},
        {"HTTP", "httpBodyTimeout", "-httpBodyTimeout 5m"},
        {"HTTP", "httpIdleTimeout", "-httpIdleTimeout 30s"},
        {"HTTP", "httpWriteTimeout", "-httpWriteTimeout 2m"},
        {"HTTP", "httpThreads", "-httpThreads 4"},
        {"Async jobs", "nodeId", "-nodeId orch1"},
        {"Async jobs", "resultTTL", "-resultTTL 30m"},
        {"Async jobs", "resultMemory", "-resultMemory 4294967296"},
        {"Async jobs", "asyncQueueLimit", "-asyncQueueLimit 1000000"},
        {"Async jobs", "webhookRetries", "-webhookRetries 8"},
        {"Async jobs", "webhookTimeout", "-webhookTimeout 30s"},
        {"Async jobs", "webhookBackoff", "-webhookBackoff 5s"},
        {"Async jobs", "webhookAllowPrivate", "-webhookAllowPrivate"},
        {"Async jobs", "webhookCACert", "-webhookCACert /etc/aipool/callback-ca.pem"},
        {"Logging", "v", "-v 4"},
        {"Logging", "logFormat", "-logFormat json"},
    }};

// "300s", "5m", "1500ms", "2h" or a plain number of seconds.
aipool::Micros parse_duration(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    die("-" + flag + ": \"" + text + "\" is not a duration (use e.g. 300s, 5m, 1500ms)");
  }
  const std::string unit = text.substr(used);
  double seconds = 0;
  if (unit.empty() || unit == "s") seconds = value;
  else if (unit == "ms") seconds = value / 1000;
  else if (unit == "m") seconds = value * 60;
  else if (unit == "h") seconds = value * 3600;
  else die("-" + flag + ": unknown unit \"" + unit + "\" (use ms, s, m or h)");
  if (!(seconds > 0)) die("-" + flag + ": must be positive (got \"" + text + "\")");
  return static_cast<aipool::Micros>(seconds * 1e6);
}

std::int64_t millis(const std::string& flag, const std::string& text) { return parse_duration(flag, text) / 1000; }

// TIME-6: "300s", "text-to-image=120s,llm=600s" or both; stops at start on a bad value (FLAG-2).
aipool::codec::PipelineDurations pipeline_durations(const std::string& flag, const std::string& text,
                                                    const aipool::codec::PipelineDurations& defaults) {
  auto parsed = aipool::codec::parse_pipeline_durations(flag, text, defaults);
  if (const auto* error = std::get_if<aipool::codec::DurationsError>(&parsed)) die(error->message);
  return std::get<aipool::codec::PipelineDurations>(parsed);
}

// The HTTP server's limits and deadlines (spec/http.md). The process may hold about
// as many descriptors as its hard limit allows: the soft limit is raised to it.
aipool::net::HttpServerConfig http_config_from_flags(std::size_t max_message_bytes) {
  aipool::net::HttpServerConfig http;
  if (FLAGS_httpThreads < 0 || FLAGS_httpThreads > 256) die("-httpThreads: must be between 0 and 256");
  http.threads = FLAGS_httpThreads > 0 ? FLAGS_httpThreads
                                       : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  if (FLAGS_maxClientConns < 1) die("-maxClientConns: must be at least 1");
  http.max_connections = static_cast<std::size_t>(FLAGS_maxClientConns);
  if (FLAGS_maxBodyBytesInFlight < static_cast<std::int64_t>(max_message_bytes)) {
    die("-maxBodyBytesInFlight: must be at least -maxMessageBytes (" + std::to_string(max_message_bytes) + ")");
  }
  http.max_body_bytes_in_flight = static_cast<std::size_t>(FLAGS_maxBodyBytesInFlight);
  if (FLAGS_maxHeaderBytes < 1024 || FLAGS_maxHeaderBytes > (1 << 20)) {
    die("-maxHeaderBytes: must be between 1024 and 1048576");
  }
  http.max_header_bytes = static_cast<std::size_t>(FLAGS_maxHeaderBytes);
  http.header_timeout_ms = millis("httpHeaderTimeout", FLAGS_httpHeaderTimeout);
  http.body_timeout_ms = millis("httpBodyTimeout", FLAGS_httpBodyTimeout);
  http.idle_timeout_ms = millis("httpIdleTimeout", FLAGS_httpIdleTimeout);
  http.write_timeout_ms = millis("httpWriteTimeout", FLAGS_httpWriteTimeout);
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
      files.rlim_cur < http.max_connections + 1024) {
    spdlog::warn("-maxClientConns {} is near the open-file limit {}: connections beyond {} will be refused by the "
                 "kernel; raise the limit (ulimit -n) or lower -maxClientConns",
                 http.max_connections, files.rlim_cur, files.rlim_cur > 1024 ? files.rlim_cur - 1024 : 0);
  }
  return http;
}

// SEC-2: the -apiKeys file, or null when the flag is empty.
std::shared_ptr<const aipool::net::ApiKeys> api_keys_from_flag() {
  if (FLAGS_apiKeys.empty()) return nullptr;
  std::ifstream in(FLAGS_apiKeys, std::ios::binary);
  std::error_code ec;
  if (!in || !std::filesystem::is_regular_file(FLAGS_apiKeys, ec)) {
    die("-apiKeys: cannot read the file " + FLAGS_apiKeys);
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<aipool::net::ApiKeys> keys = aipool::net::ApiKeys::parse(text.str(), error);
  if (!keys) die("-apiKeys: " + FLAGS_apiKeys + ": " + error);
  spdlog::info("client keys: {} from {}", keys->size(), FLAGS_apiKeys);
  return std::make_shared<const aipool::net::ApiKeys>(std::move(*keys));
}

std::string host_of(const std::string& addr) { return addr.substr(0, addr.rfind(':')); }

// SEC-2: true when `addr` (host:port) listens on loopback only.
bool loopback_address(const std::string& addr) {
  const std::string host = host_of(addr);
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1";
}

// SEC-7: the certificate to serve, or nullopt with -insecure.
std::optional<aipool::net::TlsIdentity> tls_from_flags() {
  if (FLAGS_insecure) {
    if (!FLAGS_tlsCert.empty() || !FLAGS_tlsKey.empty()) die("-insecure: leave out -tlsCert and -tlsKey, or -insecure");
    if (!loopback_address(FLAGS_httpAddr) || !loopback_address(FLAGS_serviceAddr)) {
      spdlog::warn("-insecure: the secret, the jobs and their results cross the network in clear text");
    }
    return std::nullopt;
  }
  std::string data_dir = FLAGS_dataDir;
  if (data_dir.empty()) {
    const char* home = std::getenv("HOME");
    data_dir = std::string(home != nullptr && *home != '\0' ? home : ".") + "/.aipool";
  }
  char hostname[256] = {0};
  gethostname(hostname, sizeof hostname - 1);
  std::vector<std::string> names = {hostname, host_of(FLAGS_httpAddr), host_of(FLAGS_serviceAddr)};
  for (std::string& name : names) {
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
    if (name == "0.0.0.0" || name == "::") name.clear();
  }
  std::string error;
  std::optional<aipool::net::TlsIdentity> identity =
      aipool::net::load_identity(FLAGS_tlsCert, FLAGS_tlsKey, data_dir, names, error);
  if (!identity) die("TLS: " + error);
  spdlog::info("TLS certificate {} ({}); workers may pin it with -orchCertFingerprint {}", identity->fingerprint,
               identity->source, identity->fingerprint);
  return identity;
}

// ASYNC-2: -nodeId, or the host name's letters and digits and the HTTP port.
std::string node_id_from_flags() {
  if (!FLAGS_nodeId.empty()) {
    const bool valid = FLAGS_nodeId.size() <= 16 &&
                       std::all_of(FLAGS_nodeId.begin(), FLAGS_nodeId.end(),
                                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
    if (!valid) die("-nodeId: \"" + FLAGS_nodeId + "\" must be 1 to 16 characters of a-z and 0-9");
    return FLAGS_nodeId;
  }
  char hostname[256] = {0};
  gethostname(hostname, sizeof hostname - 1);
  std::string id;
  for (const char* c = hostname; *c != '\0' && id.size() < 10; ++c) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) id += l;
  }
  if (id.empty()) id = "orch";
  const std::string port = FLAGS_httpAddr.substr(FLAGS_httpAddr.rfind(':') + 1);
  if (port != "0" && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) id += port;
  return id.substr(0, 16);
}

// spec/async.md: the asynchronous jobs' limits (ASYNC-4, ASYNC-8) and callbacks (ASYNC-10, ASYNC-11).
void async_from_flags(aipool::net::OrchestratorConfig& config) {
  config.node_id = node_id_from_flags();
  config.async.result_ttl = parse_duration("resultTTL", FLAGS_resultTTL);
  if (FLAGS_resultMemory < 0) die("-resultMemory: must be 0 or more bytes");
  config.async.result_memory = static_cast<std::size_t>(FLAGS_resultMemory);
  if (FLAGS_asyncQueueLimit < 0) die("-asyncQueueLimit: must be 0 or more");
  config.async.max_unfinished = static_cast<std::size_t>(FLAGS_asyncQueueLimit);
  if (FLAGS_webhookRetries < 0 || FLAGS_webhookRetries > 100) die("-webhookRetries: must be between 0 and 100");
  config.webhooks.retries = FLAGS_webhookRetries;
  config.webhooks.timeout = std::chrono::milliseconds(millis("webhookTimeout", FLAGS_webhookTimeout));
  config.webhooks.backoff = std::chrono::milliseconds(millis("webhookBackoff", FLAGS_webhookBackoff));
  config.webhooks.allow_private = FLAGS_webhookAllowPrivate;
  if (!FLAGS_webhookCACert.empty()) {  // ASYNC-12
    if (const auto error = aipool::net::webhook_ca_error(FLAGS_webhookCACert)) die(*error);
    config.webhooks.ca_file = FLAGS_webhookCACert;
  }
}

aipool::net::OrchestratorConfig config_from_flags() {
  aipool::net::OrchestratorConfig config;
  config.broker.secret = aipool::bin::read_secret(
      {"-orchSecret", FLAGS_orchSecret, "AIPOOL_ORCH_SECRET",
       "-orchSecret is required: workers must present it to register (the path of a file holding it, or "
       "AIPOOL_ORCH_SECRET in the environment)"});
  config.admin_key = aipool::bin::read_secret({"-adminKey", FLAGS_adminKey, "AIPOOL_ADMIN_KEY", ""});
  config.api_keys = api_keys_from_flag();
  // TIME-5..TIME-7: per pipeline; the core's single values are then never used.
  config.broker.pipeline_attempt_timeout =
      pipeline_durations("attemptTimeout", FLAGS_attemptTimeout, aipool::codec::default_attempt_timeouts());
  config.broker.pipeline_job_deadline =
      pipeline_durations("jobDeadline", FLAGS_jobDeadline, aipool::codec::default_job_deadlines());
  config.broker.slot_reclaim = parse_duration("slotReclaim", FLAGS_slotReclaim);
  if (FLAGS_quarantineAfter < 0) die("-quarantineAfter: must be 0 (off) or more");
  config.broker.quarantine.after = static_cast<std::uint32_t>(FLAGS_quarantineAfter);  // QUAR-2
  config.broker.quarantine.cooldown = parse_duration("quarantineCooldown", FLAGS_quarantineCooldown);
  config.broker.quarantine.max_cooldown = parse_duration("quarantineMaxCooldown", FLAGS_quarantineMaxCooldown);
  if (config.broker.quarantine.max_cooldown < config.broker.quarantine.cooldown) {
    die("-quarantineMaxCooldown: must be at least -quarantineCooldown");
  }
  if (FLAGS_queueLength < 0) die("-queueLength: must be 0 or more");
  config.broker.queue_limit = static_cast<std::size_t>(FLAGS_queueLength);
  if (!FLAGS_aiModels.empty()) {
    aipool::codec::ModelConfigResult models = aipool::codec::parse_models_flag(FLAGS_aiModels);
    if (const auto* error = std::get_if<aipool::codec::ModelConfigError>(&models)) die("-aiModels: " + error->message);
    const auto& entries = std::get<std::vector<aipool::codec::ModelEntry>>(models);
    if (entries.empty()) die("-aiModels: the list is empty");
    config.broker.model_list = aipool::codec::offers_of(entries);
  }
  if (FLAGS_maxMessageBytes < (1 << 20) || FLAGS_maxMessageBytes > (1LL << 30)) {
    die("-maxMessageBytes: must be between 1 MiB and 1 GiB");
  }
  config.max_message_bytes = static_cast<std::size_t>(FLAGS_maxMessageBytes);
  if (FLAGS_maxPixels < 1) die("-maxPixels: must be at least 1 (got " + std::to_string(FLAGS_maxPixels) + ")");
  config.max_pixels = static_cast<std::uint64_t>(FLAGS_maxPixels);
  if (FLAGS_maxStreamBuffer < 4096) die("-maxStreamBuffer: must be at least 4096 bytes");
  config.max_stream_buffer = static_cast<std::size_t>(FLAGS_maxStreamBuffer);  // LLM-6
  if (FLAGS_maxModelsPerWorker < 1) die("-maxModelsPerWorker: must be at least 1");
  config.broker.max_models_per_worker = static_cast<std::size_t>(FLAGS_maxModelsPerWorker);  // CONN-7
  if (FLAGS_metricsMaxModels < 1) die("-metricsMaxModels: must be at least 1");
  config.metrics_max_models = static_cast<std::size_t>(FLAGS_metricsMaxModels);  // MET-2
  if (FLAGS_maxModelIdBytes < 1) die("-maxModelIdBytes: must be at least 1");
  config.broker.max_model_id_bytes = static_cast<std::size_t>(FLAGS_maxModelIdBytes);  // CONN-8
  config.http = http_config_from_flags(config.max_message_bytes);
  config.service_addr = FLAGS_serviceAddr;
  config.http_addr = FLAGS_httpAddr;
  config.results_url = FLAGS_resultsURL;
  async_from_flags(config);
  config.tls = tls_from_flags();  // last: a bad flag stops the start before a certificate is made
  if (!config.api_keys && !loopback_address(config.http_addr)) {
    spdlog::warn("the AI API on {} answers anyone who reaches it: give -apiKeys to require client keys",
                 config.http_addr);
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  aipool::bin::parse_command_line(kHelp, AIPOOL_VERSION, argc, argv);
  aipool::net::keep_large_buffers();
  // SIGINT and SIGTERM are taken by sigwait() below. They are blocked here, before
  // any thread starts, so every thread inherits the mask: a signal sent to the
  // process can then only be taken by that sigwait(), never handled on another
  // thread while the main thread sleeps on.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  aipool::bin::set_log_level(FLAGS_v);
  aipool::bin::set_log_format(FLAGS_logFormat);
  spdlog::flush_on(spdlog::level::info);  // each line reaches the log as it happens

  aipool::net::OrchestratorNode node(config_from_flags());
  std::string error;
  if (!node.start(error)) die(error);
  // A line that scripts can wait for.
  if (aipool::net::json_logs()) {  // LOG-2: every line is JSON, this one too
    std::printf("{\"event\":\"ready\",\"grpc\":%d,\"http\":%d}\n", node.grpc_port(), node.http_port());
  } else {
    std::printf("aipool-orchestrator ready grpc=%d http=%d\n", node.grpc_port(), node.http_port());
  }
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  spdlog::info("stopping ({})", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  node.stop();
  return aipool::bin::kExitOk;
}
