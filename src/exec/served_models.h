// File: served_models.h
// From the worker's aiModels entries to the one executor that serves them all
// (spec/models.md MODEL-1, MODEL-12): each entry's engine model is its `executor`
// field, or its model_id; the engine is found among the diagnostic executor (the
// test/ models), the built-in executors, TorchScript (engines.h), Tesseract and
// PocketSphinx (speech_ocr_engines.h, loaded only when an entry uses them, with as
// many engines as the capacities of their entries add up to, at most 64); the
// ModelRouter then runs each served key on its engine under the engine's model name.
//
//   auto built = aipool::exec::build_router(aipool::exec::model_specs(entries), options,
//                                           [](const std::string& w) { spdlog::warn("{}", w); });
//   if (const auto* error = std::get_if<std::string>(&built)) die("-" + *error);
//   ServedModels& models = *std::get<std::unique_ptr<ServedModels>>(built);
//
// Errors and warnings name the entry by its 0-based index, e.g.
//   aiModels entry 1: executor must be a string naming an engine model
//   aiModels entry 0: no executor serves text-to-image/nobody/serves-this; the engine models are ...
//   aiModels: <why Tesseract or PocketSphinx did not load, naming the Debian package>
// An entry with a `url` is served by the external runner engine (runner_executor.h,
// spec/runners.md RUN-1): its `runner` and `timeout_s` fields are read, its runner is
// asked for its health before build_router returns, and a `url` that is not http(s),
// an `executor` field beside it, or `runner: openai` on another pipeline than llm is
// an error. Warnings, handed to `warn` entry by entry as they are found (so those
// before an error too): an entry field its engine does not read; a `token` without a
// `url`. The token is passed to the runner engine only: no message holds it.
//
// Contract: build_router() runs at start, on one thread, before the worker starts
// (warm entries' models are loaded then, runners asked for their health); it calls `warn` on that thread. The ServedModels it returns owns every
// executor it routes to; it is thread-safe once built and must outlive the
// WorkerNode that runs jobs on it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "codec/model_config.h"
#include "exec/diagnostic_executor.h"
#include "exec/engines.h"
#include "exec/model_router.h"
#include "seams/executor.h"

namespace aipool::exec {

// What an executor needs of one aiModels entry (the prices stay with the advert).
struct ModelSpec {
  Key key;                           // the served pipeline and model_id
  bool warm = false;                 // load the model now, not at the first job
  std::uint32_t capacity = 1;        // jobs at once (sizes the Tesseract and PocketSphinx pools)
  std::string executor_json = "{}";  // the entry's own fields, as one JSON object (`executor` among them)
  std::string url;                   // an external runner's base URL ("" : none, RUN-1)
  std::string token;                 // its bearer token: never log it, never put it in a message
};

// One ModelSpec per entry, in order.
std::vector<ModelSpec> model_specs(const std::vector<codec::ModelEntry>& entries);

// The worker's executor: routes each served key to the engine its entry names.
class ServedModels final : public Executor {
 public:
  bool supports(const Key& key) const override { return router_.supports(key); }
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;

 private:
  friend std::variant<std::unique_ptr<ServedModels>, std::string> build_router(
      const std::vector<ModelSpec>&, EngineOptions, const std::function<void(const std::string&)>&);
  explicit ServedModels(EngineOptions options);

  DiagnosticExecutor diagnostic_;
  Engines engines_;
  std::unique_ptr<Executor> ocr_;
  std::unique_ptr<Executor> speech_;
  std::vector<std::unique_ptr<Executor>> runners_;  // one RunnerExecutor per entry with a url
  ModelRouter router_;
};

// The executor serving `specs`, or the error that names the entry (or the engine) at
// fault. `options`: the engines' settings (-aiModelsDir, -nvidia, the audio decoder).
std::variant<std::unique_ptr<ServedModels>, std::string> build_router(
    const std::vector<ModelSpec>& specs, EngineOptions options, const std::function<void(const std::string&)>& warn);

}  // namespace aipool::exec
