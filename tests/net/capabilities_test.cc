// Tests of src/net/capabilities.h: the worker's registration advert and the
// orchestrator's reading of it (WIRE-2, WIRE-3, WIRE-5); and of the worker streams'
// answer to a registration (src/net/worker_streams.h) on a loopback gRPC server.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aipool.grpc.pb.h"
#include "aipool.pb.h"
#include "net/capabilities.h"
#include "net/os_random.h"
#include "net/worker_streams.h"

namespace {

using aipool::Advert;
using aipool::Key;
using aipool::Pipeline;
using aipool::net::adverts_from_capabilities;
using aipool::net::fill_register_request;

bool bit_set(const ::net::Capabilities& caps, std::uint32_t bit) {
  if (caps.bitstring_size() <= static_cast<int>(bit / 64)) return false;
  return (caps.bitstring(static_cast<int>(bit / 64)) >> (bit % 64)) & 1u;
}

// Proves each pipeline's capacity lands under its go-livepeer capability number and model id (WIRE-3, WIRE-5).
TEST(Capabilities, WorkerAdvertUsesCapabilityNumbers) {
  const std::vector<Advert> adverts = {
      {Key{Pipeline::kTextToImage, "m1"}, 2},  {Key{Pipeline::kImageToImage, "m2"}, 3},
      {Key{Pipeline::kUpscale, "m3"}, 1},      {Key{Pipeline::kAudioToText, "m4"}, 4},
      {Key{Pipeline::kImageToText, "m5"}, 5},
  };
  ::net::RegisterRequest request;
  fill_register_request(request, "s3cret", adverts, "0.1.0");
  EXPECT_EQ(request.secret(), "s3cret");
  EXPECT_EQ(request.capacity(), 15);
  EXPECT_EQ(request.capabilities().version(), "0.1.0");
  const auto& per = request.capabilities().constraints().percapability();
  const std::pair<std::uint32_t, std::string> expected[] = {{27, "m1"}, {28, "m2"}, {30, "m3"}, {31, "m4"}, {34, "m5"}};
  for (const auto& [capability, model] : expected) {
    ASSERT_TRUE(per.contains(capability)) << capability;
    ASSERT_TRUE(per.at(capability).models().contains(model)) << capability;
    EXPECT_TRUE(bit_set(request.capabilities(), capability)) << capability;
  }
  EXPECT_EQ(per.at(27).models().at("m1").capacity(), 2u);
  EXPECT_EQ(per.at(28).models().at("m2").capacity(), 3u);
  EXPECT_EQ(per.at(30).models().at("m3").capacity(), 1u);
  EXPECT_EQ(per.at(31).models().at("m4").capacity(), 4u);
  EXPECT_EQ(per.at(34).models().at("m5").capacity(), 5u);
}

// Proves the orchestrator reads back exactly what the worker advertised, sorted by key (WIRE-3, SEL-6).
TEST(Capabilities, RoundTripThroughTheWire) {
  const std::vector<Advert> adverts = {
      {Key{Pipeline::kAudioToText, "whisper"}, 1},
      {Key{Pipeline::kTextToImage, "b"}, 2},
      {Key{Pipeline::kTextToImage, "a"}, 3},
  };
  ::net::RegisterRequest request;
  fill_register_request(request, "s", adverts, "v");
  ::net::RegisterRequest received;
  ASSERT_TRUE(received.ParseFromString(request.SerializeAsString()));
  const auto parsed = adverts_from_capabilities(received.capabilities());
  EXPECT_TRUE(parsed.skipped.empty());
  ASSERT_EQ(parsed.adverts.size(), 3u);
  EXPECT_EQ(parsed.adverts[0].key, (Key{Pipeline::kTextToImage, "a"}));
  EXPECT_EQ(parsed.adverts[0].capacity, 3u);
  EXPECT_EQ(parsed.adverts[1].key, (Key{Pipeline::kTextToImage, "b"}));
  EXPECT_EQ(parsed.adverts[1].capacity, 2u);
  EXPECT_EQ(parsed.adverts[2].key, (Key{Pipeline::kAudioToText, "whisper"}));
  EXPECT_EQ(parsed.adverts[2].capacity, 1u);
}

// Proves unknown capability numbers and empty model ids are skipped with a reason, not served (WIRE-3).
TEST(Capabilities, SkipsUnknownCapabilitiesAndEmptyModels) {
  ::net::Capabilities caps;
  auto& per = *caps.mutable_constraints()->mutable_percapability();
  (*per[27].mutable_models())["good"].set_capacity(1);
  (*per[27].mutable_models())[""].set_capacity(1);
  (*per[35].mutable_models())["llm"].set_capacity(4);  // go-livepeer's LLM: not one of the five
  const auto parsed = adverts_from_capabilities(caps);
  ASSERT_EQ(parsed.adverts.size(), 1u);
  EXPECT_EQ(parsed.adverts[0].key.model, "good");
  ASSERT_EQ(parsed.skipped.size(), 2u);
  bool named_35 = false;
  for (const std::string& line : parsed.skipped) named_35 |= line.find("35") != std::string::npos;
  EXPECT_TRUE(named_35);
}

// Proves a registration without constraints advertises nothing (WIRE-3, CONN-2).
TEST(Capabilities, NoConstraintsMeansNoAdverts) {
  ::net::Capabilities caps;
  caps.add_bitstring(1);
  EXPECT_TRUE(adverts_from_capabilities(caps).adverts.empty());
}

// ---------------------------------------------------------------- worker streams

// One orchestrator start's worker streams on a loopback gRPC server, with a join
// hook that accepts everything and records the ids it saw.
class StreamsServer {
 public:
  explicit StreamsServer(const aipool::SipKey& worker_id_key) : streams_(hooks(), "", worker_id_key) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&streams_);
    server_ = builder.BuildAndStart();
    stub_ = ::net::Transcoder::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  ~StreamsServer() {
    streams_.close_all("test over");
    server_->Shutdown();
  }

  // Registers one worker and returns the `aipool-worker-id` it was given.
  std::string register_worker() {
    ::net::RegisterRequest request;
    fill_register_request(request, "s", {Advert{Key{Pipeline::kTextToImage, "m"}, 1}}, "test");
    grpc::ClientContext context;
    auto reader = stub_->RegisterAIWorker(&context, request);
    reader->WaitForInitialMetadata();
    const auto& metadata = context.GetServerInitialMetadata();
    const auto id = metadata.find("aipool-worker-id");
    std::string text = id == metadata.end() ? "" : std::string(id->second.data(), id->second.size());
    context.TryCancel();
    reader->Finish();
    return text;
  }
  std::vector<aipool::WorkerId> joined() {
    std::lock_guard<std::mutex> lock(mutex_);
    return joined_;
  }

 private:
  aipool::net::WorkerStreams::Hooks hooks() {
    aipool::net::WorkerStreams::Hooks h;
    h.join = [this](const aipool::JoinRequest& join, const aipool::net::ParsedAdverts&, const ::net::RegisterRequest&) {
      std::lock_guard<std::mutex> lock(mutex_);
      joined_.push_back(join.id);
      return aipool::JoinResult{};
    };
    h.left = [](aipool::WorkerId, const std::string&) {};
    return h;
  }

  std::mutex mutex_;
  std::vector<aipool::WorkerId> joined_;
  aipool::net::WorkerStreams streams_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<::net::Transcoder::Stub> stub_;
};

// Proves worker ids are positive 63-bit numbers, not a count of registrations, sent whole in `aipool-worker-id` as the core saw them, and that the next start (a new key from OS entropy) gives other ids (CONN-6, FLAG-3).
TEST(WorkerStreams, WorkerIdsAreUnpredictableAcrossStarts) {
  constexpr int kWorkers = 20;
  std::set<std::string> all;
  aipool::net::OsRandom entropy;
  for (int start = 0; start < 2; ++start) {
    StreamsServer server(aipool::draw_id_key(entropy));
    std::vector<std::string> sent;
    for (int i = 0; i < kWorkers; ++i) sent.push_back(server.register_worker());
    const std::vector<aipool::WorkerId> joined = server.joined();
    ASSERT_EQ(joined.size(), static_cast<std::size_t>(kWorkers));
    int small = 0;
    for (int i = 0; i < kWorkers; ++i) {
      EXPECT_EQ(sent[i], std::to_string(joined[i])) << i;
      EXPECT_GT(joined[i], 0u);
      EXPECT_LT(joined[i], std::uint64_t{1} << 63);
      if (joined[i] <= 1'000'000) ++small;
      EXPECT_TRUE(all.insert(sent[i]).second) << "worker id " << sent[i] << " given twice";
    }
    EXPECT_EQ(small, 0);  // a count would be 1, 2, 3, ...; a random 63-bit id is this small 1 time in 2^43
  }
}

}  // namespace

