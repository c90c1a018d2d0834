// Tests of streamed llm jobs through the external runner engine (spec/runners.md
// RUN-6, RUN-7; the executor seam's stream sink, src/seams/executor.h).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "runner_test_support.h"

namespace aipool::runner_test {
namespace {

const Key kLlm{Pipeline::kLlm, "meta/llama"};
const std::string kStreamJob = R"({"model_id":"meta/llama","messages":[{"role":"user","content":"hi"}],"stream":true})";

struct Sink {
  std::mutex mutex;
  std::vector<std::string> chunks;
};

ExecRequest streamed(Sink& sink, std::function<bool(const std::string&)> more = nullptr) {
  ExecRequest request = job(kLlm, kStreamJob);
  request.stream = [&sink, more](std::string_view chunk) {
    {
      std::lock_guard lock(sink.mutex);
      sink.chunks.emplace_back(chunk);
    }
    return more ? more(std::string(chunk)) : true;
  };
  return request;
}

// RUN-6: each data: line is one chunk, passed on as it arrives: the first reaches the
// sink while the server still holds the last (it sends it only when the sink has the first).
TEST(RunnerStream, OpenAiChunksArriveOneByOne) {
  testing::FakeRunner runner;
  runner.set_stream({.chunks = 4, .hold_last = true});
  auto executor = executor_on(runner, kLlm, R"({"runner":"openai"})");
  Sink sink;
  std::atomic<int> sent_at_first{-1};
  const ExecResult result = run(*executor, streamed(sink, [&](const std::string&) {
    if (sent_at_first.load() < 0) {
      sent_at_first = runner.chunks_sent();
      runner.release_last();
    }
    return true;
  }));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_LT(sent_at_first.load(), 4);  // the last chunk was not sent when the first arrived
  ASSERT_EQ(sink.chunks.size(), 4u);
  EXPECT_NE(sink.chunks[0].find(R"("delta":{"content":"word0 "})"), std::string::npos) << sink.chunks[0];
  EXPECT_NE(sink.chunks[3].find(R"("finish_reason":"stop")"), std::string::npos) << sink.chunks[3];
  EXPECT_NE(runner.requests().at(0).body.find(R"("stream":true)"), std::string::npos);
}

// RUN-6: a stream that ended with [DONE] keeps its connection to the runner for the
// next job (its body's end is read after `done`): streamed jobs in turn, and an
// ordinary one after them, all go over one connection.
TEST(RunnerStream, FinishedStreamKeepsItsConnection) {
  testing::FakeRunner runner;
  runner.set_stream({.chunks = 2});
  auto executor = executor_on(runner, kLlm, R"({"runner":"openai"})");
  for (int i = 0; i < 3; ++i) {
    Sink sink;
    const ExecResult result = run(*executor, streamed(sink));
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_EQ(sink.chunks.size(), 2u);
    const auto limit = std::chrono::steady_clock::now() + 30s;  // read after done: wait for it
    while (executor->idle_connections() == 0 && std::chrono::steady_clock::now() < limit) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(executor->idle_connections(), 1u) << "stream " << i;
  }
  const ExecResult whole = run(*executor, job(kLlm, R"({"model_id":"meta/llama","messages":[{"role":"user","content":"hi"}]})"));
  ASSERT_TRUE(whole.ok) << whole.error;
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& r : requests) EXPECT_EQ(r.peer, requests[0].peer);
}

// RUN-7: a sink that returns false (the client has gone) closes the connection to the
// runner, which sees its client go, and fails the job.
TEST(RunnerStream, GoneClientClosesTheRunnerConnection) {
  testing::FakeRunner runner;
  runner.set_stream({.gap = std::chrono::milliseconds(5), .forever = true});
  auto executor = executor_on(runner, kLlm, R"({"runner":"openai"})");
  Sink sink;
  const ExecResult result = run(*executor, streamed(sink, [](const std::string&) { return false; }));
  EXPECT_EQ(result.error, "runner " + runner.url() + ": stream stopped: the client has gone");
  EXPECT_EQ(sink.chunks.size(), 1u);
  EXPECT_TRUE(runner.wait_disconnects(1, 30s));
}

// RUN-6: a stream that ends without data: [DONE] fails, even after its chunks.
TEST(RunnerStream, OpenAiStreamWithoutDoneFails) {
  testing::FakeRunner runner;
  runner.set_stream({.chunks = 2, .done = false});
  auto executor = executor_on(runner, kLlm, R"({"runner":"openai"})");
  Sink sink;
  const ExecResult result = run(*executor, streamed(sink));
  EXPECT_EQ(result.error, "runner " + runner.url() + ": the stream ended without [DONE]");
  EXPECT_EQ(sink.chunks.size(), 2u);
}

// RUN-6: an ai-runner /llm event stream is read the same way; it may end without
// [DONE] after a chunk with a finish_reason, not otherwise.
TEST(RunnerStream, AiRunnerLlmStream) {
  testing::FakeRunner runner;
  auto executor = executor_on(runner, kLlm);
  Sink whole;
  runner.set_stream({.chunks = 3});
  EXPECT_TRUE(run(*executor, streamed(whole)).ok);
  EXPECT_EQ(whole.chunks.size(), 3u);
  EXPECT_EQ(runner.requests().at(0).path, "/llm");
  EXPECT_EQ(runner.requests().at(0).body, kStreamJob);
  Sink finished;
  runner.set_stream({.chunks = 2, .done = false});
  EXPECT_TRUE(run(*executor, streamed(finished)).ok);
  Sink cut;
  runner.set_stream({.chunks = 2, .done = false, .finish_reason_last = false});
  EXPECT_EQ(run(*executor, streamed(cut)).error, "runner " + runner.url() + ": the stream ended without [DONE]");
}

// RUN-6: a data: line that is not a JSON object fails the stream.
TEST(RunnerStream, ChunkNotJsonFails) {
  testing::FakeRunner runner;
  runner.set_stream({.chunks = 2, .not_json = true});
  auto executor = executor_on(runner, kLlm, R"({"runner":"openai"})");
  Sink sink;
  EXPECT_EQ(run(*executor, streamed(sink)).error, "runner " + runner.url() + ": a stream chunk is not a JSON object");
  EXPECT_TRUE(sink.chunks.empty());
}

}  // namespace
}  // namespace aipool::runner_test
