// test/echo for llm and text-to-speech (diagnostic_llm.h).
#include "exec/diagnostic_llm.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "codec/json_text.h"
#include "codec/wav.h"
#include "exec/request_json.h"

namespace aipool::exec::diagnostic {
namespace {

constexpr int kMaxSleepMs = 60000;

ExecResult failed(std::string error) {
  ExecResult result;
  result.error = std::move(error);
  return result;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// The head every chunk and the whole answer share: "id", "model", "created".
std::string head_json(TaskId task, const std::string& model) {
  std::string json = "{\"id\":\"echo-" + std::to_string(task) + "\",\"model\":";
  codec::append_json_string(json, model);
  json += ",\"created\":" + std::to_string(static_cast<long long>(std::time(nullptr)));
  return json;
}

std::string usage_json(std::size_t prompt, std::size_t completion) {
  return "\"usage\":{\"prompt_tokens\":" + std::to_string(prompt) + ",\"completion_tokens\":" +
         std::to_string(completion) + ",\"total_tokens\":" + std::to_string(prompt + completion) + "}";
}

struct LlmInput {
  std::string content;  // the last message's
  std::size_t prompt_words = 0;
  int sleep_ms = 0;
};

std::variant<LlmInput, ExecResult> read_llm(const ExecRequest& request) {
  auto parsed = request_object(request);
  if (auto* error = std::get_if<std::string>(&parsed)) return failed("invalid request: " + *error);
  const Poco::JSON::Object::Ptr object = std::get<Poco::JSON::Object::Ptr>(parsed);
  LlmInput in;
  const Poco::JSON::Array::Ptr messages = object->getArray("messages");
  if (!messages || messages->size() == 0) return failed("invalid request: messages must be a non-empty array");
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const Poco::JSON::Object::Ptr message = messages->getObject(static_cast<unsigned>(i));
    if (!message || !message->get("content").isString()) {
      return failed("invalid request: messages[" + std::to_string(i) + "].content must be a string");
    }
    in.content = message->getValue<std::string>("content");
    in.prompt_words += words_of(in.content).size();
  }
  const Poco::Dynamic::Var sleep = object->get("sleep_ms");
  if (!sleep.isEmpty()) {
    if (!sleep.isInteger() || sleep.convert<Poco::Int64>() < 0 || sleep.convert<Poco::Int64>() > kMaxSleepMs) {
      return failed("invalid request: sleep_ms must be an integer from 0 to " + std::to_string(kMaxSleepMs));
    }
    in.sleep_ms = static_cast<int>(sleep.convert<Poco::Int64>());
  }
  return in;
}

ExecResult whole_answer(const ExecRequest& request, const LlmInput& in, std::size_t words) {
  std::string json = head_json(request.task, request.key.model);
  json += ",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\",\"content\":";
  codec::append_json_string(json, in.content);
  json += "}}]," + usage_json(in.prompt_words, words) + "}";
  ExecResult result;
  result.ok = true;
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

}  // namespace

ExecResult echo_llm(const ExecRequest& request) {
  std::variant<LlmInput, ExecResult> read = read_llm(request);
  if (auto* error = std::get_if<ExecResult>(&read)) return std::move(*error);
  const LlmInput& in = std::get<LlmInput>(read);
  const std::vector<std::string> words = words_of(in.content);
  if (!request.stream) {
    if (in.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(in.sleep_ms));
    return whole_answer(request, in, words.size());
  }
  for (std::size_t i = 0; i <= words.size(); ++i) {
    if (in.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(in.sleep_ms));
    const bool last = i == words.size();
    std::string chunk = head_json(request.task, request.key.model);
    chunk += ",\"choices\":[{\"index\":0,\"delta\":{";
    if (i == 0) chunk += "\"role\":\"assistant\",";
    chunk += "\"content\":";
    codec::append_json_string(chunk, last ? std::string() : (i == 0 ? "" : " ") + words[i]);
    chunk += "},\"finish_reason\":";
    chunk += last ? "\"stop\"}]," + usage_json(in.prompt_words, words.size()) + "}" : std::string("null}]}");
    if (!request.stream(chunk)) return failed("cancelled: the stream's reader has gone");
  }
  ExecResult result;
  result.ok = true;
  return result;
}

ExecResult echo_speech(const ExecRequest& request) {
  auto parsed = request_object(request);
  if (auto* error = std::get_if<std::string>(&parsed)) return failed("invalid request: " + *error);
  const Poco::Dynamic::Var text = std::get<Poco::JSON::Object::Ptr>(parsed)->get("text");
  if (!text.isString() || text.toString().empty()) return failed("invalid request: text is required");
  constexpr std::uint32_t kRate = 16000;
  const std::size_t samples = std::min<std::size_t>(text.toString().size(), 6000) * kRate / 100;
  std::string wav = codec::pcm16_mono_wav(nullptr, samples, kRate);
  ExecResult result;
  result.ok = true;
  result.body.json = std::make_shared<const std::string>("{\"audio\":{\"url\":\"audio.wav\"}}");
  result.body.files.push_back(ResultFile{"audio.wav", "audio/wav", std::make_shared<const std::string>(std::move(wav))});
  return result;
}

}  // namespace aipool::exec::diagnostic
