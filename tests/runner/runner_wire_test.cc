// Tests of the external runner engine's requests and answers as pure functions
// (src/exec/runner_wire.h, runner_json.h, runner_http.h's parse_endpoint; spec/runners.md).
#include "exec/runner_wire.h"

#include <gtest/gtest.h>

#include <variant>

#include "codec/base64.h"
#include "codec/multipart.h"
#include "exec/runner_executor.h"
#include "exec/runner_json.h"

namespace aipool::exec::runner {
namespace {

Request request_of(std::variant<Request, std::string> built) {
  if (auto* error = std::get_if<std::string>(&built)) ADD_FAILURE() << *error;
  return std::holds_alternative<Request>(built) ? std::get<Request>(built) : Request{};
}

ExecResult result_of(Answer answer) {
  if (auto* error = std::get_if<std::string>(&answer)) ADD_FAILURE() << *error;
  return std::holds_alternative<ExecResult>(answer) ? std::get<ExecResult>(answer) : ExecResult{};
}

// The shallow reader splits one level and keeps nested text and escapes right.
TEST(RunnerJson, SplitsOneLevel) {
  const auto members = runner_json::object_members(R"( {"a":"x\"y","b":[1,{"c":"]"}],"d":{"e":null},"f":-1.5e3} )");
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 4u);
  EXPECT_EQ(runner_json::string_value((*members)[0].value), "x\"y");
  EXPECT_EQ((*members)[1].value, R"([1,{"c":"]"}])");
  EXPECT_EQ((*members)[2].value, R"({"e":null})");
  EXPECT_EQ((*members)[3].value, "-1.5e3");
  EXPECT_EQ(runner_json::array_elements((*members)[1].value)->size(), 2u);
  EXPECT_FALSE(runner_json::object_members(R"({"a":1,})"));
  EXPECT_FALSE(runner_json::object_members(R"({"a":"open)"));
  EXPECT_FALSE(runner_json::object_members("[1]"));
  EXPECT_FALSE(runner_json::object_members(R"({"a":1} x)"));
  EXPECT_TRUE(runner_json::object_members("{}"));
}

// RUN-2: text-to-image, llm and text-to-speech send the job's JSON as received.
TEST(RunnerWire, JsonPipelinesSendTheJobAsReceived) {
  const std::string job = R"({"model_id":"m","prompt":"a cat","width":512})";
  for (Pipeline p : {Pipeline::kTextToImage, Pipeline::kLlm, Pipeline::kTextToSpeech}) {
    const Request r = request_of(ai_runner_request(p, job));
    EXPECT_EQ(r.path, std::string("/").append(pipeline_name(p)));
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body, job);
  }
}

// RUN-2: the file pipelines send multipart/form-data: the file decoded in its part,
// every other field a text part (strings as they are, numbers and booleans as JSON text).
TEST(RunnerWire, FilePipelinesSendMultipart) {
  const std::string png = std::string("\x89PNG\r\n\x1a\n\0\x01" "binary", 16);
  const std::string job = R"({"model_id":"m","prompt":"say \"hi\"","strength":0.75,"steps":4,"safety_check":false,"x":null,"image":")" +
                          codec::base64_encode(png) + "\"}";
  const Request r = request_of(ai_runner_request(Pipeline::kImageToImage, job));
  EXPECT_EQ(r.path, "/image-to-image");
  ASSERT_EQ(codec::media_type(r.content_type), "multipart/form-data");
  const codec::MultipartResult parsed = codec::parse_multipart(r.body, *codec::header_param(r.content_type, "boundary"));
  ASSERT_TRUE(parsed.error.empty()) << parsed.error;
  std::map<std::string, codec::MultipartPart> parts;
  for (const auto& part : parsed.parts) parts[part.name.value_or("?")] = part;
  ASSERT_EQ(parts.size(), 6u);  // null is left out
  EXPECT_EQ(parts["model_id"].content, "m");
  EXPECT_EQ(parts["prompt"].content, "say \"hi\"");
  EXPECT_EQ(parts["strength"].content, "0.75");
  EXPECT_EQ(parts["steps"].content, "4");
  EXPECT_EQ(parts["safety_check"].content, "false");
  EXPECT_EQ(parts["image"].content, png);
  EXPECT_EQ(parts["image"].filename, "image");
  EXPECT_EQ(parts["image"].content_type, "application/octet-stream");

  const Request audio = request_of(ai_runner_request(Pipeline::kAudioToText, R"({"model_id":"w","audio":"UklGRg=="})"));
  EXPECT_EQ(audio.path, "/audio-to-text");
  EXPECT_NE(audio.body.find("name=\"audio\"; filename=\"audio\""), std::string::npos);
  EXPECT_NE(audio.body.find("RIFF"), std::string::npos);
  for (Pipeline p : {Pipeline::kUpscale, Pipeline::kImageToText}) {
    EXPECT_EQ(request_of(ai_runner_request(p, R"({"image":"AAAA"})")).path, std::string("/").append(pipeline_name(p)));
  }
}

// RUN-2: a file that holds the multipart boundary the body would use gets another
// boundary, so the file still reaches the runner whole and unchanged.
TEST(RunnerWire, FileHoldingTheBoundaryGetsAnother) {
  std::string file;
  for (int k = 0; k < 3000; ++k) file += "--aipool-runner-" + std::to_string(k) + "-x7Qe2bNf\r\n";
  const std::string job = R"({"model_id":"m","image":")" + codec::base64_encode(file) + "\"}";
  for (int round = 0; round < 2; ++round) {
    const Request r = request_of(ai_runner_request(Pipeline::kUpscale, job));
    const std::string boundary = *codec::header_param(r.content_type, "boundary");
    EXPECT_EQ(file.find(boundary), std::string::npos) << boundary;
    const codec::MultipartResult parsed = codec::parse_multipart(r.body, boundary);
    ASSERT_TRUE(parsed.error.empty()) << parsed.error;
    ASSERT_EQ(parsed.parts.size(), 2u);
    EXPECT_EQ(parsed.parts[1].content, file);
  }
}

// RUN-2: a file that is missing or not base64 is the job's fault.
TEST(RunnerWire, BadFilesAreInvalidRequests) {
  auto missing = ai_runner_request(Pipeline::kUpscale, R"({"model_id":"m"})");
  EXPECT_EQ(std::get<std::string>(missing), "invalid request: image is required (base64)");
  auto bad = ai_runner_request(Pipeline::kUpscale, R"({"image":"***"})");
  EXPECT_EQ(std::get<std::string>(bad), "invalid request: image is not valid base64");
  auto not_object = ai_runner_request(Pipeline::kTextToImage, "[]");
  EXPECT_EQ(std::get<std::string>(not_object), "invalid request: not a JSON object");
}

// RUN-3: data: URLs of images become the files image-<k>.<ext>, named in the JSON instead.
TEST(RunnerWire, ImageDataUrlsBecomeFiles) {
  const std::string answer = R"({"images":[{"url":"data:image/png;base64,)" + codec::base64_encode("PNGDATA") +
                             R"(","seed":1,"nsfw":false},{"url":"data:image/jpeg;base64,)" +
                             codec::base64_encode("JPG") + R"(","seed":2,"nsfw":true},{"url":"https://x/y.png"}]})";
  const ExecResult r = result_of(ai_runner_result(Pipeline::kTextToImage, answer));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(*r.body.json,
            R"({"images":[{"url":"image-0.png","seed":1,"nsfw":false},{"url":"image-1.jpg","seed":2,"nsfw":true},{"url":"https://x/y.png"}]})");
  ASSERT_EQ(r.body.files.size(), 2u);
  EXPECT_EQ(r.body.files[0].name, "image-0.png");
  EXPECT_EQ(r.body.files[0].content_type, "image/png");
  EXPECT_EQ(*r.body.files[0].bytes, "PNGDATA");
  EXPECT_EQ(r.body.files[1].name, "image-1.jpg");
  EXPECT_EQ(*r.body.files[1].bytes, "JPG");
}

// RUN-3: text-to-speech's audio.url becomes audio.<ext>; the other pipelines pass as they are.
TEST(RunnerWire, AudioDataUrlAndPlainAnswers) {
  const ExecResult speech = result_of(ai_runner_result(
      Pipeline::kTextToSpeech, R"({"audio":{"url":"data:audio/wav;base64,)" + codec::base64_encode("RIFF") + "\"}}"));
  EXPECT_EQ(*speech.body.json, R"({"audio":{"url":"audio.wav"}})");
  ASSERT_EQ(speech.body.files.size(), 1u);
  EXPECT_EQ(speech.body.files[0].content_type, "audio/wav");
  EXPECT_EQ(*speech.body.files[0].bytes, "RIFF");
  const std::string text = R"({"text":"a cat","chunks":[]})";
  EXPECT_EQ(*result_of(ai_runner_result(Pipeline::kAudioToText, text)).body.json, text);
}

// RUN-3: an answer that is not a JSON object, or a data: URL that cannot be decoded, fails.
TEST(RunnerWire, UnreadableAnswersFail) {
  EXPECT_EQ(std::get<std::string>(ai_runner_result(Pipeline::kImageToText, "<html>")), "answer is not a JSON object");
  EXPECT_EQ(std::get<std::string>(ai_runner_result(Pipeline::kTextToImage, R"({"images":[{"url":"data:image/png;base64,@@"}]})")),
            "answer's images[0].url is a data: URL whose base64 cannot be decoded");
  EXPECT_EQ(std::get<std::string>(ai_runner_result(Pipeline::kUpscale, R"({"images":[{"url":"data:image/png,%41"}]})")),
            "answer's images[0].url is a data: URL that is not base64");
  EXPECT_EQ(std::get<std::string>(ai_runner_result(Pipeline::kUpscale, R"({"text":"x"})")), "answer has no images array");
}

// RUN-4: the runner's message is detail.msg, else the body's first 256 bytes.
TEST(RunnerWire, ErrorMessage) {
  EXPECT_EQ(error_message(R"({"detail":{"msg":"Pipeline not available"}})"), "Pipeline not available");
  EXPECT_EQ(error_message(R"({"detail":[{"msg":"field required"}]})"), R"({"detail":[{"msg":"field required"}]})");
  EXPECT_EQ(error_message(std::string(300, 'x')), std::string(256, 'x'));
}

// RUN-5: ready on 200 with OK or IDLE; LOADING, ERROR, other answers are not.
TEST(RunnerWire, Health) {
  EXPECT_TRUE(ai_runner_health(200, R"({"status":"OK"})").ready);
  EXPECT_TRUE(ai_runner_health(200, R"({"status":"IDLE"})").ready);
  EXPECT_EQ(ai_runner_health(200, R"({"status":"LOADING"})").state, "LOADING");
  EXPECT_FALSE(ai_runner_health(200, R"({"status":"LOADING"})").ready);
  EXPECT_FALSE(ai_runner_health(200, R"({"status":"ERROR"})").ready);
  EXPECT_FALSE(ai_runner_health(200, "{}").ready);
  EXPECT_EQ(ai_runner_health(503, "").state, "answering 503");
  EXPECT_TRUE(openai_health(200).ready);
  EXPECT_FALSE(openai_health(404).ready);
}

// RUN-6: the chat completion request takes model, messages and the sampling fields; top_k when not -1.
TEST(RunnerWire, OpenAiRequest) {
  const std::string job = R"({"model_id":"m","model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.7,)"
                          R"("max_tokens":256,"top_p":1,"top_k":-1,"stream":false,"extra":1})";
  const Request r = request_of(openai_request("served/model", job));
  EXPECT_EQ(r.path, "/v1/chat/completions");
  EXPECT_EQ(r.body, R"({"model":"served/model","messages":[{"role":"user","content":"hi"}],"temperature":0.7,)"
                    R"("max_tokens":256,"top_p":1,"stream":false})");
  const Request k = request_of(openai_request("m", R"({"messages":[],"top_k":40})"));
  EXPECT_EQ(k.body, R"({"model":"m","messages":[],"top_k":40})");
  EXPECT_EQ(std::get<std::string>(openai_request("m", R"({"prompt":"x"})")), "invalid request: messages is required (an array)");
}

// RUN-6: the chat completion answer maps to the llm result (LLM-2).
TEST(RunnerWire, OpenAiAnswer) {
  const ExecResult r = result_of(openai_result(
      "served/model",
      R"({"id":"c1","object":"chat.completion","created":17,"model":"other","choices":[{"index":0,"message":{"role":"assistant","content":"yo"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})"));
  EXPECT_EQ(*r.body.json,
            R"({"id":"c1","model":"served/model","created":17,"usage":{"completion_tokens":1,"prompt_tokens":1,"total_tokens":2},)"
            R"("choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"yo"}}]})");
  EXPECT_EQ(std::get<std::string>(openai_result("m", R"({"id":"x"})")), "answer has no choices array");
  EXPECT_EQ(std::get<std::string>(openai_result("m", "nope")).rfind("answer is not valid JSON", 0), 0u);
}

// RUN-6: event stream lines: data: chunks, [DONE], the rest ignored.
TEST(RunnerWire, StreamLines) {
  EXPECT_EQ(read_stream_line("data: {\"a\":1}\r").chunk, "{\"a\":1}");
  EXPECT_EQ(read_stream_line("data:[DONE]").kind, StreamLine::Kind::kDone);
  EXPECT_EQ(read_stream_line(": keep-alive").kind, StreamLine::Kind::kOther);
  EXPECT_EQ(read_stream_line("").kind, StreamLine::Kind::kOther);
  EXPECT_TRUE(chunk_finishes(R"({"choices":[{"delta":{},"finish_reason":"stop"}]})"));
  EXPECT_FALSE(chunk_finishes(R"({"choices":[{"delta":{},"finish_reason":null}]})"));
  EXPECT_FALSE(chunk_is_object("[1]"));
}

// RUN-1: an http(s) base URL; runner "openai" for llm only; timeout_s a positive number.
TEST(RunnerWire, EntryConfig) {
  const RunnerDefaults defaults{std::chrono::seconds(600), std::chrono::seconds(2)};
  const Key t2i{Pipeline::kTextToImage, "m"};
  auto ok = runner_config(t2i, "https://gpu.example:8000/base/", "t", R"({"timeout_s":1.5})", defaults);
  ASSERT_TRUE(std::holds_alternative<RunnerConfig>(ok)) << std::get<std::string>(ok);
  const RunnerConfig& config = std::get<RunnerConfig>(ok);
  EXPECT_TRUE(config.endpoint.https);
  EXPECT_EQ(config.endpoint.port, 8000);
  EXPECT_EQ(config.endpoint.base_path, "/base");
  EXPECT_EQ(config.endpoint.url, "https://gpu.example:8000/base");
  EXPECT_EQ(config.timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.api, Api::kAiRunner);
  EXPECT_EQ(std::get<std::string>(runner_config(t2i, "ftp://x", "", "{}", defaults)),
            "url must start with http:// or https:// (got \"ftp://x\")");
  EXPECT_EQ(std::get<std::string>(runner_config(t2i, "runner:8000", "", "{}", defaults)).rfind("url must start", 0), 0u);
  EXPECT_EQ(std::get<std::string>(runner_config(t2i, "http://x", "", R"({"runner":"openai"})", defaults)),
            "runner \"openai\" serves the llm pipeline only, not text-to-image");
  EXPECT_EQ(std::get<std::string>(runner_config(t2i, "http://x", "", R"({"runner":"vllm"})", defaults)),
            "runner must be \"ai-runner\" or \"openai\"");
  EXPECT_EQ(std::get<std::string>(runner_config(t2i, "http://x", "", R"({"timeout_s":0})", defaults)),
            "timeout_s must be a number of seconds above 0 and at most 86400");
  auto llm = runner_config({Pipeline::kLlm, "m"}, "http://x", "", R"({"runner":"openai"})", defaults);
  EXPECT_EQ(std::get<RunnerConfig>(llm).api, Api::kOpenAi);
  EXPECT_EQ(std::get<RunnerConfig>(llm).timeout, std::chrono::seconds(600));
}

}  // namespace
}  // namespace aipool::exec::runner
