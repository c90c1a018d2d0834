#include "exec/diagnostic_executor.h"

#include <algorithm>

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "exec/diagnostic_llm.h"
#include "exec/request_json.h"

namespace aipool::exec {
namespace {

using codec::append_json_string;

ExecResult failure(std::string error) {
  ExecResult result;
  result.ok = false;
  result.error = std::move(error);
  return result;
}

ExecResult invalid(const std::string& what) { return failure("invalid request: " + what); }

// The fields of the request that the echo needs.
struct EchoInput {
  std::string prompt;
  std::optional<std::string> file;  // decoded `image` or `audio`
  std::int64_t seed = 0;
  int images = 1;
  int sleep_ms = DiagnosticExecutor::kDefaultSleepMs;
  std::int64_t output_bytes = -1;  // -1: the natural size
};

std::optional<std::int64_t> integer_of(const Poco::Dynamic::Var& v) {
  if (v.isEmpty() || v.isString() || v.isBoolean() || !v.isInteger()) return std::nullopt;
  try {
    return v.convert<Poco::Int64>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// Parses the request; on failure returns the error result instead.
std::variant<EchoInput, ExecResult> parse_input(const ExecRequest& request) {
  auto parsed = request_object(request);
  if (auto* error = std::get_if<std::string>(&parsed)) return invalid(*error);
  const Poco::JSON::Object::Ptr object = std::get<Poco::JSON::Object::Ptr>(parsed);
  EchoInput in;
  const Poco::Dynamic::Var model = object->get("model_id");
  if (!model.isString()) return invalid("model_id is required and must be a string");
  const Poco::Dynamic::Var prompt = object->get("prompt");
  if (!prompt.isEmpty()) {
    if (!prompt.isString()) return invalid("prompt must be a string");
    in.prompt = prompt.toString();
  }
  const bool wants_image = request.key.pipeline == Pipeline::kImageToImage ||
                           request.key.pipeline == Pipeline::kUpscale ||
                           request.key.pipeline == Pipeline::kImageToText;
  const bool wants_audio = request.key.pipeline == Pipeline::kAudioToText;
  if (wants_image || wants_audio) {
    const char* field = wants_image ? "image" : "audio";
    const Poco::Dynamic::Var v = object->get(field);
    if (v.isEmpty()) return invalid(std::string(field) + " is required (base64)");
    if (!v.isString()) return invalid(std::string(field) + " must be a base64 string");
    in.file = codec::base64_decode(v.toString());
    if (!in.file) return invalid(std::string(field) + " is not valid base64");
  }
  if (request.key.pipeline == Pipeline::kTextToImage && prompt.isEmpty()) return invalid("prompt is required");
  const Poco::Dynamic::Var seed = object->get("seed");
  if (!seed.isEmpty()) {
    const std::optional<std::int64_t> value = integer_of(seed);
    if (!value) return invalid("seed must be an integer");
    in.seed = *value;
  }
  const Poco::Dynamic::Var images = object->get("num_images_per_prompt");
  if (!images.isEmpty()) {
    const std::optional<std::int64_t> value = integer_of(images);
    if (!value || *value < 1 || *value > DiagnosticExecutor::kMaxImages) {
      return invalid("num_images_per_prompt must be an integer from 1 to " +
                     std::to_string(DiagnosticExecutor::kMaxImages));
    }
    in.images = static_cast<int>(*value);
  }
  const Poco::Dynamic::Var output = object->get("output_bytes");
  if (!output.isEmpty()) {
    const std::optional<std::int64_t> value = integer_of(output);
    if (!value || *value < 0 || *value > DiagnosticExecutor::kMaxOutputBytes) {
      return invalid("output_bytes must be an integer from 0 to " + std::to_string(DiagnosticExecutor::kMaxOutputBytes));
    }
    in.output_bytes = *value;
  }
  const Poco::Dynamic::Var sleep = object->get("sleep_ms");
  if (!sleep.isEmpty()) {
    const std::optional<std::int64_t> value = integer_of(sleep);
    if (!value || *value < 0 || *value > DiagnosticExecutor::kMaxSleepMs) {
      return invalid("sleep_ms must be an integer from 0 to " + std::to_string(DiagnosticExecutor::kMaxSleepMs));
    }
    in.sleep_ms = static_cast<int>(*value);
  }
  return in;
}

struct FileKind {
  const char* content_type;
  const char* extension;
};

FileKind sniff(std::string_view bytes) {
  if (bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) return {"image/png", "png"};
  if (bytes.substr(0, 3) == std::string_view("\xff\xd8\xff", 3)) return {"image/jpeg", "jpg"};
  if (bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") return {"image/webp", "webp"};
  if (bytes.substr(0, 4) == "GIF8") return {"image/gif", "gif"};
  return {"application/octet-stream", "bin"};
}

// A text output of exactly `bytes` bytes, for outputs of a given size in the JSON form.
std::string sized_text(std::int64_t bytes) { return std::string(static_cast<std::size_t>(bytes), 'x'); }

ExecResult echo(const ExecRequest& request, const EchoInput& in) {
  ExecResult result;
  result.ok = true;
  std::string json;
  switch (request.key.pipeline) {
    case Pipeline::kTextToImage:
    case Pipeline::kImageToImage:
    case Pipeline::kUpscale: {
      const bool from_prompt = request.key.pipeline == Pipeline::kTextToImage;
      const FileKind kind = from_prompt ? FileKind{"text/plain", "txt"} : sniff(*in.file);
      std::string content = from_prompt ? in.prompt : *in.file;
      if (in.output_bytes >= 0) {  // a sized output for benchmarks: the content repeated
        const auto size = static_cast<std::size_t>(in.output_bytes);
        std::string sized(content.empty() ? std::string("x") : content);
        sized.reserve(size);
        while (sized.size() < size) sized.append(sized, 0, std::min(sized.size(), size - sized.size()));
        sized.resize(size);
        content = std::move(sized);
      }
      const Payload bytes = std::make_shared<const std::string>(std::move(content));
      json = "{\"images\":[";
      for (int i = 0; i < in.images; ++i) {
        const std::string name = "image-" + std::to_string(i) + "." + kind.extension;
        result.body.files.push_back(ResultFile{name, kind.content_type, bytes});
        if (i > 0) json += ',';
        json += "{\"url\":";
        codec::append_json_string(json, name);
        json += ",\"seed\":" + std::to_string(in.seed) + ",\"nsfw\":false}";
      }
      json += "]}";
      break;
    }
    case Pipeline::kImageToText:
      json = "{\"text\":";
      codec::append_json_string(json, in.output_bytes >= 0 ? sized_text(in.output_bytes)
                                                           : "echo: " + in.prompt + " (" +
                                                                 std::to_string(in.file->size()) + " image bytes)");
      json += '}';
      break;
    case Pipeline::kAudioToText:
      json = "{\"text\":";
      codec::append_json_string(json, in.output_bytes >= 0 ? sized_text(in.output_bytes)
                                                           : "echo: " + std::to_string(in.file->size()) + " audio bytes");
      json += ",\"chunks\":[{\"timestamp\":[0,0],\"text\":\"echo\"}]}";
      break;
    case Pipeline::kLlm:  // answered by diagnostic::echo_llm before parse_input
    case Pipeline::kTextToSpeech:
      break;
  }
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

}  // namespace

bool DiagnosticExecutor::supports(const Key& key) const {
  return key.model == kEcho || key.model == kSleep || key.model == kFail;
}

ExecResult DiagnosticExecutor::run(const ExecRequest& request) {
  if (request.key.model == kFail) return failure(std::string(kFailError));
  if (request.key.model != kEcho && request.key.model != kSleep) {
    return failure("diagnostic executor: model " + request.key.model + " is not served (only test/echo, test/sleep, test/fail)");
  }
  if (request.key.pipeline == Pipeline::kLlm) return diagnostic::echo_llm(request);  // LLM-7
  if (request.key.pipeline == Pipeline::kTextToSpeech) return diagnostic::echo_speech(request);
  std::variant<EchoInput, ExecResult> input = parse_input(request);
  if (auto* error = std::get_if<ExecResult>(&input)) return std::move(*error);
  return echo(request, std::get<EchoInput>(input));
}

void DiagnosticExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  if (request.key.model == kSleep && request.key.pipeline != Pipeline::kLlm &&
      request.key.pipeline != Pipeline::kTextToSpeech) {
    std::variant<EchoInput, ExecResult> input = parse_input(request);
    if (auto* error = std::get_if<ExecResult>(&input)) {
      done(std::move(*error));
      return;
    }
    const EchoInput& in = std::get<EchoInput>(input);
    std::this_thread::sleep_for(std::chrono::milliseconds(in.sleep_ms));
    done(echo(request, in));
    return;
  }
  done(run(request));
}

}  // namespace aipool::exec
