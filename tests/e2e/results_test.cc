// Result posts as a worker written to the seed's protocol makes them: an in-process
// orchestrator on loopback, a worker that is only a gRPC stream read by the test,
// and results posted over raw HTTP (RES-1, RES-9).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "../support/raw_socket.h"
#include "aipool.grpc.pb.h"
#include "codec/base64.h"
#include "e2e_support.h"
#include "net/capabilities.h"
#include "net/orchestrator_node.h"

namespace aipool::net {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

class SeedWorker : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorConfig config;
    config.broker.secret = "s3cret";
    config.broker.attempt_timeout = 60'000'000;  // far longer than any wait below
    config.service_addr = "127.0.0.1:0";
    config.http_addr = "127.0.0.1:0";
    config.max_message_bytes = 1u << 20;
    node_ = std::make_unique<OrchestratorNode>(config);
    std::string error;
    ASSERT_TRUE(node_->start(error)) << error;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(node_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = ::net::Transcoder::NewStub(channel_);
    ::net::RegisterRequest request;
    fill_register_request(request, "s3cret", {Advert{Key{Pipeline::kTextToImage, "m"}, 1}}, "seed");
    stream_ = stub_->RegisterAIWorker(&context_, request);
    stream_->WaitForInitialMetadata();
    ASSERT_TRUE(e2e::wait_for_workers(node_->http_port(), 1, 10s));
  }
  void TearDown() override {
    context_.TryCancel();
    node_->stop();
  }
  // A client's job, answered in the background; its job notice, read as the worker.
  std::future<e2e::HttpReply> submit(::net::NotifyAIJob& job) {
    auto reply = std::async(std::launch::async, [port = node_->http_port()] {
      return e2e::http_request(port, "POST", "/text-to-image", "application/json", R"({"model_id":"m","prompt":"p"})");
    });
    EXPECT_TRUE(stream_->Read(&job));
    return reply;
  }
  // A result in the binary form (RES-3): one file part and the response JSON.
  std::string post_result(TaskId task, const std::string& extra_headers) {
    const std::string body =
        "--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"out.png\"\r\n\r\n"
        "SEED-WORKER-OUTPUT\r\n--b\r\nContent-Type: application/json\r\n\r\n"
        "{\"images\":[{\"url\":\"out.png\",\"seed\":7,\"nsfw\":false}]}\r\n--b--\r\n";
    RawSocket s(node_->http_port());
    s.send("POST /aiResults HTTP/1.1\r\nHost: o\r\nAuthorization: Livepeer-Transcoder-1.0\r\nCredentials: s3cret\r\n"
           "Content-Type: multipart/mixed; boundary=b\r\nTaskId: " + std::to_string(task) + "\r\n" + extra_headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return s.read_response(10s);
  }

  std::unique_ptr<OrchestratorNode> node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::net::Transcoder::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<::net::NotifyAIJob>> stream_;
};

// RES-1: a post without Aipool-Worker-Id, as the seed makes it, is judged on the
// secret and the TaskID and completes the job; one naming another worker gets 409,
// and a header that is not a worker id gets 400, both changing nothing.
TEST_F(SeedWorker, ResultWithoutTheWorkerIdHeaderCompletesTheJob) {
  ::net::NotifyAIJob job;
  auto reply = submit(job);
  const std::string other = post_result(job.taskid(), "Aipool-Worker-Id: 12345\r\n");
  EXPECT_EQ(other.rfind("HTTP/1.1 409 Conflict\r\n", 0), 0u) << other;
  const std::string junk = post_result(job.taskid(), "Aipool-Worker-Id: abc\r\n");
  EXPECT_EQ(junk.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << junk;
  const std::string ok = post_result(job.taskid(), "");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  ASSERT_EQ(reply.wait_for(10s), std::future_status::ready);
  const e2e::HttpReply answer = reply.get();
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_NE(answer.body.find(codec::base64_encode("SEED-WORKER-OUTPUT")), std::string::npos) << answer.body;
}

// RES-9: a result over -maxMessageBytes gets 413 before its body is read and ends
// its attempt at once: the client gets the reason (here 502, no other worker) long
// before the attempt timeout, and the slot is free again.
TEST_F(SeedWorker, ResultOverTheLimitEndsItsAttemptAtOnce) {
  ::net::NotifyAIJob job;
  auto reply = submit(job);
  RawSocket s(node_->http_port());
  s.send("POST /aiResults HTTP/1.1\r\nHost: o\r\nAuthorization: Livepeer-Transcoder-1.0\r\nCredentials: s3cret\r\n"
         "Content-Type: multipart/mixed; boundary=b\r\nTaskId: " +
         std::to_string(job.taskid()) + "\r\nContent-Length: 2097152\r\n\r\n");
  const std::string refused = s.read_response(10s);
  EXPECT_EQ(refused.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << refused;
  ASSERT_EQ(reply.wait_for(10s), std::future_status::ready) << "the attempt stayed open";
  const e2e::HttpReply answer = reply.get();
  EXPECT_EQ(answer.status, 502) << answer.body;
  EXPECT_NE(answer.body.find("result of 2097152 bytes is larger than the limit of 1048576 bytes"), std::string::npos)
      << answer.body;
  const e2e::HttpReply workers = e2e::http_request(node_->http_port(), "GET", "/workers");
  EXPECT_NE(workers.body.find("\"in_use\":0"), std::string::npos) << workers.body;
  EXPECT_EQ(workers.body.find("\"in_use\":1"), std::string::npos) << workers.body;
}

}  // namespace
}  // namespace aipool::net
