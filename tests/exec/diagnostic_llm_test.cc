// The test model's llm and text-to-speech answers (src/exec/diagnostic_llm.h,
// spec/llm.md LLM-7).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "exec/diagnostic_executor.h"

namespace aipool::exec {
namespace {

ExecResult run(ExecRequest request) {
  DiagnosticExecutor executor;
  ExecResult out;
  executor.execute(request, [&out](ExecResult r) { out = std::move(r); });
  return out;
}

ExecRequest llm_request(const std::string& json) {
  return ExecRequest{Key{Pipeline::kLlm, "test/echo"}, 7, std::make_shared<const std::string>(json), nullptr};
}

// LLM-7: test/echo answers the last message's content whole, with usage counting words.
TEST(DiagnosticLlm, WholeAnswer) {
  const ExecResult r = run(llm_request(
      R"({"model_id":"test/echo","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi there"}]})"));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(r.body.json);
  EXPECT_NE(r.body.json->find(R"("message":{"role":"assistant","content":"hi there"})"), std::string::npos)
      << *r.body.json;
  EXPECT_NE(r.body.json->find(R"("prompt_tokens":4,"completion_tokens":2,"total_tokens":6)"), std::string::npos)
      << *r.body.json;
  EXPECT_NE(r.body.json->find(R"("id":"echo-7")"), std::string::npos);
  EXPECT_FALSE(run(llm_request(R"({"model_id":"test/echo","messages":[]})")).ok);
  EXPECT_EQ(run(llm_request(R"({"model_id":"test/echo","messages":[{"content":1}]})")).error,
            "invalid request: messages[0].content must be a string");
}

// LLM-7, LLM-4: streamed, one chunk per word (the first with the role), a last chunk with finish_reason and usage; a sink that refuses stops the job with a failure.
TEST(DiagnosticLlm, StreamedWordByWord) {
  std::vector<std::string> chunks;
  ExecRequest request = llm_request(R"({"model_id":"test/echo","messages":[{"role":"user","content":"a b c"}]})");
  request.stream = [&chunks](std::string_view chunk) {
    chunks.emplace_back(chunk);
    return true;
  };
  ExecResult r = run(request);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_NE(chunks[0].find(R"("delta":{"role":"assistant","content":"a"},"finish_reason":null)"), std::string::npos)
      << chunks[0];
  EXPECT_NE(chunks[1].find(R"("delta":{"content":" b"})"), std::string::npos) << chunks[1];
  EXPECT_NE(chunks[3].find(R"("finish_reason":"stop")"), std::string::npos) << chunks[3];
  EXPECT_NE(chunks[3].find(R"("usage")"), std::string::npos) << chunks[3];

  int calls = 0;
  request.stream = [&calls](std::string_view) { return ++calls < 2; };
  r = run(request);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(calls, 2);
  EXPECT_NE(r.error.find("cancelled"), std::string::npos) << r.error;
}

// API-6: test/echo answers text-to-speech with audio.wav, a WAV of 10 ms of silence per byte of text.
TEST(DiagnosticLlm, SpeechEchoIsAWav) {
  const ExecResult r = run(ExecRequest{Key{Pipeline::kTextToSpeech, "test/echo"}, 1,
                                       std::make_shared<const std::string>(R"({"model_id":"test/echo","text":"hello"})"),
                                       nullptr});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(*r.body.json, R"({"audio":{"url":"audio.wav"}})");
  ASSERT_EQ(r.body.files.size(), 1u);
  EXPECT_EQ(r.body.files[0].content_type, "audio/wav");
  EXPECT_EQ(r.body.files[0].bytes->size(), 44u + 5 * 160 * 2);
  EXPECT_EQ(r.body.files[0].bytes->substr(0, 4), "RIFF");
}

}  // namespace
}  // namespace aipool::exec
