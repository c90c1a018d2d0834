// Streamed result posts as the orchestrator judges them (spec/llm.md LLM-5): an
// in-process orchestrator, a worker that is only a gRPC stream read by the test, and
// event streams posted over raw HTTP, well formed or not.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "../support/raw_socket.h"
#include "aipool.grpc.pb.h"
#include "e2e_support.h"
#include "net/capabilities.h"
#include "net/orchestrator_node.h"

namespace aipool::net {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

constexpr const char* kChunk = R"({"id":"c","model":"m","created":1,"choices":[{"index":0,"delta":{"content":"tok"}}]})";

class StreamPosts : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorConfig config;
    config.broker.secret = "s3cret";
    config.broker.attempt_timeout = 60'000'000;
    config.service_addr = "127.0.0.1:0";
    config.http_addr = "127.0.0.1:0";
    node_ = std::make_unique<OrchestratorNode>(config);
    std::string error;
    ASSERT_TRUE(node_->start(error)) << error;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(node_->grpc_port()), grpc::InsecureChannelCredentials());
    stub_ = ::net::Transcoder::NewStub(channel_);
    ::net::RegisterRequest request;
    fill_register_request(request, "s3cret", {Advert{Key{Pipeline::kLlm, "m"}, 1}}, "seed");
    stream_ = stub_->RegisterAIWorker(&context_, request);
    stream_->WaitForInitialMetadata();
    ASSERT_TRUE(e2e::wait_for_workers(node_->http_port(), 1, 10s));
  }
  void TearDown() override {
    context_.TryCancel();
    node_->stop();
  }
  // A client's llm job on a raw socket; its job notice, read as the worker.
  void submit(RawSocket& client, bool stream, ::net::NotifyAIJob& job) {
    const std::string body = std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":)") +
                             (stream ? "true" : "false") + "}";
    ASSERT_TRUE(client.send("POST /llm HTTP/1.1\r\nHost: o\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
    ASSERT_TRUE(stream_->Read(&job));
  }
  // Opens a streamed result post for `task`; `secret` in its Credentials.
  void open_post(RawSocket& post, TaskId task, const std::string& secret = "s3cret") {
    ASSERT_TRUE(post.send("POST /aiResults HTTP/1.1\r\nHost: o\r\nAuthorization: Livepeer-Transcoder-1.0\r\n"
                          "Credentials: " + secret + "\r\nContent-Type: text/event-stream\r\nTaskId: " +
                          std::to_string(task) + "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  }
  static std::string chunk(const std::string& bytes) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    return size + bytes + "\r\n";
  }

  std::unique_ptr<OrchestratorNode> node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::net::Transcoder::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<::net::NotifyAIJob>> stream_;
};

// LLM-5, RES-4: a streamed post with a wrong secret is refused (401) before its body is read and the job goes on; the right post's chunk reaches the client, a malformed line after it gets the post 400, and the client's stream ends with an error event, no [DONE].
TEST_F(StreamPosts, MalformedLineAfterAChunkEndsTheClientsStreamWithAnError) {
  RawSocket client(node_->http_port());
  ::net::NotifyAIJob job;
  submit(client, true, job);
  RawSocket forged(node_->http_port());
  open_post(forged, job.taskid(), "wrong");
  EXPECT_EQ(forged.read_response(5s).rfind("HTTP/1.1 401", 0), 0u);

  RawSocket post(node_->http_port());
  open_post(post, job.taskid());
  ASSERT_TRUE(post.send(chunk(std::string("data: ") + kChunk + "\n\n")));
  ASSERT_NE(client.read_until("tok", 5s).find("tok"), std::string::npos) << client.take();
  ASSERT_TRUE(post.send(chunk("garbage line\n")));
  const std::string answer = post.read_response(5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("not an event-stream line"), std::string::npos) << answer;
  const std::string got = client.read_until("0\r\n\r\n", 5s);
  EXPECT_NE(got.find("event: error"), std::string::npos) << got;
  EXPECT_NE(got.find("stream failed: malformed result"), std::string::npos) << got;
  EXPECT_EQ(got.find("[DONE]"), std::string::npos) << got;
}

// LLM-5: one event-stream line over 1 MiB (sent in pieces, no newline) fails the post with 400 before it is held whole;
// the client's stream ends with an error event, never [DONE].
TEST_F(StreamPosts, EventLineOverOneMebibyteIsRefused) {
  RawSocket client(node_->http_port());
  ::net::NotifyAIJob job;
  submit(client, true, job);
  RawSocket post(node_->http_port());
  open_post(post, job.taskid());
  ASSERT_TRUE(post.send(chunk(std::string("data: ") + kChunk + "\n\n")));
  ASSERT_NE(client.read_until("tok", 5s).find("tok"), std::string::npos) << client.take();
  ASSERT_TRUE(post.send(chunk("data: {\"x\":\"")));
  const std::string piece(64 * 1024, 'a');
  for (int i = 0; i < 17; ++i) {
    if (!post.send(chunk(piece))) break;  // the orchestrator may answer and close before the last piece
  }
  const std::string answer = post.read_response(5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("an event-stream line is longer than 1048576 bytes"), std::string::npos) << answer.substr(0, 200);
  const std::string got = client.read_until("0\r\n\r\n", 5s);
  EXPECT_NE(got.find("event: error"), std::string::npos) << got;
  EXPECT_EQ(got.find("[DONE]"), std::string::npos) << got;
}

// LLM-5, RES-6: a streamed post for a job that did not ask for a stream is refused (400) and ends the attempt as a worker error; the client gets an ordinary JSON error.
TEST_F(StreamPosts, StreamForAJobThatIsNotStreamedIsRefused) {
  RawSocket client(node_->http_port());
  ::net::NotifyAIJob job;
  submit(client, false, job);
  RawSocket post(node_->http_port());
  open_post(post, job.taskid());
  EXPECT_EQ(post.read_response(5s).rfind("HTTP/1.1 400", 0), 0u);
  const std::string answer = client.read_response(5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 502", 0), 0u) << answer;
  EXPECT_NE(answer.find("a streamed result for a job that is not streamed"), std::string::npos) << answer;
}

// LLM-3, RETRY-1: an error event before any chunk ends the attempt as a worker error; nothing was streamed, so the client gets an ordinary JSON error (the job could have gone to another worker).
TEST_F(StreamPosts, ErrorBeforeTheFirstChunkIsAnOrdinaryFailure) {
  RawSocket client(node_->http_port());
  ::net::NotifyAIJob job;
  submit(client, true, job);
  RawSocket post(node_->http_port());
  open_post(post, job.taskid());
  ASSERT_TRUE(post.send(chunk("event: error\ndata: {\"msg\":\"out of memory\"}\n\n") + "0\r\n\r\n"));
  EXPECT_EQ(post.read_response(5s).rfind("HTTP/1.1 200", 0), 0u);
  const std::string answer = client.read_response(5s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 502", 0), 0u) << answer;
  EXPECT_NE(answer.find("out of memory"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("text/event-stream"), std::string::npos) << answer;
}

}  // namespace
}  // namespace aipool::net
