// The orchestrator's gRPC registration answers, against an in-process OrchestratorNode
// on ephemeral loopback ports.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <optional>

#include "aipool.grpc.pb.h"
#include "codec/result_codec.h"
#include "net/capabilities.h"
#include "net/orchestrator_node.h"

namespace aipool::net {
namespace {

class Registration : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorConfig config;
    config.broker.secret = "s3cret";
    config.service_addr = "127.0.0.1:0";
    config.http_addr = "127.0.0.1:0";
    node_ = std::make_unique<OrchestratorNode>(config);
    std::string error;
    ASSERT_TRUE(node_->start(error)) << error;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(node_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = ::net::Transcoder::NewStub(channel_);
  }
  grpc::Status register_and_end(const ::net::RegisterRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub_->RegisterAIWorker(&context, request);
    ::net::NotifyAIJob job;
    while (reader->Read(&job)) {
    }
    return reader->Finish();
  }
  std::unique_ptr<OrchestratorNode> node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::net::Transcoder::Stub> stub_;
};

// WIRE-1, CONN-1: a wrong secret ends the stream with UNAUTHENTICATED and the message `invalid secret`.
TEST_F(Registration, WrongSecretIsUnauthenticated) {
  ::net::RegisterRequest request;
  fill_register_request(request, "wrong", {Advert{Key{Pipeline::kTextToImage, "m"}, 1}}, "test");
  const grpc::Status status = register_and_end(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "invalid secret");
}

// CONN-2, WIRE-3: a worker advertising no AI capability, or only zero capacities, is refused saying what to fix.
TEST_F(Registration, NothingAdvertisedIsRefusedWithAFix) {
  ::net::RegisterRequest empty;
  empty.set_secret("s3cret");
  grpc::Status status = register_and_end(empty);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("advertise at least one pipeline and model with a capacity above 0"),
            std::string::npos)
      << status.error_message();
  ::net::RegisterRequest zero;
  fill_register_request(zero, "s3cret", {Advert{Key{Pipeline::kUpscale, "m"}, 0}}, "test");
  status = register_and_end(zero);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// FLAG-3, CONN-6: an accepted worker gets its id (a positive 63-bit number, not a count) and the results URL in the initial metadata.
TEST_F(Registration, AcceptedWorkerGetsMetadata) {
  ::net::RegisterRequest request;
  fill_register_request(request, "s3cret", {Advert{Key{Pipeline::kTextToImage, "m"}, 1}}, "test");
  grpc::ClientContext context;
  auto reader = stub_->RegisterAIWorker(&context, request);
  reader->WaitForInitialMetadata();
  const auto& metadata = context.GetServerInitialMetadata();
  auto url = metadata.find("aipool-results-url");
  auto id = metadata.find("aipool-worker-id");
  ASSERT_NE(url, metadata.end());
  ASSERT_NE(id, metadata.end());
  EXPECT_EQ(std::string(url->second.data(), url->second.size()),
            "http://127.0.0.1:" + std::to_string(node_->http_port()) + "/aiResults");
  const std::optional<TaskId> parsed = codec::parse_task_id(std::string(id->second.data(), id->second.size()));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_GT(*parsed, 1'000'000);  // a count would say 1; a random 63-bit id is this small 1 time in 2^43
  context.TryCancel();
}

}  // namespace
}  // namespace aipool::net
