// aipool-worker: registers with one or more orchestrators over gRPC, runs the jobs
// they send and posts the results back over HTTP (src/net/worker_node.h).
// Flags follow go-livepeer's names; single or double dash both work (gflags).
//
// Exit codes: 0 after SIGTERM/SIGINT (running jobs finished and posted);
// 1 for a bad flag or configuration (the message names it); 2 when an orchestrator
// refused the worker (e.g. `invalid secret`), after the running jobs are posted;
// 128+signal when a second SIGTERM/SIGINT (a second or more after the first) cuts
// the drain short.
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

#include "codec/model_config.h"
#include "exec/gpu_probe.h"
#include "exec/served_models.h"
#include "exec/speech_ocr_engines.h"
#include "net/os_random.h"
#include "net/process_memory.h"
#include "net/worker_node.h"

#ifndef AIPOOL_VERSION
#define AIPOOL_VERSION "unknown"
#endif

DEFINE_string(orchAddr, "",
              "orchestrator(s) to serve, comma-separated: host[:grpcPort][/httpPort]; gRPC port default 8935, "
              "HTTP port (for results when the orchestrator names none) default -orchHttpPort; one stream each");
DEFINE_string(orchSecret, "", "the orchestrators' shared secret: a value, or a path to a file holding it (trimmed)");
DEFINE_string(aiModels, "",
              "models to serve: a go-livepeer aiModels.json file, or inline pipeline:model_id[:warm[:capacity]][,...]; "
              "this build serves the test models test/echo, test/sleep and test/fail");
DEFINE_string(aiModelsDir, "", "directory holding model weights (checked to exist; unused by the test executor)");
DEFINE_string(nvidia, "", "GPU ids to use, comma-separated, or \"all\"; empty: CPU");
DEFINE_int32(orchHttpPort, 8936, "orchestrator HTTP port for results when it sends no results URL");
DEFINE_int32(maxMessageBytes, 64 << 20, "largest job message accepted from an orchestrator, in bytes");
#ifdef AIPOOL_HAVE_TORCH
// libtorch brings glog, which defines -v itself; we read the same flag (default set in main).
DECLARE_int32(v);
#else
DEFINE_int32(v, 3, "log level: 0 off, 1 error, 2 warning, 3 info, 4 debug, 5-6 trace");
#endif
DEFINE_bool(aiWorker, true, "accepted for go-livepeer compatibility (this program is always an AI worker)");

namespace {

constexpr int kExitConfig = 1;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "aipool-worker: %s\n", message.c_str());
  std::exit(kExitConfig);
}

std::string trim(std::string text) {
  const char* ws = " \t\r\n";
  const std::size_t begin = text.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  const std::size_t end = text.find_last_not_of(ws);
  return text.substr(begin, end - begin + 1);
}

void set_log_level(int v) {
  static const spdlog::level::level_enum kLevels[] = {spdlog::level::off,   spdlog::level::err,
                                                      spdlog::level::warn,  spdlog::level::info,
                                                      spdlog::level::debug, spdlog::level::trace,
                                                      spdlog::level::trace};
  spdlog::set_level(kLevels[v]);
}

// -orchSecret: the value itself, or the content of the file it names.
std::string read_secret() {
  std::string value = FLAGS_orchSecret;
  std::error_code ec;
  if (!value.empty() && std::filesystem::is_regular_file(value, ec)) {
    std::ifstream in(value, std::ios::binary);
    if (!in) die("-orchSecret: the file " + value + " cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    value = text.str();
    value = trim(value);
    if (value.empty()) die("-orchSecret: the file " + FLAGS_orchSecret + " is empty");
    return value;
  }
  value = trim(value);
  if (value.empty()) die("-orchSecret is required (a value, or a path to a file holding it)");
  return value;
}

std::vector<std::string> gpu_ids() {
  const std::string text = trim(FLAGS_nvidia);
  std::vector<std::string> ids;
  if (text.empty()) return ids;
  if (text == "all") {
    std::set<int> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
      const std::string name = entry.path().filename().string();
      const std::string digits = name.size() > 6 && name.rfind("nvidia", 0) == 0 ? name.substr(6) : "";
      if (!digits.empty() && digits.size() <= 4 && digits.find_first_not_of("0123456789") == std::string::npos) {
        found.insert(std::stoi(digits));
      }
    }
    if (found.empty()) {
      spdlog::warn("-nvidia all: no NVIDIA GPU found (no /dev/nvidiaN): running on the CPU");
      return ids;
    }
    for (int id : found) ids.push_back(std::to_string(id));
    return ids;
  }
  std::set<std::string> seen;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 4) {
      die("-nvidia: \"" + item + "\" is not a GPU id (use e.g. 0,1 or all; empty for CPU)");
    }
    if (!seen.insert(item).second) die("-nvidia: GPU " + item + " is listed twice");
    ids.push_back(item);
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are taken by a waiting thread, never by a handler: block them (and
  // SIGUSR1, used to end that thread) before any thread starts, gRPC's included.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  gflags::SetVersionString(AIPOOL_VERSION);
  gflags::SetUsageMessage(
      "runs AI jobs for aipool orchestrators\n"
      "  aipool-worker -orchAddr host:8935 -orchSecret <secret or file> -aiModels <file or inline>\n"
      "  aipool-worker -version");
#ifdef AIPOOL_HAVE_TORCH
  FLAGS_v = 3;  // our default log level (info) for glog's flag
#endif
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  aipool::net::keep_large_buffers();
  if (argc > 1) die(std::string("unexpected argument \"") + argv[1] + "\" (flags start with - or --)");

  if (FLAGS_v < 0 || FLAGS_v > 6) die("-v must be from 0 to 6 (got " + std::to_string(FLAGS_v) + ")");
  spdlog::set_default_logger(spdlog::stderr_color_mt("aipool-worker"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  set_log_level(FLAGS_v);
  spdlog::flush_on(spdlog::level::info);

  aipool::net::WorkerConfig config;
  config.version = AIPOOL_VERSION;

  if (trim(FLAGS_orchAddr).empty()) die("-orchAddr is required (host[:grpcPort][/httpPort][,...])");
  auto addresses = aipool::net::parse_orchestrator_addresses(FLAGS_orchAddr);
  if (const auto* error = std::get_if<std::string>(&addresses)) die("-" + *error);
  config.orchestrators = std::get<0>(std::move(addresses));

  config.secret = read_secret();

  if (FLAGS_orchHttpPort < 1 || FLAGS_orchHttpPort > 65535) {
    die("-orchHttpPort must be from 1 to 65535 (got " + std::to_string(FLAGS_orchHttpPort) + ")");
  }
  config.default_http_port = static_cast<std::uint16_t>(FLAGS_orchHttpPort);
  if (FLAGS_maxMessageBytes < 4096) {
    die("-maxMessageBytes must be at least 4096 (got " + std::to_string(FLAGS_maxMessageBytes) + ")");
  }
  config.max_message_bytes = FLAGS_maxMessageBytes;

  if (!FLAGS_aiModelsDir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(FLAGS_aiModelsDir, ec)) {
      die("-aiModelsDir: " + FLAGS_aiModelsDir + " is not a directory");
    }
  }
  config.gpu_ids = gpu_ids();
  if (!trim(FLAGS_nvidia).empty()) {  // MODEL-19: name, memory and compute capability of each GPU
    const aipool::exec::GpuProbe probe = aipool::exec::probe_gpus(config.gpu_ids, trim(FLAGS_nvidia) == "all");
    for (const aipool::exec::GpuDevice& d : probe.devices) {
      spdlog::info("GPU {}: {}, compute capability {}.{}, {} MiB ({} MiB free)", d.id, d.name, d.major, d.minor,
                   d.memory_total >> 20, d.memory_free >> 20);
      config.gpus.push_back({d.id, d.name, d.major, d.minor, d.memory_free, d.memory_total});
    }
    if (!probe.note.empty()) spdlog::warn("GPU: {}", probe.note);  // said once, at start
    config.gpu_ids.clear();  // only the devices that work; none: the CPU
    for (const aipool::exec::GpuDevice& d : probe.devices) config.gpu_ids.push_back(d.id);
  }

  if (trim(FLAGS_aiModels).empty()) die("-aiModels is required (a JSON file or pipeline:model_id[:warm[:capacity]],...)");
  auto models = aipool::codec::parse_models_flag(FLAGS_aiModels);
  if (const auto* error = std::get_if<aipool::codec::ModelConfigError>(&models)) die("-" + error->message);
  const auto& entries = std::get<std::vector<aipool::codec::ModelEntry>>(models);
  if (entries.empty()) die("-aiModels: no model listed");

  aipool::exec::EngineOptions engine_options;
  engine_options.models_dir = FLAGS_aiModelsDir;
  engine_options.gpu_ids = config.gpu_ids;
  engine_options.audio_decoder = aipool::exec::decode_audio_16k;
  auto built = aipool::exec::build_router(aipool::exec::model_specs(entries), std::move(engine_options),
                                          [](const std::string& warning) { spdlog::warn("{}", warning); });
  if (const auto* error = std::get_if<std::string>(&built)) die("-" + *error);
  const std::unique_ptr<aipool::exec::ServedModels> executor =
      std::move(std::get<std::unique_ptr<aipool::exec::ServedModels>>(built));
  config.adverts = aipool::codec::adverts_of(entries);

  spdlog::info("aipool-worker {} starting: {} orchestrator(s), {} GPU(s){}", AIPOOL_VERSION,
               config.orchestrators.size(), config.gpu_ids.size(), config.gpu_ids.empty() ? " (CPU)" : "");
  for (const auto& advert : config.adverts) {
    spdlog::info("serving {} with capacity {}", aipool::key_name(advert.key), advert.capacity);
  }

  aipool::net::OsRandom random;
  aipool::net::WorkerNode node(std::move(config), *executor, random);
  node.start();

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
  if (code != aipool::net::WorkerNode::kExitOk) {
    std::fprintf(stderr, "aipool-worker: %s\n", node.fatal_error().c_str());
  }
  spdlog::default_logger()->flush();
  return code;
}
