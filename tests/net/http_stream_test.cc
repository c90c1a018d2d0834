// Tests of the HTTP server's streams (src/net/http_server.h, spec/http.md HTTP-8): an
// answer written chunk by chunk as its owner produces it, and a request body read
// piece by piece as it arrives.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/raw_socket.h"
#include "net/http_server.h"

namespace aipool::net {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

// Records what a streamed body's reader is given.
class RecordingReader final : public BodyReader {
 public:
  void piece(std::string_view bytes) override {
    std::lock_guard<std::mutex> lock(mutex);
    pieces.emplace_back(bytes);
  }
  void end(bool complete_, std::string_view why_) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++ends;
    complete = complete_;
    why = why_;
  }
  std::string body() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string all;
    for (const std::string& p : pieces) all += p;
    return all;
  }
  int ended() {
    std::lock_guard<std::mutex> lock(mutex);
    return ends;
  }
  std::mutex mutex;
  std::vector<std::string> pieces;
  int ends = 0;
  bool complete = false;
  std::string why;
};

// /push requests are held for the test to stream their answers; /stream requests
// have their bodies streamed to a RecordingReader, and are held too.
class HttpStreamTest : public ::testing::Test {
 protected:
  void start(std::int64_t body_timeout_ms = 5000) {
    HttpServerConfig config;
    config.address = "127.0.0.1:0";
    config.body_timeout_ms = body_timeout_ms;
    config.max_body_bytes = 1000;
    config.streams_body = [](const HttpRequest& head) { return head.path == "/stream"; };
    server_ = std::make_unique<HttpServer>(config, [this](HttpRequest&& request, std::shared_ptr<HttpExchange> ex) {
      std::lock_guard<std::mutex> lock(mutex_);
      ex->on_gone([this] { ++gone_; });
      if (request.path == "/stream") {
        EXPECT_TRUE(request.body.empty());
        ex->read_body(reader_);
      }
      held_.push_back(std::move(ex));
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
  std::shared_ptr<HttpExchange> held(std::chrono::milliseconds timeout = 5s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!held_.empty()) return held_.back();
      }
      std::this_thread::sleep_for(2ms);
    }
    return nullptr;
  }
  template <class Pred>
  static bool eventually(Pred pred) {
    for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(5ms);
    return pred();
  }
  int port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<HttpExchange>> held_;
  std::shared_ptr<RecordingReader> reader_ = std::make_shared<RecordingReader>();
  std::atomic<int> gone_{0};
};

HttpResponse event_head() {
  HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("Cache-Control", "no-cache");
  return head;
}

// HTTP-8, LLM-3: a streamed answer's head goes out at once, each piece arrives as one chunk before the next is given, the last chunk ends it, and the connection then serves the next request.
TEST_F(HttpStreamTest, PushedAnswerArrivesPieceByPiece) {
  start();
  RawSocket s(port());
  ASSERT_TRUE(s.send("GET /push HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::shared_ptr<HttpExchange> ex = held();
  ASSERT_NE(ex, nullptr);
  ex->start_stream(event_head());
  std::string got = s.read_until("\r\n\r\n", 2s);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("Content-Length"), std::string::npos) << got;
  s.take();
  ex->write_chunk("data: one\n\n");
  EXPECT_EQ(s.read_until("one\n\n\r\n", 2s), "b\r\ndata: one\n\n\r\n");
  s.take();
  ex->write_chunk("");  // nothing: an empty chunk would end the answer
  ex->write_chunk("data: two\n\n");
  ex->end_stream("data: [DONE]\n\n");
  EXPECT_EQ(s.read_until("0\r\n\r\n", 2s), "b\r\ndata: two\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n");
  s.take();
  EXPECT_TRUE(eventually([&] { return ex->unsent_bytes() == 0; }));
  ex->write_chunk("late");  // after the end: dropped
  ASSERT_TRUE(s.send("GET /push HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size() == 2;
  }));
  held()->respond(HttpResponse{200, "application/json", {}, "{}", {}, false});
  const std::string next = s.read_response(2s);
  EXPECT_NE(next.find("\r\n\r\n{}"), std::string::npos) << next;
  EXPECT_EQ(next.find("late"), std::string::npos) << next;
  EXPECT_EQ(gone_, 0);
}

// HTTP-8, LLM-6: a client that leaves while its answer streams is reported once; later pieces go nowhere.
TEST_F(HttpStreamTest, ClientLeavingAStreamIsReported) {
  start();
  std::shared_ptr<HttpExchange> ex;
  {
    RawSocket s(port());
    ASSERT_TRUE(s.send("GET /push HTTP/1.1\r\nHost: t\r\n\r\n"));
    ex = held();
    ASSERT_NE(ex, nullptr);
    ex->start_stream(event_head());
    ex->write_chunk("data: x\n\n");
    ASSERT_NE(s.read_until("data: x", 2s).find("data: x"), std::string::npos);
  }
  EXPECT_TRUE(eventually([&] { return gone_ == 1; }));
  for (int i = 0; i < 50; ++i) ex->write_chunk(std::string(1000, 'y'));
  ex->end_stream("");
  EXPECT_TRUE(eventually([&] { return ex->unsent_bytes() == 0; }));
  EXPECT_EQ(gone_, 1);
}

// HTTP-8, LLM-5: a streamed body's pieces reach the reader as they arrive, before the body's end; the end comes once, complete; the answer is then written.
TEST_F(HttpStreamTest, StreamedBodyArrivesPieceByPiece) {
  start();
  RawSocket s(port());
  ASSERT_TRUE(s.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  ASSERT_TRUE(eventually([&] { return reader_->body() == "hello"; })) << reader_->body();
  EXPECT_EQ(reader_->ended(), 0);
  ASSERT_TRUE(s.send("6\r\n world\r\n0\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return reader_->ended() == 1; }));
  EXPECT_TRUE(reader_->complete);
  EXPECT_EQ(reader_->body(), "hello world");
  held()->respond(HttpResponse{200, "application/json", {}, "{\"ok\":1}", {}, false});
  EXPECT_NE(s.read_response(2s).find("{\"ok\":1}"), std::string::npos);
}

// HTTP-8: a streamed body cut short is reported to its reader: the client closing, the deadline between pieces (then 408), the size limit (then 413).
TEST_F(HttpStreamTest, StreamedBodyCutShortIsReported) {
  start(300);
  {
    RawSocket s(port());
    ASSERT_TRUE(s.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"));
    ASSERT_TRUE(eventually([&] { return reader_->body() == "abc"; }));
  }
  ASSERT_TRUE(eventually([&] { return reader_->ended() == 1; }));
  EXPECT_FALSE(reader_->complete);
  EXPECT_NE(reader_->why.find("closed"), std::string::npos) << reader_->why;

  reader_ = std::make_shared<RecordingReader>();
  RawSocket slow(port());
  ASSERT_TRUE(slow.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"));
  EXPECT_NE(slow.read_response(3s).find("408"), std::string::npos);
  ASSERT_TRUE(eventually([&] { return reader_->ended() == 1; }));
  EXPECT_FALSE(reader_->complete);
  EXPECT_NE(reader_->why.find("no body bytes for 300 ms"), std::string::npos) << reader_->why;

  reader_ = std::make_shared<RecordingReader>();
  RawSocket big(port());
  ASSERT_TRUE(big.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(big.send("190\r\n" + std::string(400, 'z') + "\r\n"));
  EXPECT_NE(big.read_response(3s).find("413"), std::string::npos);
  ASSERT_TRUE(eventually([&] { return reader_->ended() == 1; }));
  EXPECT_FALSE(reader_->complete);
  EXPECT_NE(reader_->why.find("limit of 1000 bytes"), std::string::npos) << reader_->why;
}

// HTTP-8, LLM-6: answering before a streamed body's end stops reading it; the answer goes out and the connection closes; the reader hears no end.
TEST_F(HttpStreamTest, AnswerBeforeTheBodysEndCloses) {
  start();
  RawSocket s(port());
  ASSERT_TRUE(s.send("POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"));
  ASSERT_TRUE(eventually([&] { return reader_->body() == "ab"; }));
  held()->respond(HttpResponse{499, "application/json", {}, "{\"stop\":1}", {}, false});
  const std::string answer = s.read_response(2s);
  EXPECT_NE(answer.find("499"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  ASSERT_TRUE(s.send("2\r\ncd\r\n"));
  EXPECT_TRUE(s.closed_within(3s));
  EXPECT_EQ(reader_->body(), "ab");
  EXPECT_EQ(reader_->ended(), 0);
}

}  // namespace
}  // namespace aipool::net
