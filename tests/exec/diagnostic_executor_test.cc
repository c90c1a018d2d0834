// Tests of src/exec/diagnostic_executor.h, the worker's deterministic diagnostic engine
// that stands in for real models: what each test/ model answers for each pipeline
// (WIRE-4 requests, RES-2/RES-3 response shapes).
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <memory>
#include <string>

#include "codec/base64.h"
#include "exec/diagnostic_executor.h"

namespace {

using aipool::ExecRequest;
using aipool::ExecResult;
using aipool::Key;
using aipool::Pipeline;
using aipool::exec::DiagnosticExecutor;

const std::string kPng("\x89PNG\r\n\x1a\n-fake-png-body", 22);

ExecRequest request_of(Pipeline pipeline, const std::string& model, const std::string& json) {
  return ExecRequest{Key{pipeline, model}, 1, std::make_shared<const std::string>(json), {}};
}

ExecResult execute(const ExecRequest& request) {
  DiagnosticExecutor executor;
  ExecResult out;
  int calls = 0;
  executor.execute(request, [&](ExecResult r) {
    ++calls;
    out = std::move(r);
  });
  EXPECT_EQ(calls, 1);
  return out;
}

Poco::JSON::Object::Ptr json_of(const ExecResult& result) {
  EXPECT_TRUE(result.ok) << result.error;
  if (!result.body.json) return nullptr;
  return Poco::JSON::Parser().parse(*result.body.json).extract<Poco::JSON::Object::Ptr>();
}

// Proves only test/echo, test/sleep and test/fail are served, on every pipeline (the diagnostic engine; WIRE-5 pipelines).
TEST(DiagnosticExecutor, SupportsOnlyTestModels) {
  DiagnosticExecutor executor;
  for (Pipeline p : {Pipeline::kTextToImage, Pipeline::kImageToText, Pipeline::kImageToImage, Pipeline::kUpscale,
                     Pipeline::kAudioToText}) {
    EXPECT_TRUE(executor.supports(Key{p, "test/echo"}));
    EXPECT_TRUE(executor.supports(Key{p, "test/sleep"}));
    EXPECT_TRUE(executor.supports(Key{p, "test/fail"}));
    EXPECT_FALSE(executor.supports(Key{p, "test/other"}));
    EXPECT_FALSE(executor.supports(Key{p, "ByteDance/SDXL-Lightning"}));
  }
}

// Proves text-to-image echo returns one text/plain file per image holding the prompt, named in the images JSON (RES-3).
TEST(DiagnosticExecutor, TextToImageEchoesPrompt) {
  const ExecResult result = execute(request_of(
      Pipeline::kTextToImage, "test/echo",
      R"({"model_id":"test/echo","prompt":"a red \"fox\"","num_images_per_prompt":3,"seed":42,"width":512})"));
  const auto json = json_of(result);
  ASSERT_TRUE(json);
  const auto images = json->getArray("images");
  ASSERT_EQ(images->size(), 3u);
  ASSERT_EQ(result.body.files.size(), 3u);
  for (unsigned i = 0; i < 3; ++i) {
    const auto image = images->getObject(i);
    EXPECT_EQ(image->getValue<std::string>("url"), result.body.files[i].name);
    EXPECT_EQ(image->getValue<int>("seed"), 42);
    EXPECT_FALSE(image->getValue<bool>("nsfw"));
    EXPECT_EQ(result.body.files[i].content_type, "text/plain");
    EXPECT_EQ(*result.body.files[i].bytes, "a red \"fox\"");
  }
  EXPECT_EQ(result.body.files[0].name, "image-0.txt");
}

// Proves image-to-image and upscale echo the input image bytes with the sniffed content type, seed 0 by default (RES-3, WIRE-4).
TEST(DiagnosticExecutor, ImagePipelinesEchoImage) {
  for (Pipeline p : {Pipeline::kImageToImage, Pipeline::kUpscale}) {
    const ExecResult result = execute(request_of(
        p, "test/echo",
        R"({"model_id":"test/echo","prompt":"x","image":")" + aipool::codec::base64_encode(kPng) + "\"}"));
    const auto json = json_of(result);
    ASSERT_TRUE(json);
    ASSERT_EQ(result.body.files.size(), 1u);
    EXPECT_EQ(result.body.files[0].name, "image-0.png");
    EXPECT_EQ(result.body.files[0].content_type, "image/png");
    EXPECT_EQ(*result.body.files[0].bytes, kPng);
    EXPECT_EQ(json->getArray("images")->getObject(0)->getValue<int>("seed"), 0);
  }
}

// Proves image-to-text echo answers text naming the prompt and the image size, with no files (RES-2).
TEST(DiagnosticExecutor, ImageToTextEchoesPromptAndSize) {
  const ExecResult result = execute(request_of(
      Pipeline::kImageToText, "test/echo",
      R"({"model_id":"test/echo","prompt":"what is it","image":")" + aipool::codec::base64_encode(kPng) + "\"}"));
  const auto json = json_of(result);
  ASSERT_TRUE(json);
  EXPECT_TRUE(result.body.files.empty());
  EXPECT_EQ(json->getValue<std::string>("text"), "echo: what is it (22 image bytes)");
}

// Proves audio-to-text echo answers the audio size and one chunk, with no files (RES-2).
TEST(DiagnosticExecutor, AudioToTextEchoesSize) {
  const ExecResult result = execute(request_of(Pipeline::kAudioToText, "test/echo",
                                               R"({"model_id":"test/echo","audio":")" +
                                                   aipool::codec::base64_encode(std::string(1000, 'a')) + "\"}"));
  const auto json = json_of(result);
  ASSERT_TRUE(json);
  EXPECT_TRUE(result.body.files.empty());
  EXPECT_EQ(json->getValue<std::string>("text"), "echo: 1000 audio bytes");
  const auto chunk = json->getArray("chunks")->getObject(0);
  EXPECT_EQ(chunk->getValue<std::string>("text"), "echo");
  EXPECT_EQ(chunk->getArray("timestamp")->size(), 2u);
}

// Proves `output_bytes` sizes the text of the JSON-form pipelines exactly, as it sizes
// the image pipelines' files, for tests of the worker's result limit (RES-2, RES-11).
TEST(DiagnosticExecutor, OutputBytesSizesTheTextOfTheJsonForm) {
  const std::string image = aipool::codec::base64_encode(kPng);
  for (const std::int64_t size : {std::int64_t{0}, std::int64_t{1}, std::int64_t{70000}}) {
    ExecResult result = execute(request_of(
        Pipeline::kImageToText, "test/echo",
        R"({"model_id":"test/echo","prompt":"p","image":")" + image + R"(","output_bytes":)" + std::to_string(size) + "}"));
    auto json = json_of(result);
    ASSERT_TRUE(json);
    EXPECT_EQ(json->getValue<std::string>("text"), std::string(static_cast<std::size_t>(size), 'x'));
    result = execute(request_of(Pipeline::kAudioToText, "test/echo",
                                R"({"model_id":"test/echo","audio":"YWJj","output_bytes":)" + std::to_string(size) + "}"));
    json = json_of(result);
    ASSERT_TRUE(json);
    EXPECT_EQ(json->getValue<std::string>("text"), std::string(static_cast<std::size_t>(size), 'x'));
    EXPECT_EQ(json->getArray("chunks")->size(), 1u);
  }
}

// Proves test/fail always fails with its fixed error (a worker error, RETRY-1 on the orchestrator).
TEST(DiagnosticExecutor, FailAlwaysFails) {
  for (const std::string json : {R"({"model_id":"test/fail","prompt":"x"})", "not json"}) {
    const ExecResult result = execute(request_of(Pipeline::kTextToImage, "test/fail", json));
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.error, "test/fail: failure requested");
  }
}

// Proves test/sleep waits at least sleep_ms, then answers as echo (a bounded wait, not a fixed sleep in the test).
TEST(DiagnosticExecutor, SleepWaitsThenEchoes) {
  const auto start = std::chrono::steady_clock::now();
  const ExecResult result = execute(
      request_of(Pipeline::kImageToText, "test/sleep",
                 R"({"model_id":"test/sleep","sleep_ms":60,"prompt":"p","image":")" + aipool::codec::base64_encode("ab") + "\"}"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(60));
  const auto json = json_of(result);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->getValue<std::string>("text"), "echo: p (2 image bytes)");
}

// Proves invalid requests fail with an error that names the field and the problem (RETRY-5: validation errors are explicit).
TEST(DiagnosticExecutor, InvalidRequestsSayWhatIsWrong) {
  struct Case {
    Pipeline pipeline;
    std::string model;
    std::string json;
    std::string expect;
  };
  const Case cases[] = {
      {Pipeline::kTextToImage, "test/echo", "{bad", "not valid JSON"},
      {Pipeline::kTextToImage, "test/echo", "[1]", "not a JSON object"},
      {Pipeline::kTextToImage, "test/echo", R"({"prompt":"x"})", "model_id is required"},
      {Pipeline::kTextToImage, "test/echo", R"({"model_id":"test/echo"})", "prompt is required"},
      {Pipeline::kTextToImage, "test/echo", R"({"model_id":"test/echo","prompt":5})", "prompt must be a string"},
      {Pipeline::kTextToImage, "test/echo", R"({"model_id":"test/echo","prompt":"x","num_images_per_prompt":0})",
       "num_images_per_prompt must be an integer from 1 to 16"},
      {Pipeline::kTextToImage, "test/echo", R"({"model_id":"test/echo","prompt":"x","num_images_per_prompt":17})",
       "num_images_per_prompt"},
      {Pipeline::kTextToImage, "test/echo", R"({"model_id":"test/echo","prompt":"x","seed":"s"})",
       "seed must be an integer"},
      {Pipeline::kImageToImage, "test/echo", R"({"model_id":"test/echo","prompt":"x"})", "image is required"},
      {Pipeline::kUpscale, "test/echo", R"({"model_id":"test/echo","image":"***"})", "image is not valid base64"},
      {Pipeline::kImageToText, "test/echo", R"({"model_id":"test/echo","image":7})", "image must be a base64 string"},
      {Pipeline::kAudioToText, "test/echo", R"({"model_id":"test/echo"})", "audio is required"},
      {Pipeline::kAudioToText, "test/sleep", R"({"model_id":"test/sleep","audio":"","sleep_ms":60001})",
       "sleep_ms must be an integer from 0 to 60000"},
      {Pipeline::kAudioToText, "test/sleep", R"({"model_id":"test/sleep","audio":"","sleep_ms":-1})", "sleep_ms"},
      {Pipeline::kTextToImage, "test/nope", R"({"model_id":"test/nope","prompt":"x"})", "is not served"},
  };
  for (const Case& c : cases) {
    const ExecResult result = execute(request_of(c.pipeline, c.model, c.json));
    EXPECT_FALSE(result.ok) << c.json;
    EXPECT_NE(result.error.find(c.expect), std::string::npos) << c.json << " -> " << result.error;
  }
}

}  // namespace
