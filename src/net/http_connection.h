// File: http_connection.h
// Internal to the HTTP server (http_connection.cc, http_connection_write.cc): one
// connection of the event-driven server (http_server.h). It reads each request under
// its deadlines and limits, hands it to the handler, watches for the client leaving
// while the answer is due, and writes the answer; over TLS (SEC-7) when the server
// has a certificate. The reading side is in http_connection.cc, the answering and
// closing side in http_connection_write.cc.
//
// Threads: every member of a Connection is touched only on its strand; an Exchange
// may be used from any thread and posts to that strand.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <deque>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>

#include "codec/text.h"
#include "net/api_response.h"
#include "net/http_framing.h"
#include "net/http_server_impl.h"

namespace aipool::net::http_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// After the last answer on a connection, what the client still sends is read and
// dropped for at most this long and this many bytes, so that closing does not reset
// the connection before the client has read the answer.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 1u << 20;

class Connection;

// The answer side of one request: its connection, which it keeps open until the
// answer is written or the exchange is dropped, and the request's sequence number,
// so a late answer can never be taken for another request's.
class Exchange final : public HttpExchange {
 public:
  Exchange(std::shared_ptr<Connection> connection, asio::any_io_executor strand, std::uint64_t seq)
      : connection_(std::move(connection)), strand_(std::move(strand)), seq_(seq) {}
  void respond(HttpResponse response) override;
  void post(std::function<void()> fn) override { asio::post(strand_, std::move(fn)); }
  void on_gone(std::function<void()> fn) override;
  // Streaming (http_connection_stream.cc).
  void start_stream(HttpResponse head) override;
  void write_chunk(std::string bytes) override;
  void end_stream(std::string bytes) override;
  std::size_t unsent_bytes() const override { return unsent_->load(std::memory_order_relaxed); }
  void read_body(std::shared_ptr<BodyReader> reader) override;

 private:
  std::shared_ptr<Connection> connection_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
  std::shared_ptr<std::atomic<std::size_t>> unsent_ = std::make_shared<std::atomic<std::size_t>>(0);
};

class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl& server, tcp::socket socket, bool over_cap)
      : server_(server),
        strand_(socket.get_executor()),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        over_cap_(over_cap) {
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    const auto remote = socket_.remote_endpoint(ignored);
    peer_ = ignored ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
    if (server_.tls) tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *server_.tls);
    const asio::ip::address address = remote.address();
    peer_loopback_ = !ignored && (address.is_loopback() ||
                                  (address.is_v6() && address.to_v6().is_v4_mapped() &&
                                   asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback()));
  }
  ~Connection() {
    release_body();
    if (answer_due_) server_.answers_due.fetch_sub(1);
    server_.connections.fetch_sub(1);
  }

  void start();

  void answer(std::uint64_t seq, HttpResponse response);
  // A streamed answer and a streamed body (http_connection_stream.cc).
  void start_push(std::uint64_t seq, HttpResponse head);
  void push(std::uint64_t seq, std::string bytes, bool last, std::shared_ptr<std::atomic<std::size_t>> unsent);
  void start_body_stream(std::uint64_t seq, std::shared_ptr<BodyReader> reader);
  void set_gone(std::uint64_t seq, std::function<void()> fn) {
    if (seq != seq_ || !answer_due_) return;
    if (gone_) {
      fn();
    } else {
      on_gone_ = std::move(fn);
    }
  }

 private:
  // kReaderWait: a streamed body waits for its reader (read_body); kPushing: a
  // streamed answer is being written.
  enum class Phase { kIdle, kHeader, kBody, kReaderWait, kWaiting, kWriting, kPushing, kClosing };

  void arm(std::int64_t ms);
  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }
  void await_next_request();
  void read_header(std::int64_t deadline_ms);
  void on_header(error_code ec);
  bool admit_body();
  void read_body();
  void on_body(error_code ec);
  void on_read_error(error_code ec);
  void dispatch();
  void hand_over(HttpRequest&& request);
  bool dispatch_streamed();
  void read_stream_piece();
  void on_stream_piece(error_code ec);
  void end_body_stream(bool complete, std::string_view why);
  void write_pushed();
  void after_push(error_code ec, std::size_t bytes);
  void end_answer();
  HttpRequest to_request(RequestMessage& message);  // with this connection's peer
  void too_large(std::uint64_t length);
  void watch_for_gone();
  void write_answer(HttpResponse response);
  void write_piece(bool first);
  void after_write(error_code ec);
  void refuse(int status, std::string message, bool retry_after = false);
  void refuse_with(HttpResponse response);
  bool screened();
  void refuse_over_budget();
  void linger();
  void linger_read();
  void close();
  void release_body() {
    if (reserved_ > 0) budget_->release(reserved_);
    reserved_ = 0;
  }

  // Runs `f` with the connection's byte stream: the TLS stream over the socket,
  // or the socket itself.
  template <class F>
  void io(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }
  void tls_idle_read();
  void handshake();
  void refuse_plain_text();
  void tls_watch_for_gone();
  void client_gone();

  HttpServer::Impl& server_;
  asio::any_io_executor strand_;  // the socket's: a strand of the server's io_context
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // SEC-7; null: plain
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  bool timed_out_ = false;
  const bool over_cap_;
  std::string peer_;
  bool peer_loopback_ = false;
  Phase phase_ = Phase::kHeader;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  bool reserved_path_ = false;
  ByteBudget* budget_ = nullptr;
  std::size_t reserved_ = 0;
  bool bytes_seen_ = false;  // any byte of the current request
  std::uint64_t seq_ = 0;
  bool answer_due_ = false;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  std::function<void()> on_gone_;
  bool gone_ = false;  // the client left while the answer was due
  // The answer being written.
  std::string head_;
  std::string piece_;
  std::optional<HttpResponse::Stream> stream_;
  bool close_after_ = false;
  // A streamed body's reader (null otherwise), and a streamed answer's queue.
  std::shared_ptr<BodyReader> body_reader_;
  bool streamed_body_ = false;
  struct Pushed {
    std::string bytes;
    std::shared_ptr<std::atomic<std::size_t>> unsent;  // the owner's count it is in (null: the head)
  };
  std::deque<Pushed> pushed_;
  bool push_writing_ = false;
  bool push_ended_ = false;
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
};


}  // namespace aipool::net::http_detail
