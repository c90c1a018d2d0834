// End-to-end tests of spec/async.md with real processes on loopback: Prefer:
// respond-async, polling and cancelling /jobs/{id}, client keys, kept results and
// callbacks delivered to a small HTTP receiver in the test.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/temp_dir.h"
#include "../support/tls_server_context.h"
#include "e2e_support.h"
#include "net/tls.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kJson = "application/json";
const std::map<std::string, std::string> kAsync = {{"Prefer", "respond-async"}};

std::map<std::string, std::string> with(std::map<std::string, std::string> headers,
                                        const std::map<std::string, std::string>& more) {
  headers.insert(more.begin(), more.end());
  return headers;
}

// The job's id from a 202's Location.
std::string id_of(const HttpReply& accepted) {
  const std::string location = accepted.headers.count("Location") ? accepted.headers.at("Location") : "";
  return location.rfind("/jobs/", 0) == 0 ? location.substr(6) : "";
}

// GET /jobs/{id} until the job has finished (or 20 s).
HttpReply poll_until_done(int port, const std::string& id, const std::map<std::string, std::string>& headers = {}) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  HttpReply reply;
  do {
    reply = http_request(port, "GET", "/jobs/" + id, "", "", headers);
    const std::string state = reply.headers.count("Aipool-Job-Status") ? reply.headers["Aipool-Job-Status"] : "";
    if (state != "queued" && state != "running") return reply;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < until);
  return reply;
}

struct Pool {
  Orchestrator orch;
  std::unique_ptr<ChildProcess> worker;
};

Pool start_pool(const std::string& models, const std::vector<std::string>& flags = {}) {
  Pool pool{start_orchestrator(flags), nullptr};
  pool.worker = start_worker({pool.orch.grpc_port}, models);
  EXPECT_TRUE(wait_for_workers(pool.orch.http_port, 1, 20s)) << pool.worker->output();
  return pool;
}

// Proves an async request gets 202 with Location and Preference-Applied at once, its id
// carries -nodeId, and polling ends with the very body the synchronous call answers
// (ASYNC-1, ASYNC-2, ASYNC-5).
TEST(AsyncJobs, AcceptedThenSucceededWithTheSyncBody) {
  Pool pool = start_pool("text-to-image:test/echo", {"-nodeId", "node7"});
  const int port = pool.orch.http_port;
  const std::string job = R"({"model_id":"test/echo","prompt":"hello","seed":42})";
  const HttpReply accepted = http_request(port, "POST", "/text-to-image", kJson, job, kAsync);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string id = id_of(accepted);
  ASSERT_EQ(id.size(), 6u + 32u) << accepted.body;
  EXPECT_EQ(id.rfind("node7-", 0), 0u);
  EXPECT_EQ(accepted.body, "{\"id\":\"" + id + "\",\"status\":\"queued\"}");
  EXPECT_EQ(accepted.headers.at("Preference-Applied"), "respond-async");
  HttpReply done = poll_until_done(port, id);
  const HttpReply sync = http_request(port, "POST", "/text-to-image", kJson, job);
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(done.headers["Aipool-Job-Status"], "succeeded");
  EXPECT_EQ(done.body, sync.body);
  EXPECT_EQ(http_request(port, "GET", "/jobs/node8-" + id.substr(6)).status, 404);  // another node's id
  EXPECT_EQ(http_request(port, "GET", "/jobs/node7-nothex").status, 404);
}

// Proves a failed job answers the synchronous call's status and body, a streamed llm
// request cannot be async, and bad callback URLs are refused at submission (ASYNC-3,
// ASYNC-5, ASYNC-9, ASYNC-11).
TEST(AsyncJobs, FailedAnswersAsSyncAndBadInputIsRefused) {
  Pool pool = start_pool("text-to-image:test/fail,llm:test/echo");
  const int port = pool.orch.http_port;
  const std::string job = R"({"model_id":"test/fail","prompt":"x"})";
  const HttpReply sync = http_request(port, "POST", "/text-to-image", kJson, job);
  HttpReply done = poll_until_done(port, id_of(http_request(port, "POST", "/text-to-image", kJson, job, kAsync)));
  EXPECT_EQ(sync.status, 502);
  EXPECT_EQ(done.status, sync.status);
  EXPECT_EQ(done.body, sync.body);
  EXPECT_EQ(done.headers["Aipool-Job-Status"], "failed");
  const HttpReply stream = http_request(
      port, "POST", "/llm", kJson, R"({"model_id":"test/echo","messages":[{"role":"user","content":"hi"}],"stream":true})",
      kAsync);
  EXPECT_EQ(stream.status, 400);
  EXPECT_NE(stream.body.find("cannot be combined with Prefer: respond-async"), std::string::npos) << stream.body;
  for (const char* url : {"ftp://example.com/x", "http://127.0.0.1:9/x", "http://169.254.169.254/", "not a url"}) {
    const HttpReply bad = http_request(port, "POST", "/text-to-image", kJson, job, with(kAsync, {{"X-Callback-URL", url}}));
    EXPECT_EQ(bad.status, 400) << url;
    EXPECT_NE(bad.body.find("X-Callback-URL"), std::string::npos) << bad.body;
  }
  EXPECT_EQ(http_request(port, "POST", "/text-to-image", kJson, job, {{"X-Callback-URL", "http://example.com/"}}).status,
            400);  // a synchronous call has no callback
}

// Proves queued jobs report their position (Broker's waiting first, then the async
// queue), a running one its attempt and worker, and DELETE cancels queued and running
// jobs but not finished ones (ASYNC-4, ASYNC-5, ASYNC-7).
TEST(AsyncJobs, PositionsRunningAndCancel) {
  Pool pool = start_pool("text-to-image:test/sleep:true:1");
  const int port = pool.orch.http_port;
  const std::string slow = R"({"model_id":"test/sleep","prompt":"x","sleep_ms":3000})";
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(id_of(http_request(port, "POST", "/text-to-image", kJson, slow, kAsync)));
  std::this_thread::sleep_for(300ms);
  HttpReply running = http_request(port, "GET", "/jobs/" + ids[0]);
  EXPECT_EQ(running.headers["Aipool-Job-Status"], "running");
  EXPECT_NE(running.body.find("\"status\":\"running\",\"attempt\":1,\"worker\":\""), std::string::npos) << running.body;
  // Capacity 1: the second waits in the Broker (capacity + 1 handed over), the third in the async queue.
  EXPECT_EQ(http_request(port, "GET", "/jobs/" + ids[1]).body,
            "{\"id\":\"" + ids[1] + "\",\"status\":\"queued\",\"position\":1}");
  EXPECT_EQ(http_request(port, "GET", "/jobs/" + ids[2]).body,
            "{\"id\":\"" + ids[2] + "\",\"status\":\"queued\",\"position\":2}");
  const HttpReply cancelled = http_request(port, "DELETE", "/jobs/" + ids[2]);
  EXPECT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body, "{\"id\":\"" + ids[2] + "\",\"status\":\"cancelled\"}");
  EXPECT_EQ(http_request(port, "GET", "/jobs/" + ids[2]).headers["Aipool-Job-Status"], "cancelled");
  EXPECT_EQ(http_request(port, "DELETE", "/jobs/" + ids[2]).status, 409);
  EXPECT_EQ(http_request(port, "DELETE", "/jobs/" + ids[0]).status, 200);  // running
  EXPECT_EQ(poll_until_done(port, ids[0]).headers["Aipool-Job-Status"], "cancelled");
  EXPECT_EQ(poll_until_done(port, ids[1]).headers["Aipool-Job-Status"], "succeeded");
  EXPECT_EQ(http_request(port, "POST", "/jobs/" + ids[1]).status, 405);
}

// Proves with client keys a job is seen only by its own key: another gets 404, exactly
// as for an id never issued, for GET and DELETE (ASYNC-6).
TEST(AsyncJobs, AnotherKeyGetsNotFound) {
  aipool::testing::TempDir dir;
  const std::string keys = dir.path() + "/keys";
  std::ofstream(keys) << "alice-key-0123456789 alice\nbob-key-abcdefghijklm bob\n";
  Pool pool = start_pool("text-to-image:test/echo", {"-apiKeys", keys});
  const int port = pool.orch.http_port;
  const std::map<std::string, std::string> alice = {{"Authorization", "Bearer alice-key-0123456789"}};
  const std::map<std::string, std::string> bob = {{"Authorization", "Bearer bob-key-abcdefghijklm"}};
  const std::string id = id_of(http_request(port, "POST", "/text-to-image", kJson,
                                            R"({"model_id":"test/echo","prompt":"x"})", with(kAsync, alice)));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(poll_until_done(port, id, alice).status, 200);
  const HttpReply other = http_request(port, "GET", "/jobs/" + id, "", "", bob);
  const HttpReply never = http_request(port, "GET", "/jobs/" + id.substr(0, id.size() - 1) + "0", "", "", bob);
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.body, never.body);
  EXPECT_EQ(http_request(port, "DELETE", "/jobs/" + id, "", "", bob).status, 404);
  EXPECT_EQ(http_request(port, "GET", "/jobs/" + id).status, 401);  // no key at all
}

// Proves a result is kept for -resultTTL and then answers 410 Gone (ASYNC-8).
TEST(AsyncJobs, GoneAfterTheResultTtl) {
  Pool pool = start_pool("text-to-image:test/echo", {"-resultTTL", "1s"});
  const int port = pool.orch.http_port;
  const std::string id = id_of(
      http_request(port, "POST", "/text-to-image", kJson, R"({"model_id":"test/echo","prompt":"x"})", kAsync));
  EXPECT_EQ(poll_until_done(port, id).status, 200);
  std::this_thread::sleep_for(1200ms);
  const HttpReply gone = http_request(port, "GET", "/jobs/" + id);
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(gone.body, "{\"detail\":{\"msg\":\"job " + id + " has expired\"}}");
}

// A test receiver of callbacks: it records each POST and fails the first `fail_first`.
class Receiver {
 public:
  struct Post {
    std::string body;
    std::string status;
    std::string job;
  };
  // `tls`: a server context, for a receiver that speaks https.
  explicit Receiver(int fail_first, Poco::Net::Context::Ptr tls = nullptr)
      : fail_first_(fail_first), socket_(listen(tls)), server_(new Factory(*this), socket_, params()) {
    server_.start();
  }
  ~Receiver() { server_.stop(); }
  int port() const { return socket_.address().port(); }
  std::vector<Post> posts() {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (posts().size() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
    return posts().size() >= n;
  }

 private:
  static Poco::Net::HTTPServerParams* params() { return new Poco::Net::HTTPServerParams; }
  static Poco::Net::ServerSocket listen(const Poco::Net::Context::Ptr& tls) {
    const Poco::Net::SocketAddress address("127.0.0.1", 0);
    if (tls) return Poco::Net::SecureServerSocket(address, 64, tls);
    return Poco::Net::ServerSocket(address);
  }
  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(Receiver& r) : r_(r) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
      std::string body;
      Poco::StreamCopier::copyToString(request.stream(), body);
      bool fail = false;
      {
        std::lock_guard<std::mutex> lock(r_.mutex_);
        r_.posts_.push_back({body, request.get("Aipool-Job-Status", ""), request.get("Aipool-Job-Id", "")});
        fail = static_cast<int>(r_.posts_.size()) <= r_.fail_first_;
      }
      response.setStatus(fail ? Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR : Poco::Net::HTTPResponse::HTTP_OK);
      response.send() << "{}";
    }

   private:
    Receiver& r_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(Receiver& r) : r_(r) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(r_);
    }

   private:
    Receiver& r_;
  };
  const int fail_first_;
  std::mutex mutex_;
  std::vector<Post> posts_;
  Poco::Net::ServerSocket socket_;
  Poco::Net::HTTPServer server_;
};

// Proves the callback gets the final body once with the job's headers, and is tried
// again after a failure, then never more (ASYNC-9, ASYNC-10, ASYNC-11's opt-in).
TEST(AsyncJobs, CallbackDeliveredOnceAndRetried) {
  Pool pool = start_pool("text-to-image:test/echo", {"-webhookAllowPrivate", "-webhookBackoff", "200ms"});
  const int port = pool.orch.http_port;
  const std::string job = R"({"model_id":"test/echo","prompt":"x","seed":1})";
  Receiver ok(0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ok.port()) + "/hook";
  const std::string id = id_of(http_request(port, "POST", "/text-to-image", kJson, job, with(kAsync, {{"X-Callback-URL", url}})));
  ASSERT_TRUE(ok.wait_for(1, 10s));
  HttpReply done = poll_until_done(port, id);
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(ok.posts().size(), 1u);
  EXPECT_EQ(ok.posts()[0].body, done.body);
  EXPECT_EQ(ok.posts()[0].status, "succeeded");
  EXPECT_EQ(ok.posts()[0].job, id);
  Receiver flaky(1);
  const std::string flaky_url = "http://127.0.0.1:" + std::to_string(flaky.port()) + "/hook";
  http_request(port, "POST", "/text-to-image", kJson, job, with(kAsync, {{"X-Callback-URL", flaky_url}}));
  ASSERT_TRUE(flaky.wait_for(2, 10s));
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(flaky.posts().size(), 2u);  // the second try answered 200: no third
  EXPECT_EQ(flaky.posts()[1].body, done.body);
}

// Proves an https callback reaches a receiver whose certificate chains to the
// -webhookCACert file, by address literal and by name; an orchestrator that does not
// trust it never sends the result there, and says why; a CA file without a
// certificate stops the start (ASYNC-12, ASYNC-11's connection to the checked address).
TEST(AsyncJobs, HttpsCallbackGoesOnlyToATrustedReceiver) {
  testing::TempDir dir;
  Receiver hook(0, testing::tls_server_context(dir.path()));
  const std::string job = R"({"model_id":"test/echo","prompt":"tls","seed":3})";
  const std::string port_part = ":" + std::to_string(hook.port()) + "/hook";
  Pool trusting = start_pool("text-to-image:test/echo",
                             {"-webhookAllowPrivate", "-webhookCACert", dir.path() + "/cert.pem"});
  std::vector<std::string> ids;
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    const HttpReply accepted = http_request(trusting.orch.http_port, "POST", "/text-to-image", kJson, job,
                                            with(kAsync, {{"X-Callback-URL", "https://" + host + port_part}}));
    ASSERT_EQ(accepted.status, 202) << accepted.body;
    ids.push_back(id_of(accepted));
  }
  ASSERT_TRUE(hook.wait_for(2, 10s)) << trusting.orch.process->output();
  for (const std::string& id : ids) {
    const HttpReply done = poll_until_done(trusting.orch.http_port, id);
    const auto posts = hook.posts();
    const auto post = std::find_if(posts.begin(), posts.end(), [&](const Receiver::Post& p) { return p.job == id; });
    ASSERT_NE(post, posts.end()) << id;
    EXPECT_EQ(post->body, done.body);
  }

  Pool doubting = start_pool("text-to-image:test/echo",
                             {"-webhookAllowPrivate", "-webhookRetries", "1", "-webhookBackoff", "100ms"});
  const HttpReply accepted = http_request(doubting.orch.http_port, "POST", "/text-to-image", kJson, job,
                                          with(kAsync, {{"X-Callback-URL", "https://127.0.0.1" + port_part}}));
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_EQ(poll_until_done(doubting.orch.http_port, id_of(accepted)).status, 200);
  const auto dropped = doubting.orch.process->wait_for_line("dropped after 2 tries", 20s);
  ASSERT_TRUE(dropped.has_value()) << doubting.orch.process->output();
  EXPECT_NE(dropped->find("certificate verify failed"), std::string::npos) << *dropped;
  EXPECT_EQ(hook.posts().size(), 2u);  // the untrusting orchestrator's result never arrived

  std::ofstream(dir.path() + "/empty.pem") << "not a certificate\n";
  std::string out;
  EXPECT_NE(run_to_exit({bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-insecure", "-webhookCACert",
                         dir.path() + "/empty.pem"},
                        out),
            0);
  EXPECT_NE(out.find("-webhookCACert: " + dir.path() + "/empty.pem holds no PEM certificate"), std::string::npos) << out;
}

}  // namespace
}  // namespace aipool::e2e
