#include "exec/served_models.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>

#include "exec/runner_executor.h"
#include "exec/speech_ocr_engines.h"

namespace aipool::exec {
namespace {

constexpr std::uint32_t kMaxEngineInstances = 64;

// One entry's engine model and the names of its own fields.
struct Routed {
  std::string engine;
  std::vector<std::string> fields;
};

std::string where(std::size_t index) { return "aiModels entry " + std::to_string(index) + ": "; }

// Each entry's engine model: its `executor` field, or its model_id.
std::variant<std::vector<Routed>, std::string> route_entries(const std::vector<ModelSpec>& specs) {
  std::vector<Routed> routed;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Routed entry{specs[i].key.model, {}};
    Poco::JSON::Object::Ptr fields;
    try {
      Poco::JSON::Parser parser;
      fields = parser.parse(specs[i].executor_json).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
      return where(i) + "executor fields are not a JSON object: " + e.displayText();
    }
    if (fields->has("executor")) {
      if (!fields->get("executor").isString()) return where(i) + "executor must be a string naming an engine model";
      entry.engine = fields->getValue<std::string>("executor");
    }
    for (const auto& field : *fields) entry.fields.push_back(field.first);
    routed.push_back(std::move(entry));
  }
  return routed;
}

// The jobs at once of the entries whose engine model is `engine`, as engine instances.
// The fields of entry `index` that `engine` does not read, as warnings.
void warn_unused_fields(std::size_t index, std::string_view engine, const Routed& routed,
                        const std::function<void(const std::string&)>& warn) {
  const std::vector<std::string> known = engine_fields(engine);
  for (const std::string& name : routed.fields) {
    if (name != "executor" && std::find(known.begin(), known.end(), name) == known.end()) {
      warn(where(index) + "field '" + name + "' is not used by engine " + std::string(engine));
    }
  }
}

// RUN-1: the runner engine of an entry with a url; nullptr and `error` set when the
// entry is wrong. Asks the runner for its health (RUN-5).
std::unique_ptr<Executor> make_runner(const ModelSpec& spec, const Routed& routed, const RunnerDefaults& defaults,
                                      std::string& error) {
  if (std::find(routed.fields.begin(), routed.fields.end(), "executor") != routed.fields.end()) {
    error = "an entry with a url is served by its runner; leave out \"executor\"";
    return nullptr;
  }
  auto config = runner_config(spec.key, spec.url, spec.token, spec.executor_json, defaults);
  if (auto* message = std::get_if<std::string>(&config)) {
    error = std::move(*message);
    return nullptr;
  }
  return std::make_unique<RunnerExecutor>(std::get<RunnerConfig>(std::move(config)));
}

int instances_of(std::string_view engine, const std::vector<ModelSpec>& specs, const std::vector<Routed>& routed) {
  std::uint32_t slots = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (routed[i].engine == engine) slots += specs[i].capacity;
  }
  return static_cast<int>(std::min(slots, kMaxEngineInstances));
}

}  // namespace

std::vector<ModelSpec> model_specs(const std::vector<codec::ModelEntry>& entries) {
  std::vector<ModelSpec> specs;
  for (const codec::ModelEntry& entry : entries) {
    specs.push_back({entry.key, entry.warm, entry.capacity, entry.executor_json, entry.url, entry.token});
  }
  return specs;
}

ServedModels::ServedModels(EngineOptions options) : engines_(std::move(options)) { engines_.add(diagnostic_); }

void ServedModels::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  router_.execute(request, std::move(done));
}

std::variant<std::unique_ptr<ServedModels>, std::string> build_router(
    const std::vector<ModelSpec>& specs, EngineOptions options, const std::function<void(const std::string&)>& warn) {
  auto routed_or_error = route_entries(specs);
  if (auto* error = std::get_if<std::string>(&routed_or_error)) return std::move(*error);
  const std::vector<Routed>& routed = std::get<std::vector<Routed>>(routed_or_error);

  const std::uint64_t max_input_pixels = options.limits.max_input_pixels;
  const RunnerDefaults runner_defaults{options.runner_timeout, options.runner_health_interval,
                                       options.runner_max_answer_bytes};
  std::unique_ptr<ServedModels> models(new ServedModels(std::move(options)));
  std::string error;
  if (const int ocr = instances_of(kOcrEngineModel, specs, routed); ocr > 0) {  // loaded only when an entry uses it
    models->ocr_ = make_ocr_executor(ocr, max_input_pixels, error);
    if (!models->ocr_) return "aiModels: " + error;
    models->engines_.add(*models->ocr_);
  }
  if (const int speech = instances_of(kSpeechEngineModel, specs, routed); speech > 0) {
    models->speech_ = make_speech_executor(speech, error);
    if (!models->speech_) return "aiModels: " + error;
    models->engines_.add(*models->speech_);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const ModelSpec& spec = specs[i];
    const std::string& engine = routed[i].engine;
    if (!spec.url.empty()) {
      warn_unused_fields(i, kExternalRunnerEngine, routed[i], warn);
      models->runners_.push_back(make_runner(spec, routed[i], runner_defaults, error));
      if (!models->runners_.back()) return where(i) + error;
      models->router_.add(spec.key, *models->runners_.back(), spec.key.model);
      continue;
    }
    warn_unused_fields(i, engine, routed[i], warn);
    if (!spec.token.empty()) warn(where(i) + "token is used with a url only (an external runner); ignored");
    auto found = models->engines_.executor_for(spec.key.pipeline, engine, spec.executor_json, spec.warm);
    if (auto* found_error = std::get_if<std::string>(&found)) return where(i) + *found_error;
    models->router_.add(spec.key, *std::get<Executor*>(found), engine);
  }
  return models;
}

}  // namespace aipool::exec
