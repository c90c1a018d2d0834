// File: engines.h
// The worker's engines, and how one aiModels entry finds the executor that runs it
// (spec/models.md MODEL-1, MODEL-12). For src/bin/worker_main.cc:
//
//   aipool::exec::EngineOptions options;
//   options.models_dir = FLAGS_aiModelsDir;         // TorchScript files
//   options.gpu_ids = config.gpu_ids;               // -nvidia
//   aipool::exec::Engines engines(options);         // makes the built-in executors
//   engines.add(diagnostic);                        // DiagnosticExecutor, the test/ models
//   ... for each entry, with `engine` its engine model (the `executor` field or model_id):
//   auto found = engines.executor_for(entry.key.pipeline, engine, entry.executor_json, entry.warm);
//   if (const auto* error = std::get_if<std::string>(&found)) die(where + *error);
//   router.add(entry.key, *std::get<aipool::Executor*>(found), engine);
//
// With libtorch (AIPOOL_HAVE_TORCH=1, a PUBLIC definition of aipool_engines) the
// process also loads glog, which registers the gflags flag `v` itself: the worker must
// then DECLARE_int32(v) instead of DEFINE_int32(v, ...), or gflags stops it at start
// with "flag 'v' was defined more than once".
//
// Engine models: builtin/bicubic (upscale), builtin/grayscale, builtin/blur,
// builtin/sharpen, builtin/edges (image-to-image; these need libtorch),
// builtin/text-render (text-to-image), builtin/espeak (text-to-speech), torchscript (any pipeline, entry field `file`;
// needs libtorch), and whatever executors the caller adds (the test models).
//
// Contract: Engines is set up before the worker starts (not thread-safe); the
// executors it hands out are thread-safe and live as long as it does.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "exec/job_request.h"
#include "exec/torchscript.h"
#include "exec/tts_espeak.h"
#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec {

struct EngineOptions {
  std::string models_dir;            // -aiModelsDir: base of relative `file` paths ("" : the working directory)
  std::vector<std::string> gpu_ids;  // -nvidia ids ("0", "1"); empty: CPU
  int cpu_threads = 0;               // libtorch intra-op threads; 0: the cores available (MODEL-13)
  ImageLimits limits;                // MODEL-2, MODEL-3
  std::string font_path;             // builtin/text-render's font; "": DejaVu Sans from fonts-dejavu-core
  media::PngOptions png;
  AudioDecoder audio_decoder;        // for torchscript audio-to-text (MODEL-17); empty: such jobs fail
  std::chrono::milliseconds runner_timeout{600'000};         // -runnerTimeout: an external runner's default (RUN-4)
  std::chrono::milliseconds runner_health_interval{2'000};   // -runnerHealthInterval (RUN-5)
  std::size_t runner_max_answer_bytes = std::size_t{256} << 20;  // -runnerMaxAnswerBytes (RUN-8)
  EspeakExecutor::Options espeak;    // builtin/espeak's library and data (MODEL-20); defaults: Debian's
};

// The name under which the worker's warnings speak of the external runner engine
// (spec/runners.md), which serves the entries that have a `url`.
inline constexpr std::string_view kExternalRunnerEngine = "external runner";

// Whether this build has libtorch (CMake option AIPOOL_WITH_TORCH).
bool have_torch();

struct BuiltinExecutors {
  std::vector<std::unique_ptr<Executor>> executors;
  // Engine models this build or machine lacks, with why (e.g. the font is missing).
  std::map<std::string, std::string> unavailable;
};
// The built-in executors (no model file): BuiltinImageExecutor (with libtorch),
// TextRenderExecutor (when its font can be read) and EspeakExecutor (when libespeak-ng
// and its data load).
BuiltinExecutors make_builtin_executors(const EngineOptions& options);

// MODEL-12: the executor of one entry served by the engine `torchscript`. Reads the
// entry field `file` from `executor_json` (ModelEntry::executor_json): required, a
// path absolute or relative to options.models_dir, that must exist. A warm entry's
// module is loaded now. The error is for the worker to stop with.
std::variant<std::unique_ptr<Executor>, std::string> make_torchscript_executor(Pipeline pipeline,
                                                                                std::string_view executor_json,
                                                                                bool warm,
                                                                                const EngineOptions& options);

// The entry fields an engine reads besides `executor` (for the worker's warning about
// unused fields): {"file"} for torchscript, those runner_config reads ("runner",
// "timeout_s", "ca_file", "fingerprint") for the external runner engine
// (kExternalRunnerEngine, RUN-1, RUN-9), none otherwise.
std::vector<std::string> engine_fields(std::string_view engine);

class Engines {
 public:
  explicit Engines(EngineOptions options);
  ~Engines();
  Engines(const Engines&) = delete;
  Engines& operator=(const Engines&) = delete;

  // An executor of the caller's (e.g. the DiagnosticExecutor), consulted before the
  // built-in ones. It must outlive this object.
  void add(Executor& executor);
  // MODEL-1: the executor for an entry of `pipeline` whose engine model is `engine`,
  // or the error to stop the worker with (naming the engines that exist).
  std::variant<Executor*, std::string> executor_for(Pipeline pipeline, std::string_view engine,
                                                    std::string_view executor_json, bool warm);

 private:
  EngineOptions options_;
  BuiltinExecutors builtins_;
  std::vector<Executor*> added_;
  std::vector<std::unique_ptr<Executor>> torchscript_;
};

}  // namespace aipool::exec
