#include "exec/engines.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <stdexcept>

#include "exec/text_render.h"
#include "exec/tts_espeak.h"
#if AIPOOL_HAVE_TORCH
#include "exec/builtin_image.h"
#endif

namespace aipool::exec {
namespace {

const char* const kNoTorch = "this build has no libtorch (built with -DAIPOOL_WITH_TORCH=OFF)";

const char* const kEngineList =
    "builtin/bicubic (upscale); builtin/grayscale, builtin/blur, builtin/sharpen, builtin/edges (image-to-image); "
    "builtin/text-render (text-to-image); builtin/espeak (text-to-speech); torchscript (any pipeline, with the entry field \"file\")";

bool is_builtin_name(std::string_view engine) { return engine.rfind("builtin/", 0) == 0; }

}  // namespace

bool have_torch() {
#if AIPOOL_HAVE_TORCH
  return true;
#else
  return false;
#endif
}

BuiltinExecutors make_builtin_executors(const EngineOptions& options) {
  BuiltinExecutors out;
#if AIPOOL_HAVE_TORCH
  BuiltinImageExecutor::Options image;
  image.limits = options.limits;
  image.cpu_threads = options.cpu_threads;
  image.png = options.png;
  out.executors.push_back(std::make_unique<BuiltinImageExecutor>(image));
#else
  for (std::string_view model : {"builtin/bicubic", "builtin/grayscale", "builtin/blur", "builtin/sharpen",
                                 "builtin/edges"}) {
    out.unavailable[std::string(model)] = kNoTorch;
  }
#endif
  try {
    TextRenderExecutor::Options text;
    text.font_path = options.font_path;
    text.limits = options.limits;
    text.png = options.png;
    out.executors.push_back(std::make_unique<TextRenderExecutor>(text));
  } catch (const std::runtime_error& e) {
    out.unavailable[std::string(TextRenderExecutor::kModel)] = e.what();
  }
  std::string espeak_error;
  if (auto espeak = EspeakExecutor::create(options.espeak, espeak_error)) {
    out.executors.push_back(std::move(espeak));
  } else {
    out.unavailable[std::string(EspeakExecutor::kModel)] = espeak_error;
  }
  return out;
}

std::variant<std::unique_ptr<Executor>, std::string> make_torchscript_executor(Pipeline pipeline,
                                                                                std::string_view executor_json,
                                                                                bool warm,
                                                                                const EngineOptions& options) {
  if (pipeline == Pipeline::kLlm || pipeline == Pipeline::kTextToSpeech) {
    return "torchscript serves image-to-image, upscale, text-to-image, image-to-text and audio-to-text, not " +
           std::string(pipeline_name(pipeline));
  }
  std::string file;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(executor_json.empty() ? "{}" : executor_json));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return std::string("the entry's fields are not a JSON object");
    const Poco::JSON::Object::Ptr fields = parsed.extract<Poco::JSON::Object::Ptr>();
    const Poco::Dynamic::Var value = fields->get("file");
    if (value.isEmpty()) {
      return std::string("torchscript needs the entry field \"file\" naming a TorchScript file (under -aiModelsDir)");
    }
    if (!value.isString() || value.toString().empty()) {
      return std::string("torchscript: the entry field \"file\" must be a non-empty string");
    }
    file = value.toString();
  } catch (const Poco::Exception& e) {
    return "the entry's fields are not valid JSON: " + e.displayText();
  }
  std::filesystem::path path(file);
  if (path.is_relative() && !options.models_dir.empty()) path = std::filesystem::path(options.models_dir) / path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return "torchscript: no such file: " + path.string() +
           (options.models_dir.empty() ? "" : " (\"file\" is relative to -aiModelsDir)");
  }
#if AIPOOL_HAVE_TORCH
  TorchScriptExecutor::Options ts;
  ts.pipeline = pipeline;
  ts.file = path.string();
  ts.gpu_ids = options.gpu_ids;
  ts.cpu_threads = options.cpu_threads;
  ts.limits = options.limits;
  ts.png = options.png;
  ts.audio_decoder = options.audio_decoder;
  auto executor = std::make_unique<TorchScriptExecutor>(std::move(ts));
  if (warm) {
    if (std::string error = executor->load(); !error.empty()) return error;
  }
  return std::unique_ptr<Executor>(std::move(executor));
#else
  (void)pipeline;
  (void)warm;
  return std::string("torchscript: ") + kNoTorch;
#endif
}

std::vector<std::string> engine_fields(std::string_view engine) {
  if (engine == TorchScriptExecutor::kEngine) return {"file"};
  if (engine == kExternalRunnerEngine) return {"runner", "timeout_s", "ca_file", "fingerprint"};
  return {};
}

Engines::Engines(EngineOptions options) : options_(std::move(options)), builtins_(make_builtin_executors(options_)) {}

Engines::~Engines() = default;

void Engines::add(Executor& executor) { added_.push_back(&executor); }

std::variant<Executor*, std::string> Engines::executor_for(Pipeline pipeline, std::string_view engine,
                                                          std::string_view executor_json, bool warm) {
  if (engine == TorchScriptExecutor::kEngine) {
    auto made = make_torchscript_executor(pipeline, executor_json, warm, options_);
    if (auto* error = std::get_if<std::string>(&made)) return std::move(*error);
    torchscript_.push_back(std::move(std::get<std::unique_ptr<Executor>>(made)));
    return torchscript_.back().get();
  }
  const Key key{pipeline, std::string(engine)};
  for (Executor* executor : added_) {
    if (executor->supports(key)) return executor;
  }
  for (const auto& executor : builtins_.executors) {
    if (executor->supports(key)) return executor.get();
  }
  if (auto it = builtins_.unavailable.find(std::string(engine)); it != builtins_.unavailable.end()) {
    return std::string(engine) + " is not available: " + it->second;
  }
  std::string message = "no executor serves " + key_name(key);
  if (is_builtin_name(engine)) message += " (a built-in model serves one pipeline only)";
  return message + "; the engine models are " + kEngineList +
         ", and the test models test/echo, test/sleep, test/fail; serve a model id of your own with one of "
         "them through the entry's \"executor\" field";
}

}  // namespace aipool::exec
