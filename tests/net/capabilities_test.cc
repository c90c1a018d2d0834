// Tests of src/net/capabilities.h: the worker's registration advert and the
// orchestrator's reading of it (WIRE-2, WIRE-3, WIRE-5); and of the worker streams'
// answer to a registration (src/net/worker_streams.h) on a loopback gRPC server.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aipool.grpc.pb.h"
#include "aipool.pb.h"
#include "core/broker.h"
#include "net/capabilities.h"
#include "net/os_random.h"
#include "net/worker_streams.h"

namespace {

using aipool::Advert;
using aipool::Key;
using aipool::Pipeline;
using aipool::net::adverts_from_capabilities;
using aipool::net::fill_register_request;

// prefix followed by n (appended: GCC 12 warns falsely on "literal" + std::string at -O3).
std::string numbered(std::string_view prefix, int n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

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
  (*per[35].mutable_models())["live"].set_capacity(4);  // live-video-to-video: not served
  const auto parsed = adverts_from_capabilities(caps);
  ASSERT_EQ(parsed.adverts.size(), 1u);
  EXPECT_EQ(parsed.adverts[0].key.model, "good");
  ASSERT_EQ(parsed.skipped.size(), 2u);
  bool named_35 = false;
  for (const std::string& line : parsed.skipped) named_35 |= line.find("35") != std::string::npos;
  EXPECT_TRUE(named_35);
}

// Proves every model entry of a registration is counted, and that one with more entries than the limit is counted but not read, so that the core refuses it without a copy of its adverts (CONN-7).
TEST(Capabilities, CountsEntriesAndStopsAboveTheLimit) {
  ::net::Capabilities caps;
  auto& per = *caps.mutable_constraints()->mutable_percapability();
  for (int i = 0; i < 700; ++i) (*per[27].mutable_models())[numbered("m", i)].set_capacity(1);
  for (int i = 0; i < 400; ++i) (*per[99].mutable_models())[numbered("x", i)].set_capacity(1);
  (*per[30].mutable_models())[""].set_capacity(1);
  (*per[30].mutable_models())["zero"].set_capacity(0);
  const auto all = adverts_from_capabilities(caps);
  EXPECT_EQ(all.advertised, 1102u);
  EXPECT_EQ(all.adverts.size(), 701u);  // the zero-capacity one is the core's to drop (CONN-2)
  const auto over = adverts_from_capabilities(caps, 1101);
  EXPECT_EQ(over.advertised, 1102u);
  EXPECT_TRUE(over.adverts.empty());
  EXPECT_TRUE(over.skipped.empty());
  EXPECT_EQ(adverts_from_capabilities(caps, 1102).adverts.size(), 701u);
}

// Proves a registration without constraints advertises nothing (WIRE-3, CONN-2).
TEST(Capabilities, NoConstraintsMeansNoAdverts) {
  ::net::Capabilities caps;
  caps.add_bitstring(1);
  EXPECT_TRUE(adverts_from_capabilities(caps).adverts.empty());
}

// ---------------------------------------------------------------- join log

// Proves a refused registration logs one line, whatever it advertised: 30,000 skipped adverts and 1,000 unlisted keys give one warning of bounded size, escaped (LOG-1, CONN-2).
TEST(JoinLog, RefusedJoinIsOneLine) {
  aipool::JoinRequest join;
  join.id = 7;
  join.address = "ipv4:10.0.0.1:5000";
  join.advertised = 31000;
  aipool::net::ParsedAdverts parsed;
  for (int i = 0; i < 30000; ++i) parsed.skipped.push_back(numbered("capability 99 is not one of the five ", i));
  aipool::JoinResult result;
  result.verdict = aipool::JoinVerdict::kNothingOffered;
  result.message = "none of the advertised models is in the orchestrator's model list (advertised: a\nFAKE LINE)";
  for (int i = 0; i < 1000; ++i) result.ignored_keys.push_back(Key{Pipeline::kTextToImage, numbered("m", i)});
  const aipool::net::JoinLog log = aipool::net::join_log(join, parsed, result);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_TRUE(log.info.empty());
  EXPECT_EQ(log.warnings[0],
            "worker 7 from ipv4:10.0.0.1:5000 refused (31000 adverts): none of the advertised models is in the "
            "orchestrator's model list (advertised: a\\nFAKE LINE)");
}

// Proves an accepted registration logs what it offers, naming 16 keys and counting the rest, and one warning that sums up its skipped and ignored adverts (the first 5, then a count), every worker string escaped (LOG-1, LIST-1, CONN-8).
TEST(JoinLog, AcceptedJoinIsBounded) {
  aipool::JoinRequest join;
  join.id = 9;
  join.address = "ipv4:10.0.0.2:5000";
  aipool::net::ParsedAdverts parsed;
  parsed.skipped = {"text-to-image with an empty model_id"};
  aipool::JoinResult result;
  result.skipped = {"upscale model id of 300 bytes is longer than the limit of 256 (-maxModelIdBytes): x\ty..."};
  for (int i = 0; i < 10; ++i) result.ignored_keys.push_back(Key{Pipeline::kUpscale, numbered("u", i)});
  for (int i = 0; i < 100; ++i) result.offered_keys.push_back(Key{Pipeline::kTextToImage, numbered("m", i)});
  result.offered_keys[0].model = "evil\nworker 1 joined";
  const aipool::net::JoinLog log = aipool::net::join_log(join, parsed, result);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_EQ(log.warnings[0],
            "worker 9 (ipv4:10.0.0.2:5000): ignored advert: text-to-image with an empty model_id; ignored advert: "
            "upscale model id of 300 bytes is longer than the limit of 256 (-maxModelIdBytes): x\\ty...; ignored "
            "upscale/u0: not in the orchestrator's model list; ignored upscale/u1: not in the orchestrator's model "
            "list; ignored upscale/u2: not in the orchestrator's model list and 7 more");
  EXPECT_EQ(log.info.find('\n'), std::string::npos);
  EXPECT_EQ(log.info.rfind("worker 9 joined from ipv4:10.0.0.2:5000 offering text-to-image/evil\\nworker 1 joined "
                           "text-to-image/m1 ", 0), 0u) << log.info;
  EXPECT_NE(log.info.find(" text-to-image/m15 and 84 more"), std::string::npos) << log.info;
  EXPECT_LT(log.info.size(), 600u);
}

// Proves a join with nothing skipped logs just what it offers (API-11).
TEST(JoinLog, PlainJoin) {
  aipool::JoinRequest join;
  join.id = 3;
  join.address = "ipv4:127.0.0.1:1";
  aipool::JoinResult result;
  result.offered_keys = {Key{Pipeline::kTextToImage, "m"}, Key{Pipeline::kUpscale, "x"}};
  const aipool::net::JoinLog log = aipool::net::join_log(join, {}, result);
  EXPECT_TRUE(log.warnings.empty());
  EXPECT_EQ(log.info, "worker 3 joined from ipv4:127.0.0.1:1 offering text-to-image/m upscale/x");
}

// ---------------------------------------------------------------- worker streams

// A clock for a Broker whose timers never matter here.
class IdleClock final : public aipool::Clock {
 public:
  aipool::Micros now() const override { return 0; }
  void arm_timer(aipool::TimerId, aipool::Micros) override {}
  void cancel_timer(aipool::TimerId) override {}
};

// One orchestrator start's worker streams on a loopback gRPC server. The join hook
// records each join and accepts it, or asks the core (a Broker on these streams)
// once use_core() was called.
class StreamsServer {
 public:
  explicit StreamsServer(const aipool::SipKey& worker_id_key, std::size_t max_models = 1024)
      : max_models_(max_models), streams_(hooks(), "", worker_id_key, max_models) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&streams_);
    server_ = builder.BuildAndStart();
    stub_ = ::net::Transcoder::NewStub(
        grpc::CreateChannel(numbered("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  ~StreamsServer() {
    streams_.close_all("test over");
    server_->Shutdown();
  }

  void use_core() {
    aipool::BrokerConfig config;
    config.secret = "s";
    config.task_id_key = aipool::SipKey{1, 2};
    config.max_models_per_worker = max_models_;  // the same limit, as the orchestrator sets both
    auto broker = std::make_unique<aipool::Broker>(config, clock_, streams_);
    std::lock_guard<std::mutex> lock(mutex_);  // the join hook reads it on gRPC's threads
    broker_ = std::move(broker);
  }

  // Registers one worker and returns the `aipool-worker-id` it was given; hangs up
  // once it has it.
  std::string register_worker(const std::vector<Advert>& adverts = {Advert{Key{Pipeline::kTextToImage, "m"}, 1}}) {
    ::net::RegisterRequest request;
    fill_register_request(request, "s", adverts, "test");
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
  // Registers one worker that the orchestrator refuses: the stream's end status.
  grpc::Status register_refused(const std::vector<Advert>& adverts) {
    ::net::RegisterRequest request;
    fill_register_request(request, "s", adverts, "test");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub_->RegisterAIWorker(&context, request);
    return reader->Finish();
  }
  std::vector<aipool::JoinRequest> joins() {
    std::lock_guard<std::mutex> lock(mutex_);
    return joins_;
  }
  std::vector<aipool::WorkerId> joined() {
    std::vector<aipool::WorkerId> ids;
    for (const aipool::JoinRequest& join : joins()) ids.push_back(join.id);
    return ids;
  }


 private:
  aipool::net::WorkerStreams::Hooks hooks() {
    aipool::net::WorkerStreams::Hooks h;
    h.join = [this](const aipool::JoinRequest& join, const aipool::net::ParsedAdverts&, const ::net::RegisterRequest&) {
      std::lock_guard<std::mutex> lock(mutex_);
      joins_.push_back(join);
      joins_.back().secret = {};  // the request's bytes are gone after the call
      return broker_ ? broker_->worker_joined(join) : aipool::JoinResult{};
    };
    h.left = [](aipool::WorkerId, const std::string&) {};
    return h;
  }

  std::mutex mutex_;
  std::vector<aipool::JoinRequest> joins_;
  IdleClock clock_;
  std::size_t max_models_;
  aipool::net::WorkerStreams streams_;
  std::unique_ptr<aipool::Broker> broker_;  // after streams_: it sends on them
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

// Proves a registration with more adverts than -maxModelsPerWorker reaches the core as a count, without its adverts, and the worker is refused with a message naming the count and the limit (CONN-7).
TEST(WorkerStreams, TooManyModelsRefusedOnTheCount) {
  aipool::net::OsRandom entropy;
  StreamsServer server(aipool::draw_id_key(entropy), 16);
  server.use_core();
  std::vector<Advert> adverts;
  for (int i = 0; i < 17; ++i) adverts.push_back(Advert{Key{Pipeline::kTextToImage, numbered("m", i)}, 1});
  const grpc::Status status = server.register_refused(adverts);
  const std::vector<aipool::JoinRequest> joins = server.joins();
  ASSERT_EQ(joins.size(), 1u);
  EXPECT_EQ(joins[0].advertised, 17u);
  EXPECT_TRUE(joins[0].adverts.empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "the registration advertises 17 models, more than the limit of 16 per worker (-maxModelsPerWorker)");
  adverts.pop_back();
  EXPECT_FALSE(server.register_worker(adverts).empty());  // at the limit: accepted, given an id
  EXPECT_EQ(server.joins().back().adverts.size(), 16u);
}

}  // namespace
