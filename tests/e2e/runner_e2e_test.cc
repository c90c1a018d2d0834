// End-to-end runs of the external runner engine (spec/runners.md): a real orchestrator
// and real workers whose aiModels entries have a `url` pointing at the stand-in runner
// (tests/support/fake_runner.h), which serves from this test process.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "codec/base64.h"
#include "../support/raw_socket.h"
#include "e2e_support.h"
#include "fake_runner.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// An aiModels file holding `json`, in the test's temporary folder.
std::string models_file(const std::string& name, const std::string& json) {
  const std::string path = std::string(::testing::TempDir()) + "/" + name;
  std::ofstream(path) << json;
  return path;
}

Poco::JSON::Object::Ptr parsed(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

// RUN-1, RUN-3, RUN-6: a worker fronting an ai-runner (text-to-image) and an OpenAI
// server (llm): the client gets the runner's image as a data: URL and the chat answer.
TEST(RunnerE2e, WorkerServesThroughItsRunners) {
  testing::FakeRunner runner;
  runner.set_image("RUNNER-PNG");
  const std::string models = models_file(
      "runner-models.json",
      R"([{"pipeline":"text-to-image","model_id":"sd/turbo","url":")" + runner.url() +
          R"(","token":"e2e-t0ken","capacity":2},)"
          R"({"pipeline":"llm","model_id":"meta/llama","url":")" + runner.url() + R"(","runner":"openai","timeout_s":60}])");
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, models, {"-runnerHealthInterval", "1", "-runnerTimeout", "30"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 30s)) << worker->output();

  const HttpReply t2i = http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                                     R"({"model_id":"sd/turbo","prompt":"a fox"})");
  ASSERT_EQ(t2i.status, 200) << t2i.body.substr(0, 300);
  const auto images = parsed(t2i.body)->getArray("images");
  ASSERT_EQ(images->size(), 2u);
  EXPECT_EQ(images->getObject(0)->getValue<std::string>("url"), "data:image/png;base64," + codec::base64_encode("RUNNER-PNG"));
  EXPECT_EQ(images->getObject(0)->getValue<int>("seed"), 11);

  const HttpReply llm = http_request(orch.http_port, "POST", "/llm", "application/json",
                                     R"({"model":"meta/llama","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(llm.status, 200) << llm.body.substr(0, 300);
  const auto answer = parsed(llm.body);
  EXPECT_EQ(answer->getValue<std::string>("model"), "meta/llama");
  EXPECT_EQ(answer->getArray("choices")->getObject(0)->getObject("message")->getValue<std::string>("content"),
            "hello there");

  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].authorization, "Bearer e2e-t0ken");
  EXPECT_EQ(requests[1].path, "/v1/chat/completions");
  EXPECT_EQ(worker->output().find("e2e-t0ken"), std::string::npos);  // RUN-1: never logged
}

// RUN-5: of two workers, the one whose runner is LOADING refuses its jobs at once and
// the orchestrator sends them to the other (RETRY-1): every job succeeds.
TEST(RunnerE2e, LoadingRunnerSendsJobsToTheOtherWorker) {
  testing::FakeRunner loading;
  loading.set_health("LOADING");
  testing::FakeRunner ready;
  const auto entry = [](const testing::FakeRunner& r) {
    return R"([{"pipeline":"text-to-image","model_id":"sd/turbo","capacity":4,"url":")" + r.url() + "\"}]";
  };
  Orchestrator orch = start_orchestrator();
  auto slow = start_worker({orch.grpc_port}, models_file("loading.json", entry(loading)), {"-runnerHealthInterval", "1"});
  auto good = start_worker({orch.grpc_port}, models_file("ready.json", entry(ready)), {"-runnerHealthInterval", "1"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 2, 30s)) << slow->output() << good->output();
  for (int i = 0; i < 12; ++i) {
    const HttpReply reply = http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                                         R"({"model_id":"sd/turbo","prompt":"job )" + std::to_string(i) + "\"}");
    ASSERT_EQ(reply.status, 200) << i << ": " << reply.body.substr(0, 300);
  }
  EXPECT_TRUE(loading.requests().empty());
  EXPECT_EQ(ready.requests().size(), 12u);
  EXPECT_NE(slow->output().find("not ready (LOADING)"), std::string::npos) << slow->output();
}

// LLM-3, RUN-6: an OpenAI server's stream reaches the client through worker and
// orchestrator chunk by chunk: the first chunk arrives while the server still holds
// its last one; then the rest and data: [DONE].
TEST(RunnerE2e, OpenAiStreamReachesTheClientChunkByChunk) {
  testing::FakeRunner runner;
  testing::FakeRunner::Stream stream;
  stream.chunks = 3;
  stream.hold_last = true;
  runner.set_stream(stream);
  const std::string models = models_file(
      "stream-models.json",
      R"([{"pipeline":"llm","model_id":"meta/llama","url":")" + runner.url() + R"(","runner":"openai"}])");
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, models, {"-runnerHealthInterval", "1"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 30s)) << worker->output();
  const std::string body = R"({"model":"meta/llama","messages":[{"role":"user","content":"hi"}],"stream":true})";
  testing::RawSocket client(orch.http_port);
  ASSERT_TRUE(client.send("POST /llm HTTP/1.1\r\nHost: o\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body));
  const std::string first = client.read_until("word0", 20s);
  ASSERT_NE(first.find("word0"), std::string::npos) << first << worker->output();
  EXPECT_EQ(first.find("[DONE]"), std::string::npos) << first;
  runner.release_last();
  const std::string all = client.read_until("data: [DONE]", 20s);
  EXPECT_NE(all.find("word2"), std::string::npos) << all;
  EXPECT_NE(all.find("data: [DONE]"), std::string::npos) << all;
  EXPECT_EQ(all.find("event: error"), std::string::npos) << all;
}

// LLM-6, RUN-7: a client that leaves mid-stream stops the worker, which closes its
// connection to the OpenAI server (the server sees its client go).
TEST(RunnerE2e, ClientLeavingCutsTheRunnerOff) {
  testing::FakeRunner runner;
  testing::FakeRunner::Stream stream;
  stream.forever = true;
  stream.gap = 100ms;
  runner.set_stream(stream);
  const std::string models = models_file(
      "forever-models.json",
      R"([{"pipeline":"llm","model_id":"meta/llama","url":")" + runner.url() + R"(","runner":"openai"}])");
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, models, {"-runnerHealthInterval", "1"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 30s)) << worker->output();
  {
    const std::string body = R"({"model":"meta/llama","messages":[{"role":"user","content":"hi"}],"stream":true})";
    testing::RawSocket client(orch.http_port);
    ASSERT_TRUE(client.send("POST /llm HTTP/1.1\r\nHost: o\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
    ASSERT_NE(client.read_until("word1", 20s).find("word1"), std::string::npos) << worker->output();
  }
  for (int i = 0; i < 400 && runner.disconnects() == 0; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runner.disconnects(), 1) << worker->output();
  const int sent = runner.chunks_sent();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(runner.chunks_sent(), sent) << "the runner still streams to nobody";
}

// RUN-1: a url that is not http(s), or runner openai off llm, stops the worker at start
// (exit 2) with a message naming the entry.
TEST(RunnerE2e, BadEntriesStopTheWorker) {
  const std::pair<std::string, std::string> cases[] = {
      {R"([{"pipeline":"upscale","model_id":"m","url":"runner:8000"}])",
       "-aiModels entry 0: url must start with http:// or https:// (got \"runner:8000\")"},
      {R"([{"pipeline":"upscale","model_id":"m","url":"http://127.0.0.1:9","runner":"openai"}])",
       "-aiModels entry 0: runner \"openai\" serves the llm pipeline only, not upscale"},
  };
  for (const auto& [json, message] : cases) {
    std::string output;
    const int code = run_to_exit({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:1", "-orchSecret", "s3cret",
                                  "-insecure", "-aiModels", models_file("bad-runner.json", json)},
                                 output);
    EXPECT_EQ(code, 2) << output;
    EXPECT_NE(output.find(message), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace aipool::e2e
