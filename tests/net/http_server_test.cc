// Tests of the event-driven HTTP server (src/net/http_server.h, spec/http.md) on a
// real loopback socket: limits, deadlines, strict framing, the caps, answers that
// come later from another thread, and clients that leave.
#include "net/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../support/raw_socket.h"

namespace aipool::net {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

// A server whose handler answers /echo at once (the body's size), keeps /hold
// requests for the test to answer, and answers /aiResults (a reserved path) at once.
class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerConfig config) {
    config.address = "127.0.0.1:0";
    config.reserved_paths = {"/aiResults"};
    config.on_body_too_large = [this](const HttpRequest& head, std::uint64_t length) {
      std::lock_guard<std::mutex> lock(mutex_);
      too_large_.push_back(head.path + " " + std::to_string(length) + " " +
                           std::string(head.header("TaskId").value_or("-")));
    };
    server_ = std::make_unique<HttpServer>(config, [this](HttpRequest&& request, std::shared_ptr<HttpExchange> ex) {
      if (request.path == "/hold") {
        std::lock_guard<std::mutex> lock(mutex_);
        ex->on_gone([this] { ++gone_; });
        held_.push_back(std::move(ex));
        held_bodies_.push_back(request.body);
        return;
      }
      HttpResponse response;
      if (request.path == "/thread") {  // which event-loop thread runs the handler
        response.body = std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
        ex->respond(std::move(response));
        return;
      }
      response.body = "{\"path\":\"" + request.path + "\",\"bytes\":" + std::to_string(request.body.size()) +
                      ",\"loopback\":" + (request.peer_loopback ? "true" : "false") + "}";
      ex->respond(std::move(response));
    });
    std::string error;
    ASSERT_TRUE(server_->listen(error)) << error;
    server_->run();
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held_.clear();
    }
    if (server_) server_->stop(0);
  }
  int port() const { return server_->port(); }
  std::size_t held() {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size();
  }
  bool wait_held(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (held() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    return held() >= n;
  }
  std::shared_ptr<HttpExchange> take_held(std::size_t i) {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.at(i);
  }
  static HttpServerConfig config() {
    HttpServerConfig c;
    c.threads = 2;
    c.header_timeout_ms = 300;
    c.body_timeout_ms = 300;
    c.idle_timeout_ms = 300;
    c.max_body_bytes = 1000;
    c.max_body_bytes_in_flight = 1500;
    return c;
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<HttpExchange>> held_;
  std::vector<std::string> held_bodies_;  // the body of each held request
  std::vector<std::string> too_large_;
  std::atomic<int> gone_{0};
};

std::string post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

// HTTP-2: status lines carry the standard reason phrase.
TEST(HttpReason, StandardPhrases) {
  EXPECT_EQ(http_reason(200), "OK");
  EXPECT_EQ(http_reason(400), "Bad Request");
  EXPECT_EQ(http_reason(408), "Request Timeout");
  EXPECT_EQ(http_reason(413), "Payload Too Large");
  EXPECT_EQ(http_reason(431), "Request Header Fields Too Large");
  EXPECT_EQ(http_reason(499), "Client Closed Request");
  EXPECT_EQ(http_reason(503), "Service Unavailable");
  EXPECT_EQ(http_reason(799), "Unknown");
}

// HTTP-1: keep-alive requests, pipelined ones included, are answered in order.
TEST_F(HttpServerTest, AnswersKeepAliveAndPipelinedRequestsInOrder) {
  start(config());
  RawSocket s(port());
  ASSERT_TRUE(s.send(post("/echo", "abc") + post("/echo", "abcdef")));
  const std::string first = s.read_response(2s);
  const std::string second = s.read_response(2s);
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("\"bytes\":3,"), std::string::npos) << first;
  EXPECT_NE(second.find("\"bytes\":6,"), std::string::npos) << second;
}

// HTTP-2: conflicting or malformed framing gets 400 and the connection is closed.
TEST_F(HttpServerTest, StrictFramingGets400AndClose) {
  start(config());
  const std::vector<std::string> requests = {
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n",
      "NOT HTTP AT ALL\r\n\r\n",
  };
  for (const std::string& request : requests) {
    RawSocket s(port());
    ASSERT_TRUE(s.send(request));
    const std::string response = s.read_response(2s);
    EXPECT_EQ(response.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << request << "\n->\n" << response;
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
    EXPECT_TRUE(s.closed_within(2s)) << request;
  }
}

// HTTP-2, RES-9: a body over the limit gets 413 before it is read; the owner hears
// of it with the request's head.
TEST_F(HttpServerTest, OversizeBodyGets413AndTheHookSeesTheHead) {
  start(config());
  RawSocket s(port());
  ASSERT_TRUE(s.send("POST /aiResults HTTP/1.1\r\nHost: t\r\nTaskId: 77\r\nContent-Length: 5000\r\n\r\n"));
  const std::string response = s.read_response(2s);
  EXPECT_EQ(response.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("5000 bytes is larger than the limit of 1000 bytes"), std::string::npos) << response;
  std::lock_guard<std::mutex> lock(mutex_);
  ASSERT_EQ(too_large_.size(), 1u);
  EXPECT_EQ(too_large_[0], "/aiResults 5000 77");
}

// HTTP-2: a chunked body that grows over the limit gets 413 too.
TEST_F(HttpServerTest, ChunkedBodyOverTheLimitGets413) {
  start(config());
  RawSocket s(port());
  const std::string chunk(800, 'x');
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n" + chunk +
                     "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
  const std::string response = s.read_response(2s);
  EXPECT_EQ(response.rfind("HTTP/1.1 413 ", 0), 0u) << response;
}

// HTTP-2: a head over the limit gets 431.
TEST_F(HttpServerTest, HugeHeadGets431) {
  HttpServerConfig c = config();
  c.max_header_bytes = 2048;
  start(c);
  RawSocket s(port());
  ASSERT_TRUE(s.send("GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
  const std::string response = s.read_response(2s);
  EXPECT_EQ(response.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u) << response;
}

// HTTP-3: a client that sends its headers a byte at a time is cut with 408; one
// that sends its body too slowly too; an idle connection is closed.
TEST_F(HttpServerTest, SlowHeadersSlowBodiesAndIdleConnectionsAreCut) {
  start(config());
  RawSocket slow_head(port());
  ASSERT_TRUE(slow_head.send("POST /echo HT"));
  const std::string head_response = slow_head.read_response(3s);
  EXPECT_EQ(head_response.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << head_response;
  EXPECT_NE(head_response.find("headers not received within 300 ms"), std::string::npos) << head_response;

  RawSocket slow_body(port());
  ASSERT_TRUE(slow_body.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  const std::string body_response = slow_body.read_response(3s);
  EXPECT_EQ(body_response.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << body_response;

  RawSocket idle(port());
  ASSERT_TRUE(idle.send(post("/echo", "x")));
  EXPECT_NE(idle.read_response(2s).find("200 OK"), std::string::npos);
  EXPECT_TRUE(idle.closed_within(3s)) << "the idle keep-alive connection stayed open";

  RawSocket silent(port());
  EXPECT_TRUE(silent.closed_within(3s)) << "a connection that never sent a byte stayed open";
}

// HTTP-4: beyond the connection cap a request gets 503 with Retry-After and the
// connection is closed, except for the reserved path, which is served.
TEST_F(HttpServerTest, BeyondTheConnectionCapOnlyResultsAreServed) {
  HttpServerConfig c = config();
  c.max_connections = 2;
  c.header_timeout_ms = 5000;
  c.idle_timeout_ms = 5000;
  start(c);
  RawSocket a(port());
  RawSocket b(port());
  ASSERT_TRUE(a.send(post("/echo", "a")));
  ASSERT_TRUE(b.send(post("/echo", "b")));
  EXPECT_NE(a.read_response(2s).find("200 OK"), std::string::npos);
  EXPECT_NE(b.read_response(2s).find("200 OK"), std::string::npos);
  RawSocket third(port());
  ASSERT_TRUE(third.send(post("/echo", "c")));
  const std::string refused = third.read_response(2s);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_TRUE(third.closed_within(2s));
  RawSocket result(port());
  ASSERT_TRUE(result.send(post("/aiResults", "r") + post("/aiResults", "rr")));
  EXPECT_NE(result.read_response(2s).find("\"bytes\":1,"), std::string::npos);
  EXPECT_NE(result.read_response(2s).find("\"bytes\":2,"), std::string::npos);
  a.close();
  result.close();
  for (int i = 0; i < 400 && server_->stats().connections > 1; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server_->stats().connections, 1u);
  RawSocket fourth(port());  // a slot is free again
  ASSERT_TRUE(fourth.send(post("/echo", "d")));
  EXPECT_NE(fourth.read_response(2s).find("200 OK"), std::string::npos);
}

// HTTP-5: bodies held at once are capped: beyond it 503; the reserved path has a
// budget of its own; a body's bytes return to the budget once handled.
TEST_F(HttpServerTest, BodyBytesInFlightAreCapped) {
  start(config());  // 1000 per body, 1500 in flight
  RawSocket first(port());
  ASSERT_TRUE(first.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\n" + std::string(100, 'x')));
  for (int i = 0; i < 200 && server_->stats().body_bytes_in_flight < 900; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server_->stats().body_bytes_in_flight, 900u);
  RawSocket second(port());
  ASSERT_TRUE(second.send(post("/echo", std::string(700, 'y'))));
  const std::string refused = second.read_response(2s);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After"), std::string::npos) << refused;
  RawSocket result(port());
  ASSERT_TRUE(result.send(post("/aiResults", std::string(700, 'r'))));
  EXPECT_NE(result.read_response(2s).find("\"bytes\":700,"), std::string::npos);
  ASSERT_TRUE(first.send(std::string(800, 'x')));
  EXPECT_NE(first.read_response(2s).find("\"bytes\":900,"), std::string::npos);
  EXPECT_EQ(server_->stats().body_bytes_in_flight, 0u);
}

// HTTP-1: hundreds of requests wait at once on two threads, holding no thread:
// other requests are answered meanwhile, and the held ones are answered later,
// from another thread, each to its own client.
TEST_F(HttpServerTest, ManyWaitingRequestsHoldNoThread) {
  HttpServerConfig c = config();
  c.header_timeout_ms = 5000;
  c.idle_timeout_ms = 5000;
  start(c);
  constexpr int kWaiting = 300;
  std::vector<std::unique_ptr<RawSocket>> clients;
  for (int i = 0; i < kWaiting; ++i) {
    clients.push_back(std::make_unique<RawSocket>(port()));
    ASSERT_TRUE(clients.back()->send(post("/hold", std::to_string(i))));
  }
  ASSERT_TRUE(wait_held(kWaiting)) << held();
  RawSocket probe(port());
  ASSERT_TRUE(probe.send(post("/echo", "probe")));
  EXPECT_NE(probe.read_response(2s).find("\"bytes\":5,"), std::string::npos);
  std::thread answerer([&] {
    for (std::size_t i = 0; i < kWaiting; ++i) {
      HttpResponse r;
      std::lock_guard<std::mutex> lock(mutex_);
      r.body = "answer-" + held_bodies_.at(i);  // the client's own number
      held_.at(i)->respond(std::move(r));
    }
  });
  answerer.join();
  for (int i = 0; i < kWaiting; ++i) {
    const std::string response = clients[static_cast<std::size_t>(i)]->read_response(5s);
    EXPECT_NE(response.find("\r\n\r\nanswer-" + std::to_string(i)), std::string::npos) << i << ": " << response;
  }
}

// HTTP-7: each event-loop thread runs a loop of its own; connections are handed to
// them in turn, and every request of a connection is handled on its loop's thread.
TEST_F(HttpServerTest, ConnectionsTakeTheLoopsInTurnAndStayOnTheirs) {
  start(config());  // two threads
  constexpr int kConnections = 6;
  std::vector<std::unique_ptr<RawSocket>> clients;
  std::vector<std::string> thread_of;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<RawSocket>(port()));
    std::string first;
    for (int r = 0; r < 3; ++r) {
      ASSERT_TRUE(clients.back()->send(post("/thread", "")));
      const std::string response = clients.back()->read_response(2s);
      const std::size_t body = response.find("\r\n\r\n");
      ASSERT_NE(body, std::string::npos) << response;
      const std::string id = response.substr(body + 4);
      if (r == 0) first = id;
      EXPECT_EQ(id, first) << "connection " << i << " moved to another thread";
    }
    thread_of.push_back(first);
  }
  EXPECT_EQ(std::set<std::string>(thread_of.begin(), thread_of.end()).size(), 2u);
  for (int i = 2; i < kConnections; ++i) {
    EXPECT_EQ(thread_of[static_cast<std::size_t>(i)], thread_of[static_cast<std::size_t>(i - 2)]) << i;
    EXPECT_NE(thread_of[static_cast<std::size_t>(i)], thread_of[static_cast<std::size_t>(i - 1)]) << i;
  }
}

// API-9: a client that leaves while its answer is due is reported once; a late
// answer goes nowhere, and a second answer to one request is ignored.
TEST_F(HttpServerTest, ClientLeavingIsReportedAndLateAnswersGoNowhere) {
  HttpServerConfig c = config();
  c.idle_timeout_ms = 5000;
  start(c);
  {
    RawSocket s(port());
    ASSERT_TRUE(s.send(post("/hold", "x")));
    ASSERT_TRUE(wait_held(1));
  }
  for (int i = 0; i < 400 && gone_ == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(gone_, 1);
  take_held(0)->respond(HttpResponse{});

  RawSocket s(port());
  ASSERT_TRUE(s.send(post("/hold", "y")));
  ASSERT_TRUE(wait_held(2));
  HttpResponse first;
  first.body = "first";
  HttpResponse second;
  second.body = "second";
  take_held(1)->respond(std::move(first));
  take_held(1)->respond(std::move(second));
  EXPECT_NE(s.read_response(2s).find("\r\n\r\nfirst"), std::string::npos);
  ASSERT_TRUE(s.send(post("/echo", "z")));
  const std::string next = s.read_response(2s);
  EXPECT_NE(next.find("\"bytes\":1,"), std::string::npos) << "the second answer leaked into the next request: " << next;
  EXPECT_EQ(gone_, 1);
}

// HTTP-1: an answer given piece by piece arrives whole, with its length.
TEST_F(HttpServerTest, StreamedAnswerArrivesWhole) {
  start(config());
  RawSocket s(port());
  ASSERT_TRUE(s.send(post("/hold", "")));
  ASSERT_TRUE(wait_held(1));
  auto count = std::make_shared<int>(0);
  HttpResponse r;
  r.stream = HttpResponse::Stream{3 * 100000, [count](std::string& out) {
                                    if (*count == 3) return false;
                                    out.append(100000, static_cast<char>('a' + (*count)++));
                                    return true;
                                  }};
  take_held(0)->respond(std::move(r));
  const std::string response = s.read_response(5s);
  const std::size_t body_at = response.find("\r\n\r\n") + 4;
  ASSERT_EQ(response.size() - body_at, 300000u) << response.substr(0, 200);
  EXPECT_NE(response.find("Content-Length: 300000\r\n"), std::string::npos);
  EXPECT_EQ(response.substr(body_at + 199999, 2), "bc");
}

}  // namespace
}  // namespace aipool::net

namespace aipool::net {
namespace {

// SEC-3: the owner's screen sees a request's head before its body is read; its answer
// goes out instead, the body is never read and the connection is closed. Requests it
// passes are served as usual, and each knows it came from a loopback client (SEC-6).
TEST_F(HttpServerTest, ScreenAnswersBeforeTheBodyIsRead) {
  HttpServerConfig c = config();
  c.max_body_bytes = 1u << 20;
  c.max_body_bytes_in_flight = 2u << 20;
  std::atomic<int> screened{0};
  c.screen = [&screened](const HttpRequest& head) -> std::optional<HttpResponse> {
    ++screened;
    EXPECT_TRUE(head.body.empty());
    if (head.header("Authorization")) return std::nullopt;
    HttpResponse refused;
    refused.status = 401;
    refused.body = "{\"detail\":{\"msg\":\"no key\"}}";
    return refused;
  };
  start(c);
  RawSocket s(port());
  // The body (1 MiB) is announced but never sent: the answer must not wait for it.
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"));
  const std::string refused = s.read_response(2s);
  EXPECT_EQ(refused.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << refused;
  EXPECT_NE(refused.find("Connection: close"), std::string::npos) << refused;
  EXPECT_TRUE(s.closed_within(2s));
  RawSocket ok(port());
  ASSERT_TRUE(ok.send("POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: x\r\nContent-Length: 3\r\n\r\nabc"));
  const std::string served = ok.read_response(2s);
  EXPECT_NE(served.find("\"bytes\":3,\"loopback\":true}"), std::string::npos) << served;
  EXPECT_EQ(screened.load(), 2);
}

}  // namespace
}  // namespace aipool::net
