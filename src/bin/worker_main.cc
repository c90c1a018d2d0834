// aipool-worker: registers with one or more orchestrators over gRPC, runs the jobs
// they send and posts the results back over HTTP (src/net/worker_node.h). This file
// holds the flags and the wiring: the command line, -help and the exit codes are
// bin/program.h's; the executors of the -aiModels entries, exec/served_models.h's.
// Flags follow go-livepeer's names; single or double dash both work (gflags).
//
// Exit codes (bin/program.h): 0 after SIGTERM/SIGINT (running jobs finished and
// posted); 2 for a bad flag or configuration (the message names it), and when an
// orchestrator refused the worker (e.g. `invalid secret`), after the running jobs are
// posted; 128+signal when a second SIGTERM/SIGINT (a second or more after the first)
// cuts the drain short.
#include <gflags/gflags.h>
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>

#include "bin/program.h"
#include "codec/model_config.h"
#include "codec/text.h"
#include "exec/gpu_probe.h"
#include "exec/served_models.h"
#include "exec/speech_ocr_engines.h"
#include "io/tls_client.h"
#include "net/http_server.h"
#include "net/os_random.h"
#include "net/process_memory.h"
#include "net/tls.h"
#include "net/worker_metrics.h"
#include "net/worker_node.h"

#ifndef AIPOOL_VERSION
#define AIPOOL_VERSION "unknown"
#endif

DEFINE_string(orchAddr, "",
              "orchestrator(s) to serve, comma-separated: host[:grpcPort][/httpPort]; gRPC port default 8935, "
              "HTTP port (for results when the orchestrator names none) default -orchHttpPort; one stream each");
DEFINE_string(orchSecret, "",
              "the orchestrators' shared secret: the path of a file holding it (trimmed; a value that starts "
              "with /, ./, ../ or ~ is a path and must name a file); empty: the environment's "
              "AIPOOL_ORCH_SECRET; a literal value works but shows in ps (a warning)");
DEFINE_string(orchCACert, "", "CA certificates (PEM) that sign the orchestrators' TLS certificates; empty: the system's");
DEFINE_string(orchCertFingerprint, "",
              "the orchestrators' TLS certificate, pinned by its SHA-256 fingerprint (sha256:..., as the "
              "orchestrator logs it at start), instead of a CA");
DEFINE_bool(insecure, false,
            "talk to orchestrators in plain text, without TLS (for an orchestrator started with -insecure)");
DEFINE_string(aiModels, "",
              "models to serve: a go-livepeer aiModels.json file, or inline pipeline:model_id[:warm[:capacity]][,...]; "
              "an entry's \"executor\" field names the engine model that runs it (by default its model_id)");
DEFINE_string(aiModelsDir, "",
              "directory holding model files: the base of a torchscript entry's relative \"file\" (checked to exist)");
DEFINE_double(runnerTimeout, 600,
              "seconds an external runner (an aiModels entry with a url) has to answer one job, unless its entry "
              "gives timeout_s; past it the job fails with `runner <url>: no answer within ...`");
DEFINE_double(runnerHealthInterval, 2,
              "seconds between two health checks of each external runner (each check has as long to answer); "
              "while a runner is not ready its jobs are refused at once");
DEFINE_int64(runnerMaxAnswerBytes, 256LL << 20,
             "largest whole answer an external runner may send for one job, in bytes; larger: the attempt fails "
             "and the connection is closed");
DEFINE_string(nvidia, "", "GPU ids to use, comma-separated, or \"all\"; empty: CPU");
DEFINE_int32(orchHttpPort, 8936, "orchestrator HTTP port for results when it sends no results URL");
DEFINE_int32(maxMessageBytes, 64 << 20,
             "largest job message accepted from an orchestrator and largest result post sent to it, in bytes (at "
             "least 4096); a larger result is posted as a worker error instead (keep it at most the orchestrator's "
             "-maxMessageBytes)");
DEFINE_double(capacityWait, 1,
              "seconds a job that finds its model's slots full (taken by another orchestrator's jobs) waits for one "
              "before it is refused `worker at capacity`; 0: refused at once");
DEFINE_int32(maxPostConns, 32,
             "connections open at once to one orchestrator for result posts; more results wait for one (RES-12)");
DEFINE_int64(maxPixels, 16777216,
             "largest input image, width x height read from its header, that a model decodes (default 4096 x 4096); "
             "a larger one fails the job with `invalid request: image: ...` before its pixels are allocated");
DEFINE_int64(maxOutputPixels, 67108864,
             "largest output image, width x height, that a model makes (default 8192 x 8192); a larger one fails "
             "the job before it is computed");
#ifdef AIPOOL_HAVE_TORCH
// libtorch brings glog, which defines -v itself; we read the same flag (default set in main).
DECLARE_int32(v);
#else
DEFINE_int32(v, 3, aipool::bin::kLogLevelHelp);
#endif
DEFINE_string(logFormat, "text", aipool::bin::kLogFormatHelp);
DEFINE_string(metricsAddr, "",
              "host:port serving GET /metrics (Prometheus text, spec/metrics.md MET-7); empty: none. It has no "
              "access control: bind it to an address only your Prometheus reaches");
DEFINE_bool(aiWorker, true, "accepted for go-livepeer compatibility (this program is always an AI worker)");

namespace {

using aipool::bin::die;

static_assert(aipool::net::WorkerNode::kExitOk == aipool::bin::kExitOk);
static_assert(aipool::net::WorkerNode::kExitFatal == aipool::bin::kExitConfig);  // a refusal: fix the configuration

const aipool::bin::ProgramHelp kHelp{
    "aipool-worker",
    "runs AI jobs for aipool orchestrators",
    "-orchAddr host:8935 -orchSecret <secret or file> -aiModels <file or inline> [flags]",
    {
        {"Connection", "orchAddr", "-orchAddr orch.example:8935,10.0.0.7:8935/8936"},
        {"Connection", "orchSecret", "-orchSecret /etc/aipool/secret"},
        {"TLS", "orchCertFingerprint", "-orchCertFingerprint sha256:3f1c...e9"},
        {"TLS", "orchCACert", "-orchCACert /etc/aipool/ca.pem"},
        {"TLS", "insecure", "-insecure"},
        {"Connection", "orchHttpPort", "-orchHttpPort 8936"},
        {"Models", "aiModels", "-aiModels text-to-image:test/echo:true:2,upscale:builtin/bicubic"},
        {"Models", "aiModelsDir", "-aiModelsDir /var/lib/aipool/models"},
        {"Models", "nvidia", "-nvidia 0,1"},
        {"Models", "runnerTimeout", "-runnerTimeout 300"},
        {"Models", "runnerHealthInterval", "-runnerHealthInterval 5"},
        {"Models", "runnerMaxAnswerBytes", "-runnerMaxAnswerBytes 536870912"},
        {"Limits", "maxMessageBytes", "-maxMessageBytes 134217728"},
        {"Limits", "maxPixels", "-maxPixels 4194304"},
        {"Limits", "maxPostConns", "-maxPostConns 64"},
        {"Limits", "capacityWait", "-capacityWait 0.5"},
        {"Limits", "maxOutputPixels", "-maxOutputPixels 16777216"},
        {"Logging", "v", "-v 4", aipool::bin::kLogLevelHelp},
        {"Logging", "metricsAddr", "-metricsAddr 127.0.0.1:9101"},
        {"Logging", "logFormat", "-logFormat json", aipool::bin::kLogFormatHelp},
        {"Compatibility", "aiWorker", "-aiWorker=true"},
    }};

std::string trimmed(const std::string& text) { return std::string(aipool::codec::trim(text)); }

// SIGINT/SIGTERM are taken by a waiting thread, never by a handler: block them (and
// SIGUSR1, used to end that thread) before any thread starts, gRPC's included.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void start_logging() {
  spdlog::set_default_logger(spdlog::stderr_color_mt("aipool-worker"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  aipool::bin::set_log_level(FLAGS_v);
  aipool::bin::set_log_format(FLAGS_logFormat);
  spdlog::flush_on(spdlog::level::info);
}

// MET-7: GET /metrics on -metricsAddr, or nothing when it is empty.
std::unique_ptr<aipool::net::HttpServer> serve_metrics(aipool::net::WorkerMetrics& metrics,
                                                       std::vector<aipool::net::WorkerConfig::Gpu> gpus) {
  if (FLAGS_metricsAddr.empty()) return nullptr;
  aipool::net::HttpServerConfig http;
  http.address = FLAGS_metricsAddr;
  http.threads = 1;
  auto server = std::make_unique<aipool::net::HttpServer>(
      http, [&metrics, gpus = std::move(gpus)](aipool::net::HttpRequest&& request,
                                               std::shared_ptr<aipool::net::HttpExchange> exchange) {
        aipool::net::HttpResponse response;
        if (request.path != "/metrics") {
          response.status = 404;
          response.body = R"({"detail":{"msg":"this port serves GET /metrics only"}})";
        } else {
          for (const auto& gpu : gpus) {  // where CUDA is present: its memory now
            std::int64_t free = 0;
            std::int64_t total = 0;
            if (aipool::exec::gpu_memory(gpu.id, free, total)) metrics.set_gpu_memory(gpu.id, gpu.name, total - free, total);
          }
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
          response.body = metrics.render();
        }
        exchange->respond(std::move(response));
      });
  std::string error;
  if (!server->listen(error)) die("-metricsAddr: " + error);
  server->run();
  spdlog::info("metrics on http://{}/metrics", FLAGS_metricsAddr);
  return server;
}

// The /dev/nvidiaN devices, for -nvidia all.
std::vector<std::string> all_gpu_ids() {
  std::set<int> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string name = entry.path().filename().string();
    const std::string digits = name.size() > 6 && name.rfind("nvidia", 0) == 0 ? name.substr(6) : "";
    if (!digits.empty() && digits.size() <= 4 && digits.find_first_not_of("0123456789") == std::string::npos) {
      found.insert(std::stoi(digits));
    }
  }
  if (found.empty()) spdlog::warn("-nvidia all: no NVIDIA GPU found (no /dev/nvidiaN): running on the CPU");
  std::vector<std::string> ids;
  for (int id : found) ids.push_back(std::to_string(id));
  return ids;
}

std::vector<std::string> gpu_ids() {
  const std::string text = trimmed(FLAGS_nvidia);
  if (text.empty()) return {};
  if (text == "all") return all_gpu_ids();
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trimmed(item);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 4) {
      die("-nvidia: \"" + item + "\" is not a GPU id (use e.g. 0,1 or all; empty for CPU)");
    }
    if (!seen.insert(item).second) die("-nvidia: GPU " + item + " is listed twice");
    ids.push_back(item);
  }
  return ids;
}

// -nvidia: the GPUs that work, with name, memory and compute capability (MODEL-19).
void find_gpus(aipool::net::WorkerConfig& config) {
  config.gpu_ids = gpu_ids();
  if (trimmed(FLAGS_nvidia).empty()) return;
  const aipool::exec::GpuProbe probe = aipool::exec::probe_gpus(config.gpu_ids, trimmed(FLAGS_nvidia) == "all");
  for (const aipool::exec::GpuDevice& d : probe.devices) {
    spdlog::info("GPU {}: {}, compute capability {}.{}, {} MiB ({} MiB free)", d.id, d.name, d.major, d.minor,
                 d.memory_total >> 20, d.memory_free >> 20);
    config.gpus.push_back({d.id, d.name, d.major, d.minor, d.memory_free, d.memory_total});
  }
  if (!probe.note.empty()) spdlog::warn("GPU: {}", probe.note);  // said once, at start
  config.gpu_ids.clear();  // only the devices that work; none: the CPU
  for (const aipool::exec::GpuDevice& d : probe.devices) config.gpu_ids.push_back(d.id);
}

// SEC-8: how the orchestrators' TLS certificates are checked, or nullopt (-insecure).
std::optional<aipool::net::TlsTrust> tls_trust_from_flags() {
  using aipool::net::TlsTrust;
  if (FLAGS_insecure) {
    if (!FLAGS_orchCACert.empty() || !FLAGS_orchCertFingerprint.empty()) {
      die("-insecure: leave out -orchCACert and -orchCertFingerprint, or -insecure");
    }
    return std::nullopt;
  }
  TlsTrust trust;
  if (!FLAGS_orchCACert.empty() && !FLAGS_orchCertFingerprint.empty()) {
    die("give -orchCACert or -orchCertFingerprint, not both");
  }
  if (!FLAGS_orchCertFingerprint.empty()) {
    const std::optional<std::string> fingerprint = aipool::io::parse_fingerprint(FLAGS_orchCertFingerprint);
    if (!fingerprint) die("-orchCertFingerprint: expected sha256: and 64 hex digits (colons allowed)");
    trust.mode = TlsTrust::Mode::kPinned;
    trust.fingerprint = *fingerprint;
  } else if (!FLAGS_orchCACert.empty()) {
    std::ifstream in(FLAGS_orchCACert, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      die("-orchCACert: " + FLAGS_orchCACert + " is not a readable PEM file of certificates");
    }
    trust.mode = TlsTrust::Mode::kCaFile;
    trust.ca_pem = text.str();
    trust.ca_file = FLAGS_orchCACert;
  }
  return trust;
}

// Everything but the models.
aipool::net::WorkerConfig config_from_flags() {
  aipool::net::WorkerConfig config;
  config.version = AIPOOL_VERSION;
  if (trimmed(FLAGS_orchAddr).empty()) die("-orchAddr is required (host[:grpcPort][/httpPort][,...])");
  auto addresses = aipool::net::parse_orchestrator_addresses(FLAGS_orchAddr);
  if (const auto* error = std::get_if<std::string>(&addresses)) die("-" + *error);
  config.orchestrators = std::get<0>(std::move(addresses));
  config.tls = tls_trust_from_flags();
  config.secret = aipool::bin::read_secret(
      {"-orchSecret", FLAGS_orchSecret, "AIPOOL_ORCH_SECRET",
       "-orchSecret is required (the path of a file holding it, or AIPOOL_ORCH_SECRET in the environment)"});
  if (FLAGS_orchHttpPort < 1 || FLAGS_orchHttpPort > 65535) {
    die("-orchHttpPort must be from 1 to 65535 (got " + std::to_string(FLAGS_orchHttpPort) + ")");
  }
  config.default_http_port = static_cast<std::uint16_t>(FLAGS_orchHttpPort);
  if (FLAGS_maxMessageBytes < 4096) {
    die("-maxMessageBytes must be at least 4096 (got " + std::to_string(FLAGS_maxMessageBytes) + ")");
  }
  config.max_message_bytes = FLAGS_maxMessageBytes;
  if (FLAGS_maxPostConns < 1 || FLAGS_maxPostConns > 4096) {
    die("-maxPostConns must be from 1 to 4096 (got " + std::to_string(FLAGS_maxPostConns) + ")");
  }
  config.max_post_connections = static_cast<std::size_t>(FLAGS_maxPostConns);
  if (!(FLAGS_capacityWait >= 0) || FLAGS_capacityWait > 3600) {
    die("-capacityWait must be a number of seconds from 0 to 3600 (got " + std::to_string(FLAGS_capacityWait) + ")");
  }
  config.capacity_wait = std::chrono::milliseconds(static_cast<std::int64_t>(FLAGS_capacityWait * 1000 + 0.5));
  std::error_code ec;
  if (!FLAGS_aiModelsDir.empty() && !std::filesystem::is_directory(FLAGS_aiModelsDir, ec)) {
    die("-aiModelsDir: " + FLAGS_aiModelsDir + " is not a directory");
  }
  find_gpus(config);
  return config;
}

// -maxPixels, -maxOutputPixels (MODEL-2, MODEL-3, OCR-4).
aipool::exec::ImageLimits image_limits_from_flags() {
  if (FLAGS_maxPixels < 1) die("-maxPixels must be at least 1 (got " + std::to_string(FLAGS_maxPixels) + ")");
  if (FLAGS_maxOutputPixels < 1) {
    die("-maxOutputPixels must be at least 1 (got " + std::to_string(FLAGS_maxOutputPixels) + ")");
  }
  aipool::exec::ImageLimits limits;
  limits.max_input_pixels = static_cast<std::uint64_t>(FLAGS_maxPixels);
  limits.max_output_pixels = static_cast<std::uint64_t>(FLAGS_maxOutputPixels);
  return limits;
}

// -runnerTimeout, -runnerHealthInterval (RUN-4, RUN-5): seconds, above 0 and at most a day.
std::chrono::milliseconds runner_seconds(const std::string& flag, double seconds) {
  if (!(seconds >= 0.001) || !(seconds <= 86400)) {
    std::ostringstream got;
    got << seconds;
    die(flag + " must be a number of seconds from 0.001 to 86400 (got " + got.str() + ")");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
}

// The executor of the -aiModels entries; sets config.adverts.
std::unique_ptr<aipool::exec::ServedModels> models_from_flags(aipool::net::WorkerConfig& config) {
  if (trimmed(FLAGS_aiModels).empty()) die("-aiModels is required (a JSON file or pipeline:model_id[:warm[:capacity]],...)");
  auto models = aipool::codec::parse_models_flag(FLAGS_aiModels);
  if (const auto* error = std::get_if<aipool::codec::ModelConfigError>(&models)) die("-" + error->message);
  const auto& entries = std::get<std::vector<aipool::codec::ModelEntry>>(models);
  if (entries.empty()) die("-aiModels: no model listed");
  aipool::exec::EngineOptions options;
  options.models_dir = FLAGS_aiModelsDir;
  options.gpu_ids = config.gpu_ids;
  options.limits = image_limits_from_flags();
  options.audio_decoder = aipool::exec::decode_audio_16k;
  options.runner_timeout = runner_seconds("-runnerTimeout", FLAGS_runnerTimeout);
  options.runner_health_interval = runner_seconds("-runnerHealthInterval", FLAGS_runnerHealthInterval);
  if (FLAGS_runnerMaxAnswerBytes < 1024) {
    die("-runnerMaxAnswerBytes must be at least 1024 bytes (got " + std::to_string(FLAGS_runnerMaxAnswerBytes) + ")");
  }
  options.runner_max_answer_bytes = static_cast<std::size_t>(FLAGS_runnerMaxAnswerBytes);
  auto built = aipool::exec::build_router(aipool::exec::model_specs(entries), std::move(options),
                                          [](const std::string& warning) { spdlog::warn("{}", warning); });
  if (const auto* error = std::get_if<std::string>(&built)) die("-" + *error);
  config.adverts = aipool::codec::adverts_of(entries);
  return std::move(std::get<std::unique_ptr<aipool::exec::ServedModels>>(built));
}

// Waits for the node to end: the first SIGTERM/SIGINT drains it; a second, a second or
// more later, exits at once with 128 + the signal. The node's exit code.
int run_until_stopped(aipool::net::WorkerNode& node, const sigset_t& signals) {
  std::thread signal_thread([&node, &signals] {
    std::optional<std::chrono::steady_clock::time_point> first;
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGUSR1) return;
      if (!first) {
        first = std::chrono::steady_clock::now();
        spdlog::info("received {}: finishing the running jobs (send it again to exit at once)",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
        node.request_stop();
      } else if (std::chrono::steady_clock::now() - *first < std::chrono::seconds(1)) {
        // The same signal delivered twice (to the process and to its group, as
        // timeout(1) does) is not a request to hurry.
        continue;
      } else {
        spdlog::warn("received a second signal: exiting without waiting for the running jobs");
        spdlog::default_logger()->flush();
        std::_Exit(128 + sig);
      }
    }
  });
  const int code = node.wait();
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const sigset_t signals = block_stop_signals();
  std::signal(SIGPIPE, SIG_IGN);  // a peer (an external runner, RUN-7) that closes gives EPIPE, not a signal
#ifdef AIPOOL_HAVE_TORCH
  gflags::SetCommandLineOptionWithMode("v", "3", gflags::SET_FLAGS_DEFAULT);  // our default (info) for glog's flag
#endif
  aipool::bin::parse_command_line(kHelp, AIPOOL_VERSION, argc, argv);
  aipool::net::keep_large_buffers();
  start_logging();

  aipool::net::WorkerConfig config = config_from_flags();
  const std::unique_ptr<aipool::exec::ServedModels> models = models_from_flags(config);
  spdlog::info("aipool-worker {} starting: {} orchestrator(s), {} GPU(s){}", AIPOOL_VERSION,
               config.orchestrators.size(), config.gpu_ids.size(), config.gpu_ids.empty() ? " (CPU)" : "");
  for (const auto& advert : config.adverts) {
    spdlog::info("serving {} with capacity {}", aipool::key_name(advert.key), advert.capacity);
  }

  std::vector<std::string> orchestrator_names;
  for (const auto& address : config.orchestrators) orchestrator_names.push_back(address.grpc_target());
  aipool::net::WorkerMetrics metrics(config.adverts, orchestrator_names);
  const std::unique_ptr<aipool::net::HttpServer> metrics_server = serve_metrics(metrics, config.gpus);
  if (metrics_server) config.metrics = &metrics;

  aipool::net::OsRandom random;
  aipool::net::WorkerNode node(std::move(config), *models, random);
  node.start();
  const int code = run_until_stopped(node, signals);
  if (code != aipool::net::WorkerNode::kExitOk) {
    std::fprintf(stderr, "aipool-worker: %s\n", node.fatal_error().c_str());
  }
  spdlog::default_logger()->flush();
  return code;
}
