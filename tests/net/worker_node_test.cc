// Tests of src/net/worker_node.h and src/net/result_poster.h against an in-process
// fake orchestrator: a sync gRPC net.Transcoder service and a Poco HTTP server for
// /aiResults, both on 127.0.0.1 ephemeral ports. Every wait is on a condition with
// a deadline; nothing sleeps for a fixed time to synchronise.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aipool.grpc.pb.h"
#include "codec/base64.h"
#include "codec/result_codec.h"
#include "exec/diagnostic_executor.h"
#include "net/capabilities.h"
#include "net/grpc_happens_before.h"
#include "net/os_random.h"
#include "net/http_server.h"
#include "net/result_poster.h"
#include "net/worker_node.h"

namespace {

using namespace std::chrono_literals;
using aipool::Advert;
using aipool::ExecRequest;
using aipool::ExecResult;
using aipool::Executor;
using aipool::Key;
using aipool::Micros;
using aipool::Pipeline;
using aipool::ResultFile;
using aipool::TaskId;
using namespace aipool::net;
using namespace aipool::codec;
namespace codec = aipool::codec;

constexpr auto kDeadline = 10s;
const std::string kSecret = "s3cret-value";

// ------------------------------------------------------------------ fakes

// A Random that always draws 0; with jitter 0 the backoff is then exact.
class ZeroRandom final : public aipool::Random {
 public:
  std::uint64_t next_u64() override { return 0; }
};

// Everything POSTed to the fake /aiResults.
struct Posted {
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string content_type;
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class ResultsRecorder {
 public:
  void record(Posted posted) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      posts_.push_back(std::move(posted));
    }
    wake_.notify_all();
  }
  // Waits until a post for `task` arrives; nullopt at the deadline.
  std::optional<Posted> wait_for_task(TaskId task, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<Posted> found;
    wake_.wait_for(lock, timeout, [&] {
      for (const Posted& p : posts_) {
        if (p.header("taskid") == std::to_string(task)) {
          found = p;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_.size();
  }
  void set_status(int status) { status_ = status; }
  int status() const { return status_; }

 private:
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Posted> posts_;
  std::atomic<int> status_{200};
};

class RecordingHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RecordingHandler(ResultsRecorder& recorder) : recorder_(recorder) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    Posted posted;
    for (const auto& [name, value] : request) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      posted.headers[lower] = value;
    }
    posted.content_type = request.getContentType();
    Poco::StreamCopier::copyToString(request.stream(), posted.body);
    const int status = recorder_.status();
    recorder_.record(std::move(posted));
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("text/plain");
    response.send() << (status == 200 ? "OK" : "refused by test");
  }

 private:
  ResultsRecorder& recorder_;
};

class RecordingFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RecordingFactory(ResultsRecorder& recorder) : recorder_(recorder) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new RecordingHandler(recorder_);
  }

 private:
  ResultsRecorder& recorder_;
};

// A Poco HTTP server on 127.0.0.1:0 recording every request.
class ResultsServer {
 public:
  ResultsServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    server_ = std::make_unique<Poco::Net::HTTPServer>(new RecordingFactory(recorder), socket_,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~ResultsServer() { server_->stopAll(true); }
  int port() const { return socket_.address().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/aiResults"; }
  ResultsRecorder recorder;

 private:
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// The fake orchestrator's gRPC side: checks the secret, sends the initial metadata,
// then writes the jobs queued by the test until told to end the stream.
class FakeOrchestrator final : public ::net::Transcoder::Service {
 public:
  explicit FakeOrchestrator(std::string results_url) : results_url_(std::move(results_url)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeOrchestrator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    observed(this);  // Shutdown returned after every handler had (for TSan)
  }

  grpc::Status RegisterAIWorker(grpc::ServerContext* context, const ::net::RegisterRequest* request,
                                grpc::ServerWriter<::net::NotifyAIJob>* writer) override {
    struct PublishOnReturn {
      const void* self;
      ~PublishOnReturn() { published(self); }
    } publish_on_return{this};
    int stream = 0;
    bool end_now = false;
    std::optional<grpc::Status> refusal;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      registrations_.push_back(*request);
      stream = static_cast<int>(registrations_.size());
      refusal = refusal_;
      if (!refusal && streams_to_end_ > 0) {
        --streams_to_end_;
        end_now = true;
      }
    }
    wake_.notify_all();
    if (request->secret() != secret_) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid secret");
    if (refusal) return *refusal;
    context->AddInitialMetadata("aipool-results-url", results_url_);
    context->AddInitialMetadata("aipool-worker-id", std::to_string(stream));
    writer->SendInitialMetadata();
    if (end_now) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "test: stream ended");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++open_streams_;
    }
    wake_.notify_all();
    for (;;) {
      std::optional<::net::NotifyAIJob> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // Polls cancellation too: a sync handler is not woken by the client's cancel.
        wake_.wait_for(lock, 20ms, [&] { return closing_ || end_open_ || !jobs_.empty(); });
        if (closing_ || end_open_ || context->IsCancelled()) break;
        if (!jobs_.empty()) {
          job = jobs_.front();
          jobs_.pop_front();
        }
      }
      if (job && !writer->Write(*job)) break;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --open_streams_;
      if (open_streams_ == 0) end_open_ = false;
    }
    wake_.notify_all();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "test: stream closed");
  }

  void send(Pipeline pipeline, TaskId task, const std::string& json) {
    ::net::NotifyAIJob job;
    job.set_type(static_cast<::net::AIRequestType>(static_cast<int>(pipeline)));
    job.set_taskid(task);
    job.set_data(json);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_all();
  }
  void set_secret(std::string secret) {
    std::lock_guard<std::mutex> lock(mutex_);
    secret_ = std::move(secret);
  }
  void refuse_with(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mutex_);
    refusal_ = std::move(status);
  }
  // The next `n` streams end right after the initial metadata.
  void end_next_streams(int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    streams_to_end_ = n;
  }
  // Ends the open streams (the worker sees a stream loss).
  void end_open_streams() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      end_open_ = true;
    }
    wake_.notify_all();
  }
  bool wait_for_registrations(std::size_t n, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_for(lock, timeout, [&] { return registrations_.size() >= n; });
  }
  bool wait_for_open_streams(int n, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_for(lock, timeout, [&] { return open_streams_ == n; });
  }
  ::net::RegisterRequest registration(std::size_t i) {
    std::lock_guard<std::mutex> lock(mutex_);
    return registrations_.at(i);
  }
  std::size_t registrations() {
    std::lock_guard<std::mutex> lock(mutex_);
    return registrations_.size();
  }
  OrchestratorAddress address() const { return OrchestratorAddress{"127.0.0.1", static_cast<std::uint16_t>(port_), 0}; }

 private:
  std::string results_url_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string secret_ = kSecret;
  std::optional<grpc::Status> refusal_;
  int streams_to_end_ = 0;
  bool end_open_ = false;
  bool closing_ = false;
  int open_streams_ = 0;
  std::vector<::net::RegisterRequest> registrations_;
  std::deque<::net::NotifyAIJob> jobs_;
};

// An executor whose jobs run until the test releases them.
class GatedExecutor final : public Executor {
 public:
  bool supports(const Key&) const override { return true; }
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      started_.push_back(request.task);
      wake_.notify_all();
      wake_.wait(lock, [&] { return released_; });
    }
    ExecResult result;
    result.ok = true;
    result.body.json = std::make_shared<const std::string>(R"({"text":"gated"})");
    done(std::move(result));
  }
  bool wait_started(std::size_t n, std::chrono::milliseconds timeout = kDeadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_for(lock, timeout, [&] { return started_.size() >= n; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    wake_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<TaskId> started_;
  bool released_ = false;
};

WorkerConfig config_for(std::vector<OrchestratorAddress> orchestrators, std::vector<Advert> adverts) {
  WorkerConfig config;
  config.orchestrators = std::move(orchestrators);
  config.secret = kSecret;
  config.adverts = std::move(adverts);
  config.version = "test";
  config.backoff.initial = 10'000;  // 10 ms
  config.backoff.cap = 1'000'000;
  config.backoff.jitter_percent = 0;
  config.post_retry_delay = 10ms;
  return config;
}

// Runs node.wait() in the background so that a test can bound it.
std::future<int> wait_async(WorkerNode& node) {
  return std::async(std::launch::async, [&node] { return node.wait(); });
}

Key echo_key(Pipeline pipeline = Pipeline::kTextToImage) { return Key{pipeline, "test/echo"}; }

std::optional<ResultPost> decode(const Posted& posted) {
  const std::string task = posted.header("taskid");
  const codec::DecodeResult decoded = codec::decode_result(posted.content_type, std::string_view(task), posted.body);
  EXPECT_TRUE(decoded.post.has_value()) << decoded.failure.message;
  return decoded.post;
}

// ------------------------------------------------------------------ parsing

// Proves -orchAddr accepts one or more host[:grpcPort][/httpPort] entries with go-livepeer's default port (MULTI-1).
TEST(OrchestratorAddresses, ParsesListsAndDefaults) {
  const auto parsed = parse_orchestrator_addresses("o1.example, 10.0.0.2:9000/9001,[::1]:7000,http://o4:1");
  ASSERT_EQ(parsed.index(), 0u) << std::get<1>(parsed);
  const auto& list = std::get<0>(parsed);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].grpc_target(), "o1.example:8935");
  EXPECT_EQ(list[0].http_port, 0);
  EXPECT_EQ(list[1].grpc_target(), "10.0.0.2:9000");
  EXPECT_EQ(list[1].http_port, 9001);
  EXPECT_EQ(list[2].host, "::1");
  EXPECT_EQ(list[2].grpc_target(), "[::1]:7000");
  EXPECT_EQ(list[3].grpc_target(), "o4:1");
}

// Proves a bad -orchAddr entry is refused with a message naming it (MULTI-1).
TEST(OrchestratorAddresses, RejectsBadEntries) {
  for (const char* bad : {"", "a,,b", "host:", "host:0", "host:70000", "host:x", ":8935", "::1", "[::1",
                          "host:1/0", "host:1/x", "https://host:1", "a:1,a:1"}) {
    const auto parsed = parse_orchestrator_addresses(bad);
    ASSERT_EQ(parsed.index(), 1u) << bad;
    EXPECT_NE(std::get<1>(parsed).find("orchAddr entry"), std::string::npos) << std::get<1>(parsed);
  }
}

// Proves the results URL from the orchestrator's metadata is parsed; http:// and https:// are taken (RES-1, SEC-9).
TEST(ResultPoster, ParsesResultsUrl) {
  std::string error;
  const auto target = parse_results_url("http://10.1.2.3:8936/aiResults?x=1", error);
  ASSERT_TRUE(target.has_value()) << error;
  EXPECT_EQ(target->host, "10.1.2.3");
  EXPECT_EQ(target->port, 8936);
  EXPECT_EQ(target->path, "/aiResults?x=1");
  EXPECT_FALSE(target->https);
  const auto secure = parse_results_url("https://h/aiResults", error);
  ASSERT_TRUE(secure.has_value()) << error;
  EXPECT_TRUE(secure->https);
  EXPECT_EQ(secure->port, 443);
  EXPECT_FALSE(parse_results_url("ftp://h/aiResults", error).has_value());
  EXPECT_NE(error.find("only http:// and https://"), std::string::npos);
  EXPECT_FALSE(parse_results_url("http:///aiResults", error).has_value());
}

// Proves the production jitter source gives varying 64-bit draws, also from several threads (RECON-1).
TEST(OsRandom, DrawsVary) {
  OsRandom random;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(random.next_u64());
  EXPECT_GT(seen.size(), 60u);
  std::uint64_t from_thread = 0;
  std::thread t([&] { from_thread = random.next_u64(); });
  t.join();
  EXPECT_EQ(seen.count(from_thread), 0u);
  EXPECT_LT(aipool::uniform_below(random, 10), 10u);
}

// ------------------------------------------------------------------ poster

// Proves a post carries the RES-1 headers, the TaskId and the worker id, and a non-2xx answer is final, not retried (RES-1, RES-5).
TEST(ResultPoster, SendsHeadersAndDoesNotRetryAnswers) {
  ResultsServer server;
  server.recorder.set_status(409);
  ResultPoster poster(kSecret, PostPolicy{3, 10ms, 5000ms, 8});
  std::string error;
  const auto target = parse_results_url(server.url(), error);
  ASSERT_TRUE(target.has_value()) << error;
  const PostOutcome outcome =
      poster.post(*target, 77, "w9", codec::encode_json_result(Pipeline::kUpscale, 77, false, "", "boom"));
  EXPECT_EQ(outcome.status, 409);
  EXPECT_EQ(outcome.attempts, 1);
  EXPECT_EQ(outcome.answer, "refused by test");
  EXPECT_EQ(server.recorder.count(), 1u);
  const auto posted = server.recorder.wait_for_task(77);
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(posted->header("authorization"), "Livepeer-Transcoder-1.0");
  EXPECT_EQ(posted->header("credentials"), kSecret);
  EXPECT_EQ(posted->header("aipool-worker-id"), "w9");
  EXPECT_EQ(posted->content_type, "application/json");
}

// Proves a post that cannot connect is retried 3 times, then given up, since the TaskID makes repeats harmless (RES-5).
TEST(ResultPoster, RetriesConnectFailuresThreeTimes) {
  int dead_port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    dead_port = probe.address().port();
  }  // closed: connections to it are refused
  ResultPoster poster(kSecret, PostPolicy{3, 5ms, 2000ms, 8});
  ResultTarget target{"127.0.0.1", static_cast<std::uint16_t>(dead_port), "/aiResults", "dead"};
  const PostOutcome outcome =
      poster.post(target, 1, "", codec::encode_json_result(Pipeline::kUpscale, 1, false, "", "x"));
  EXPECT_EQ(outcome.status, 0);
  EXPECT_EQ(outcome.attempts, 4);
  EXPECT_FALSE(outcome.error.empty());
  EXPECT_EQ(outcome.error.find(kSecret), std::string::npos);
}

// Proves a burst of posts from many threads shares at most max_sessions connections
// to one orchestrator instead of opening one each (RES-12), and every post is answered.
TEST(ResultPoster, BurstSharesAtMostMaxSessionsConnections) {
  std::mutex mutex;
  std::set<std::string> peers;
  std::atomic<int> posts{0};
  HttpServerConfig config;
  config.address = "127.0.0.1:0";
  HttpServer server(config, [&](HttpRequest&& request, std::shared_ptr<HttpExchange> exchange) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      peers.insert(request.peer);
    }
    ++posts;
    HttpResponse response;
    response.body = "{\"status\":\"ok\"}";
    exchange->respond(std::move(response));
  });
  std::string error;
  ASSERT_TRUE(server.listen(error)) << error;
  server.run();
  ResultPoster poster(kSecret, PostPolicy{3, 5ms, 2000ms, 3});
  const ResultTarget target{"127.0.0.1", static_cast<std::uint16_t>(server.port()), "/aiResults", "burst"};
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i) {
    threads.emplace_back([&, i] {
      const PostOutcome outcome =
          poster.post(target, i + 1, "", codec::encode_json_result(Pipeline::kUpscale, i + 1, false, "", "x"));
      EXPECT_EQ(outcome.status, 200) << outcome.error;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(posts, 24);
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_GE(peers.size(), 1u);
  EXPECT_LE(peers.size(), 3u) << "connections opened for 24 posts";
  server.stop(0);
}

// ------------------------------------------------------------------ the node

class WorkerNodeTest : public ::testing::Test {
 protected:
  // A worker of one slot serving `orch` and `second`, waiting `capacity_wait` for a slot (MULTI-2).
  WorkerConfig shared_slot_config(const FakeOrchestrator& second, std::chrono::milliseconds capacity_wait) {
    WorkerConfig config = config_for({orch.address(), second.address()}, {{echo_key(), 1}});
    config.capacity_wait = capacity_wait;
    return config;
  }
  // Starts `node`, fills its one slot with job 1 from `orch` (held by `executor`), then
  // sends job 101 from `second`; false when a step did not happen in time.
  bool fill_shared_slot(WorkerNode& node, FakeOrchestrator& second, GatedExecutor& executor) {
    node.start();
    if (!orch.wait_for_open_streams(1) || !second.wait_for_open_streams(1)) return false;
    orch.send(Pipeline::kTextToImage, 1, R"({"model_id":"test/echo","prompt":"a"})");
    if (!executor.wait_started(1)) return false;
    second.send(Pipeline::kTextToImage, 101, R"({"model_id":"test/echo","prompt":"b"})");
    return true;
  }

  ResultsServer results;
  FakeOrchestrator orch{results.url()};
  ZeroRandom random;
};

// Proves the registration carries the secret and each model's capacity in go-livepeer's constraints (WIRE-2, WIRE-3).
TEST_F(WorkerNodeTest, RegistersPerModelCapacities) {
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 2}, {echo_key(Pipeline::kAudioToText), 1}}), executor,
                  random);
  node.start();
  ASSERT_TRUE(orch.wait_for_registrations(1));
  const ::net::RegisterRequest request = orch.registration(0);
  EXPECT_EQ(request.secret(), kSecret);
  EXPECT_EQ(request.capacity(), 3);
  const auto parsed = adverts_from_capabilities(request.capabilities());
  ASSERT_EQ(parsed.adverts.size(), 2u);
  EXPECT_EQ(parsed.adverts[0].key, echo_key());
  EXPECT_EQ(parsed.adverts[0].capacity, 2u);
  EXPECT_EQ(parsed.adverts[1].key, echo_key(Pipeline::kAudioToText));
  EXPECT_EQ(parsed.adverts[1].capacity, 1u);
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves a file result is posted in the binary form and a text result in the JSON form, with the RES-1 headers and the metadata's worker id (RES-1, RES-2, RES-3, WIRE-4).
TEST_F(WorkerNodeTest, ExecutesJobsAndPostsBothForms) {
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}, {echo_key(Pipeline::kImageToText), 1}}), executor,
                  random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 11, R"({"model_id":"test/echo","prompt":"fox","num_images_per_prompt":2})");
  orch.send(Pipeline::kImageToText, 12,
            R"({"model_id":"test/echo","prompt":"what","image":")" + codec::base64_encode("abc") + "\"}");

  const auto binary = results.recorder.wait_for_task(11);
  ASSERT_TRUE(binary.has_value());
  EXPECT_EQ(binary->header("authorization"), "Livepeer-Transcoder-1.0");
  EXPECT_EQ(binary->header("credentials"), kSecret);
  EXPECT_EQ(binary->header("aipool-worker-id"), "1");
  EXPECT_EQ(binary->content_type.rfind("multipart/mixed", 0), 0u) << binary->content_type;
  const auto post11 = decode(*binary);
  ASSERT_TRUE(post11.has_value());
  EXPECT_TRUE(post11->ok);
  ASSERT_EQ(post11->body.files.size(), 2u);
  EXPECT_EQ(*post11->body.files[0].bytes, "fox");
  EXPECT_NE(post11->body.json->find("image-1.txt"), std::string::npos);

  const auto json = results.recorder.wait_for_task(12);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(json->content_type, "application/json");
  EXPECT_EQ(json->header("aipool-worker-id"), "1");
  const auto post12 = decode(*json);
  ASSERT_TRUE(post12.has_value());
  EXPECT_TRUE(post12->ok);
  EXPECT_EQ(*post12->body.json, R"j({"text":"echo: what (3 image bytes)"})j");
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves a post of any size arrives whole: bodies that go out with their header in
// one write, and multi-piece bodies written straight to the socket (RES-3).
TEST_F(WorkerNodeTest, PostsOfEverySizeArriveWhole) {
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}}), executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  const std::vector<std::int64_t> sizes = {0, 1, 1500, 2048, 2049, 70'000, 3'000'000};
  for (std::size_t i = 0; i < sizes.size(); ++i) {  // one at a time: the capacity is 1
    orch.send(Pipeline::kTextToImage, static_cast<TaskId>(100 + i),
              R"({"model_id":"test/echo","prompt":"abc","num_images_per_prompt":2,"output_bytes":)" +
                  std::to_string(sizes[i]) + "}");
    const auto posted = results.recorder.wait_for_task(static_cast<TaskId>(100 + i));
    ASSERT_TRUE(posted.has_value()) << "size " << sizes[i];
    const auto post = decode(*posted);
    ASSERT_TRUE(post.has_value()) << "size " << sizes[i];
    ASSERT_EQ(post->body.files.size(), 2u);
    std::string expected;
    while (expected.size() < static_cast<std::size_t>(sizes[i])) expected += "abc";
    expected.resize(static_cast<std::size_t>(sizes[i]));
    for (const ResultFile& file : post->body.files) EXPECT_EQ(*file.bytes, expected) << "size " << sizes[i];
  }
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves executor failures, unserved models and malformed jobs come back as worker errors saying why (RES-2, WIRE-4, RETRY-1).
TEST_F(WorkerNodeTest, ErrorsArePostedAsWorkerErrors) {
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}, {Key{Pipeline::kTextToImage, "test/fail"}, 1}}),
                  executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 21, R"({"model_id":"test/fail","prompt":"x"})");
  orch.send(Pipeline::kTextToImage, 22, R"({"model_id":"other/model","prompt":"x"})");
  orch.send(Pipeline::kUpscale, 23, R"({"model_id":"test/echo","image":""})");
  orch.send(Pipeline::kTextToImage, 24, R"(not json)");
  orch.send(Pipeline::kTextToImage, 25, R"({"prompt":"no model"})");
  const std::pair<TaskId, std::string> expected[] = {
      {21, "test/fail: failure requested"},
      {22, "model not served by this worker: text-to-image/other/model"},
      {23, "model not served by this worker: upscale/test/echo"},
      {24, "invalid job request: not valid JSON"},
      {25, "invalid job request: model_id is required"},
  };
  for (const auto& [task, text] : expected) {
    const auto posted = results.recorder.wait_for_task(task);
    ASSERT_TRUE(posted.has_value()) << task;
    const auto post = decode(*posted);
    ASSERT_TRUE(post.has_value());
    EXPECT_FALSE(post->ok) << task;
    EXPECT_NE(post->error.find(text), std::string::npos) << task << ": " << post->error;
  }
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves a result whose post would be larger than the worker's -maxMessageBytes is not
// posted: the worker posts the small worker error `output of N bytes is larger than the
// limit of M bytes` instead, in the binary and the JSON form, and a result that fits is
// posted whole (RES-11).
TEST_F(WorkerNodeTest, ResultOverTheLimitIsPostedAsAWorkerError) {
  aipool::exec::DiagnosticExecutor executor;
  // Two text-to-image slots: tasks 31 and 33 may run at once.
  WorkerConfig config = config_for({orch.address()}, {{echo_key(), 2}, {echo_key(Pipeline::kImageToText), 1}});
  config.max_message_bytes = 65536;
  WorkerNode node(std::move(config), executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 31, R"({"model_id":"test/echo","prompt":"abc","output_bytes":70000})");
  orch.send(Pipeline::kImageToText, 32,
            R"({"model_id":"test/echo","prompt":")" + std::string(60000, 'p') + R"(","image":"YWJj"})");
  orch.send(Pipeline::kTextToImage, 33, R"({"model_id":"test/echo","prompt":"abc","output_bytes":60000})");
  for (const TaskId task : {31, 32}) {
    const auto posted = results.recorder.wait_for_task(task);
    ASSERT_TRUE(posted.has_value()) << task;
    EXPECT_LT(posted->body.size(), 4096u) << task;
    const auto post = decode(*posted);
    ASSERT_TRUE(post.has_value()) << task;
    EXPECT_FALSE(post->ok) << task;
    EXPECT_EQ(post->error.rfind("output of ", 0), 0u) << task << ": " << post->error;
    EXPECT_NE(post->error.find(" bytes is larger than the limit of 65536 bytes"), std::string::npos) << post->error;
  }
  const auto fits = results.recorder.wait_for_task(33);
  ASSERT_TRUE(fits.has_value());
  EXPECT_GT(fits->body.size(), 60000u);
  EXPECT_LE(fits->body.size(), 65536u);
  const auto post = decode(*fits);
  ASSERT_TRUE(post.has_value());
  EXPECT_TRUE(post->ok);
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// An executor whose every job fails with one error text.
class FailingExecutor final : public Executor {
 public:
  explicit FailingExecutor(std::string error) : error_(std::move(error)) {}
  bool supports(const Key&) const override { return true; }
  void execute(const ExecRequest&, std::function<void(ExecResult)> done) override {
    done(ExecResult{false, error_, {}});
  }

 private:
  std::string error_;
};

// Every line spdlog writes while it is installed as the default logger.
class CapturedLog final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Waits until a line holds `text`; false at the deadline.
  bool wait_for(const std::string& text) {
    std::unique_lock<std::mutex> lock(lines_mutex_);
    return wake_.wait_for(lock, kDeadline, [&] {
      for (const std::string& line : lines_) {
        if (line.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(lines_mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    {
      std::lock_guard<std::mutex> lock(lines_mutex_);
      lines_.push_back(fmt::to_string(formatted));
    }
    wake_.notify_all();
  }
  void flush_() override {}

 private:
  std::mutex lines_mutex_;
  std::condition_variable wake_;
  std::vector<std::string> lines_;
};

// Installs a CapturedLog as the default logger for one scope.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<CapturedLog>()), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
    spdlog::set_level(spdlog::level::debug);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  CapturedLog& log() { return *sink_; }

 private:
  std::shared_ptr<CapturedLog> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Proves the strings a job or an orchestrator sends (model id, error text, refusal
// message) reach the worker's log lines escaped: a newline in them cannot start a
// forged line of its own (LOG-1).
TEST_F(WorkerNodeTest, LogLinesEscapeStringsFromJobsAndOrchestrators) {
  LogCapture capture;
  {
    FailingExecutor executor("bad\r\nINFO forged error");
    WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}}), executor, random);
    node.start();
    ASSERT_TRUE(orch.wait_for_open_streams(1));
    orch.send(Pipeline::kTextToImage, 41, "{\"model_id\":\"evil\\nINFO forged model\",\"prompt\":\"x\"}");
    orch.send(Pipeline::kTextToImage, 42, R"({"model_id":"test/echo","prompt":"x"})");
    ASSERT_TRUE(results.recorder.wait_for_task(41).has_value());
    ASSERT_TRUE(results.recorder.wait_for_task(42).has_value());
    EXPECT_TRUE(capture.log().wait_for("task=41"));
    EXPECT_TRUE(capture.log().wait_for("task=42"));
    node.request_stop();
    EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
  }
  orch.refuse_with(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no\nINFO forged refusal"));
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode refused(config_for({orch.address()}, {{echo_key(), 1}}), executor, random);
  refused.start();
  auto code = wait_async(refused);
  ASSERT_EQ(code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(code.get(), WorkerNode::kExitFatal);
  EXPECT_NE(refused.fatal_error().find("no\\nINFO forged refusal"), std::string::npos) << refused.fatal_error();
  const std::vector<std::string> lines = capture.log().lines();
  std::string all;
  for (const std::string& line : lines) {
    all += line;
    // Each record is one line: only its final newline.
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  }
  EXPECT_NE(all.find("model=evil\\nINFO forged model"), std::string::npos) << all;
  EXPECT_NE(all.find("error: bad\\r\\nINFO forged error"), std::string::npos) << all;
  EXPECT_NE(all.find("no\\nINFO forged refusal"), std::string::npos) << all;
}

// Proves that with -capacityWait 0 a job beyond the worker's capacity gets `worker at capacity` at once, while the running job still runs (MULTI-2).
TEST_F(WorkerNodeTest, JobBeyondCapacityIsRefusedAtOnce) {
  GatedExecutor executor;
  WorkerConfig config = config_for({orch.address()}, {{echo_key(), 1}});
  config.capacity_wait = 0ms;
  WorkerNode node(config, executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 1, R"({"model_id":"test/echo","prompt":"a"})");
  ASSERT_TRUE(executor.wait_started(1));
  orch.send(Pipeline::kTextToImage, 2, R"({"model_id":"test/echo","prompt":"b"})");
  const auto refused = results.recorder.wait_for_task(2);
  ASSERT_TRUE(refused.has_value());
  const auto post = decode(*refused);
  ASSERT_TRUE(post.has_value());
  EXPECT_FALSE(post->ok);
  EXPECT_EQ(post->error, "worker at capacity");
  EXPECT_FALSE(results.recorder.wait_for_task(1, 0ms).has_value());  // job 1 is still running
  executor.release();
  const auto done = results.recorder.wait_for_task(1);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(decode(*done)->ok);
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves one capacity per key is shared by two orchestrators: a job from the second while the first's runs waits
// -capacityWait for the slot, then is refused; the running job still runs (MULTI-1, MULTI-2).
TEST_F(WorkerNodeTest, CapacityIsSharedAcrossOrchestrators) {
  FakeOrchestrator second{results.url()};
  GatedExecutor executor;
  WorkerNode node(shared_slot_config(second, 200ms), executor, random);
  ASSERT_TRUE(fill_shared_slot(node, second, executor));
  const auto refused = results.recorder.wait_for_task(101);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(decode(*refused)->error, "worker at capacity");
  executor.release();
  ASSERT_TRUE(results.recorder.wait_for_task(1).has_value());
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves a job that finds its key full waits for the slot and runs as soon as the running job ends,
// first come first served, instead of failing `worker at capacity` (MULTI-1, MULTI-2).
TEST_F(WorkerNodeTest, JobWaitsForASlotFreedWithinCapacityWait) {
  FakeOrchestrator second{results.url()};
  GatedExecutor executor;
  WorkerNode node(shared_slot_config(second, 20s), executor, random);
  ASSERT_TRUE(fill_shared_slot(node, second, executor));
  orch.send(Pipeline::kTextToImage, 2, R"({"model_id":"test/echo","prompt":"c"})");
  EXPECT_FALSE(executor.wait_started(2, 200ms));  // both wait: the one slot is taken
  EXPECT_FALSE(results.recorder.wait_for_task(101, 0ms).has_value());
  executor.release();
  for (TaskId task : {TaskId{1}, TaskId{101}, TaskId{2}}) {
    const auto posted = results.recorder.wait_for_task(task);
    ASSERT_TRUE(posted.has_value()) << task;
    EXPECT_TRUE(decode(*posted)->ok) << task << ": " << decode(*posted)->error;
  }
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves a stop refuses the jobs waiting for a slot with `worker is shutting down` at once (MULTI-2).
TEST_F(WorkerNodeTest, StopRefusesJobsWaitingForASlot) {
  GatedExecutor executor;
  WorkerConfig config = config_for({orch.address()}, {{echo_key(), 1}});
  config.capacity_wait = 20s;
  WorkerNode node(config, executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 1, R"({"model_id":"test/echo","prompt":"a"})");
  ASSERT_TRUE(executor.wait_started(1));
  orch.send(Pipeline::kTextToImage, 2, R"({"model_id":"test/echo","prompt":"b"})");
  std::this_thread::sleep_for(100ms);
  node.request_stop();
  const auto refused = results.recorder.wait_for_task(2, 5s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(decode(*refused)->error, "worker is shutting down");
  executor.release();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
  EXPECT_FALSE(executor.wait_started(2, 0ms));  // the refused job never ran
}

// Proves `invalid secret` is fatal: the node stops by itself with kExitFatal and says to check -orchSecret (CONN-1).
TEST_F(WorkerNodeTest, InvalidSecretIsFatal) {
  orch.set_secret("another-secret");
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}}), executor, random);
  node.start();
  auto code = wait_async(node);
  ASSERT_EQ(code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(code.get(), WorkerNode::kExitFatal);
  EXPECT_NE(node.fatal_error().find("invalid secret"), std::string::npos) << node.fatal_error();
  EXPECT_NE(node.fatal_error().find("-orchSecret"), std::string::npos) << node.fatal_error();
  EXPECT_EQ(node.fatal_error().find(kSecret), std::string::npos);
  EXPECT_EQ(orch.registrations(), 1u);  // no retry
}

// Proves any other refusal of the join is fatal too and its message is kept (CONN-2).
TEST_F(WorkerNodeTest, OtherRefusalIsFatal) {
  orch.refuse_with(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "advertise at least one pipeline"));
  aipool::exec::DiagnosticExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 1}}), executor, random);
  node.start();
  auto code = wait_async(node);
  ASSERT_EQ(code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(code.get(), WorkerNode::kExitFatal);
  EXPECT_NE(node.fatal_error().find("advertise at least one pipeline"), std::string::npos) << node.fatal_error();
}

// Proves a lost stream is reconnected after growing backoff waits (0.5x1.5^n scaled to 10 ms here) and serves again (RECON-1).
TEST_F(WorkerNodeTest, ReconnectsAfterStreamLossWithGrowingBackoff) {
  orch.end_next_streams(3);
  aipool::exec::DiagnosticExecutor executor;
  WorkerConfig config = config_for({orch.address()}, {{echo_key(), 1}});
  config.backoff.reset_after = 3600 * aipool::kMicrosPerSecond;  // no session here is long enough to reset
  WorkerNode node(std::move(config), executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  EXPECT_EQ(orch.registrations(), 4u);
  EXPECT_EQ(node.reconnect_delays_for_test(), (std::vector<Micros>{10'000, 15'000, 22'500}));
  // A loss of an established stream: reconnected too, and jobs flow again.
  orch.end_open_streams();
  ASSERT_TRUE(orch.wait_for_registrations(5));
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 5, R"({"model_id":"test/echo","prompt":"again"})");
  const auto posted = results.recorder.wait_for_task(5);
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(posted->header("aipool-worker-id"), "5");  // the id of the new session
  EXPECT_EQ(node.reconnect_delays_for_test().size(), 4u);
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves the node feeds each session's length to the backoff: sessions at least reset_after long reset it (RECON-2).
TEST_F(WorkerNodeTest, LongEnoughSessionResetsBackoff) {
  orch.end_next_streams(3);
  aipool::exec::DiagnosticExecutor executor;
  WorkerConfig config = config_for({orch.address()}, {{echo_key(), 1}});
  config.backoff.reset_after = 1;  // every accepted session counts as long enough
  WorkerNode node(std::move(config), executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  EXPECT_EQ(node.reconnect_delays_for_test(), (std::vector<Micros>{10'000, 10'000, 10'000}));
  node.request_stop();
  EXPECT_EQ(node.wait(), WorkerNode::kExitOk);
}

// Proves failed connects (no session) never reset the backoff and a stop interrupts the wait (RECON-1, RECON-2).
TEST(WorkerNodeConnect, FailedConnectsKeepGrowingAndStopInterrupts) {
  int dead_port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    dead_port = probe.address().port();
  }
  ZeroRandom random;
  aipool::exec::DiagnosticExecutor executor;
  WorkerConfig config =
      config_for({OrchestratorAddress{"127.0.0.1", static_cast<std::uint16_t>(dead_port), 0}}, {{echo_key(), 1}});
  config.backoff.reset_after = 1;
  config.backoff.cap = 3600 * aipool::kMicrosPerSecond;
  WorkerNode node(std::move(config), executor, random);
  node.start();
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (node.reconnect_delays_for_test().size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  const auto delays = node.reconnect_delays_for_test();
  ASSERT_GE(delays.size(), 3u);
  EXPECT_EQ(delays[0], 10'000);
  EXPECT_EQ(delays[1], 15'000);
  EXPECT_EQ(delays[2], 22'500);
  node.request_stop();
  auto code = wait_async(node);
  ASSERT_EQ(code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(code.get(), WorkerNode::kExitOk);
}

// Proves a stop takes no new job (`worker is shutting down`), finishes and posts the running one, then ends (MULTI-2, RES-2).
TEST_F(WorkerNodeTest, StopDrainsRunningJobs) {
  GatedExecutor executor;
  WorkerNode node(config_for({orch.address()}, {{echo_key(), 2}}), executor, random);
  node.start();
  ASSERT_TRUE(orch.wait_for_open_streams(1));
  orch.send(Pipeline::kTextToImage, 1, R"({"model_id":"test/echo","prompt":"a"})");
  ASSERT_TRUE(executor.wait_started(1));
  node.request_stop();
  auto code = wait_async(node);
  EXPECT_EQ(code.wait_for(50ms), std::future_status::timeout);  // still draining
  orch.send(Pipeline::kTextToImage, 2, R"({"model_id":"test/echo","prompt":"b"})");
  const auto refused = results.recorder.wait_for_task(2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(decode(*refused)->error, "worker is shutting down");
  executor.release();
  ASSERT_EQ(code.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(code.get(), WorkerNode::kExitOk);
  const auto done = results.recorder.wait_for_task(1, 0ms);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(decode(*done)->ok);
  EXPECT_TRUE(orch.wait_for_open_streams(0));
}

}  // namespace
