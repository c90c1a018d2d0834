// One connection of the event-driven HTTP server (http_server.h): it reads each
// request under its deadlines and limits, hands it to the handler, watches for the
// client leaving while the answer is due, and writes the answer. Every member is
// touched only on the connection's strand.
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <optional>

#include "codec/text.h"
#include "net/api_response.h"
#include "net/http_framing.h"
#include "net/http_server_impl.h"

namespace aipool::net {
namespace {

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

 private:
  std::shared_ptr<Connection> connection_;
  asio::any_io_executor strand_;
  std::uint64_t seq_;
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
  }
  ~Connection() {
    release_body();
    if (answer_due_) server_.answers_due.fetch_sub(1);
    server_.connections.fetch_sub(1);
  }

  void start() { read_header(server_.config.header_timeout_ms); }

  void answer(std::uint64_t seq, HttpResponse response);
  void set_gone(std::uint64_t seq, std::function<void()> fn) {
    if (seq != seq_ || !answer_due_) return;
    if (gone_) {
      fn();
    } else {
      on_gone_ = std::move(fn);
    }
  }

 private:
  enum class Phase { kIdle, kHeader, kBody, kWaiting, kWriting, kClosing };

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
  void too_large(std::uint64_t length);
  void watch_for_gone();
  void write_answer(HttpResponse response);
  void write_piece(bool first);
  void after_write(error_code ec);
  void refuse(int status, std::string message, bool retry_after = false);
  void refuse_over_budget();
  void linger();
  void linger_read();
  void close();
  void release_body() {
    if (reserved_ > 0) budget_->release(reserved_);
    reserved_ = 0;
  }

  HttpServer::Impl& server_;
  asio::any_io_executor strand_;  // the socket's: a strand of the server's io_context
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  bool timed_out_ = false;
  const bool over_cap_;
  std::string peer_;
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
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
};

void Exchange::respond(HttpResponse response) {
  asio::post(strand_, [connection = connection_, seq = seq_, response = std::move(response)]() mutable {
    connection->answer(seq, std::move(response));
  });
}

void Exchange::on_gone(std::function<void()> fn) {
  asio::post(strand_, [connection = connection_, seq = seq_, fn = std::move(fn)]() mutable {
    connection->set_gone(seq, std::move(fn));
  });
}

void Connection::arm(std::int64_t ms) {
  const std::uint64_t generation = ++timer_generation_;
  timed_out_ = false;
  timer_.expires_after(std::chrono::milliseconds(ms));
  timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
    if (ec || generation != self->timer_generation_) return;
    self->timed_out_ = true;
    error_code ignored;
    self->socket_.cancel(ignored);
  });
}

// HTTP-3: between requests a connection may sit idle for the idle timeout; the
// header deadline starts with the next request's first byte.
void Connection::await_next_request() {
  if (buffer_.size() > 0) {
    read_header(server_.config.header_timeout_ms);
    return;
  }
  phase_ = Phase::kIdle;
  arm(server_.config.idle_timeout_ms);
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (self->phase_ != Phase::kIdle) return;
    if (ec || self->timed_out_) {
      self->close();
      return;
    }
    self->read_header(self->server_.config.header_timeout_ms);
  });
}

void Connection::read_header(std::int64_t deadline_ms) {
  phase_ = Phase::kHeader;
  bytes_seen_ = buffer_.size() > 0;
  parser_.emplace();
  limit_parser(*parser_, server_.config);
  arm(deadline_ms);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void Connection::on_header(error_code ec) {
  if (ec) {
    on_read_error(ec);
    return;
  }
  const auto& head = parser_->get();
  reserved_path_ = server_.is_reserved(target_path(std::string_view(head.target().data(), head.target().size())));
  keep_alive_ = parser_->keep_alive();
  version_ = head.version();
  if (over_cap_ && !reserved_path_) {  // HTTP-4
    refuse(503, "too many open connections (the limit is " + std::to_string(server_.config.max_connections) + ")",
           true);
    return;
  }
  if (!admit_body()) return;
  const auto expect = head.find(http::field::expect);
  if (expect != head.end() && beast::iequals(expect->value(), "100-continue") && !parser_->is_done()) {
    head_ = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(head_), [self = shared_from_this()](error_code wec, std::size_t) {
      if (wec) {
        self->close();
        return;
      }
      self->read_body();
    });
    return;
  }
  read_body();
}

// HTTP-2, HTTP-5: the declared body must fit the request limit and the budget of
// bodies in flight; a chunked body is checked as it grows (on_body).
bool Connection::admit_body() {
  budget_ = reserved_path_ ? &server_.reserved_budget : &server_.client_budget;
  if (const std::optional<std::uint64_t> over = declared_body_over_limit(*parser_, server_.config)) {
    too_large(*over);
    return false;
  }
  const boost::optional<std::uint64_t> length = parser_->content_length();
  if (!length) return true;
  if (*length > 0 && !budget_->reserve(*length)) {
    refuse_over_budget();
    return false;
  }
  reserved_ = *length;
  return true;
}

void Connection::read_body() {
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  if (phase_ != Phase::kBody) {
    phase_ = Phase::kBody;
    arm(server_.config.body_timeout_ms);
  }
  http::async_read_some(socket_, buffer_, *parser_,
                        [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
}

void Connection::on_body(error_code ec) {
  if (ec) {
    on_read_error(ec);
    return;
  }
  const std::size_t size = parser_->get().body().size();
  if (size > reserved_) {  // a chunked body grew
    if (!budget_->reserve(size - reserved_)) {
      refuse_over_budget();
      return;
    }
    reserved_ = size;
  }
  read_body();
}

// HTTP-2, HTTP-3: how a failed read ends the connection.
void Connection::on_read_error(error_code ec) {
  if (timed_out_ || ec == asio::error::operation_aborted) {
    const bool in_body = phase_ == Phase::kBody;
    if (in_body || bytes_seen_ || buffer_.size() > 0 || parser_->got_some()) {
      refuse(408, in_body ? "request body not received within " +
                                std::to_string(server_.config.body_timeout_ms) + " ms"
                          : "request headers not received within " +
                                std::to_string(server_.config.header_timeout_ms) + " ms");
    } else {
      close();
    }
    return;
  }
  switch (read_failure_of(ec)) {
    case ReadFailure::kHeaderTooLarge:
      refuse(431, "request headers are larger than the limit of " +
                      std::to_string(server_.config.max_header_bytes) + " bytes");
      return;
    case ReadFailure::kBodyTooLarge: {  // Beast checks a declared length with the headers
      const boost::optional<std::uint64_t> length = parser_ ? parser_->content_length() : boost::none;
      too_large(length ? *length : 0);
      return;
    }
    case ReadFailure::kMalformed:
      refuse(400, "malformed request: " + ec.message());
      return;
    case ReadFailure::kClose:
      close();
      return;
  }
}

void Connection::dispatch() {
  disarm();
  phase_ = Phase::kWaiting;
  RequestMessage message = parser_->release();
  parser_.reset();
  HttpRequest request = request_of(message, peer_);
  ++seq_;
  answer_due_ = true;
  server_.answers_due.fetch_add(1);
  on_gone_ = nullptr;
  gone_ = false;
  // The exchange holds the connection while the answer is due: no read or wait may
  // be pending meanwhile (a pipelined request waits in the buffer).
  auto exchange = std::make_shared<Exchange>(shared_from_this(), strand_, seq_);
  try {
    server_.handler(std::move(request), std::move(exchange));
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed on {}: {}", codec::log_safe(peer_), e.what());
    answer(seq_, HttpResponse{500, "application/json", {}, api_error_json("internal error"), {}, true});
  }
  release_body();
  if (answer_due_) watch_for_gone();
}

// HTTP-2, RES-9: a body over the limit gets 413; the owner hears of it first, from
// the request's head, so that a result refused for its size still ends its attempt.
void Connection::too_large(std::uint64_t length) {
  if (server_.config.on_body_too_large && parser_) {
    RequestMessage head(parser_->get().base(), std::string());
    try {
      server_.config.on_body_too_large(request_of(head, peer_), length);
    } catch (const std::exception& e) {
      spdlog::error("http: body-too-large hook failed: {}", e.what());
    }
  }
  refuse(413, (length > 0 ? "request body of " + std::to_string(length) + " bytes" : std::string("request body")) +
                  " is larger than the limit of " + std::to_string(server_.config.max_body_bytes) + " bytes");
}

// API-9: while the answer is due, a readable socket with nothing to read means the
// client has closed its connection.
void Connection::watch_for_gone() {
  if (buffer_.size() > 0) return;  // a pipelined request: the client is still there
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec || !self->answer_due_ || self->phase_ != Phase::kWaiting) return;
    // A wake-up is not proof: peek. Bytes: a pipelined request, the client is there.
    // Nothing yet: wait again. End of stream or an error: the client has gone.
    char byte = 0;
    const ssize_t n = ::recv(self->socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      self->watch_for_gone();
      return;
    }
    self->gone_ = true;
    std::function<void()> gone = std::move(self->on_gone_);
    self->on_gone_ = nullptr;
    if (gone) gone();
    // The answer (the cancelled job's) still arrives; it is then dropped by close().
    self->keep_alive_ = false;
  });
}

void Connection::answer(std::uint64_t seq, HttpResponse response) {
  if (seq != seq_ || !answer_due_ || phase_ != Phase::kWaiting) return;
  answer_due_ = false;
  server_.answers_due.fetch_sub(1);
  on_gone_ = nullptr;
  error_code ignored;
  socket_.cancel(ignored);  // ends the watch for a client leaving
  write_answer(std::move(response));
}

void Connection::write_answer(HttpResponse response) {
  phase_ = Phase::kWriting;
  close_after_ = response.close || !keep_alive_ || server_.stopping;
  stream_ = std::move(response.stream);
  const std::size_t length = stream_ ? stream_->length : response.body.size();
  const std::string_view reason = http_reason(response.status);
  head_.clear();
  head_ += "HTTP/1.1 ";
  head_ += std::to_string(response.status);
  head_ += ' ';
  head_ += reason;
  head_ += "\r\nContent-Type: ";
  head_ += response.content_type;
  head_ += "\r\nContent-Length: ";
  head_ += std::to_string(length);
  head_ += "\r\n";
  for (const auto& [name, value] : response.headers) {
    head_ += name;
    head_ += ": ";
    head_ += value;
    head_ += "\r\n";
  }
  if (close_after_) {
    head_ += "Connection: close\r\n";
  } else if (version_ == 10) {
    head_ += "Connection: keep-alive\r\n";
  }
  head_ += "\r\n";
  piece_ = std::move(response.body);
  write_piece(true);
}

void Connection::write_piece(bool first) {
  if (!first) {
    piece_.clear();
    if (!stream_ || !stream_->next(piece_)) stream_.reset();
  } else if (stream_) {
    if (!stream_->next(piece_)) stream_.reset();
  }
  arm(server_.config.write_timeout_ms);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(first ? head_ : std::string_view()),
                                            asio::buffer(piece_)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    self->after_write(ec);
  });
}

void Connection::after_write(error_code ec) {
  if (ec) {
    close();
    return;
  }
  if (stream_) {
    write_piece(false);
    return;
  }
  disarm();
  piece_.clear();
  piece_.shrink_to_fit();
  if (close_after_) {
    linger();
    return;
  }
  await_next_request();
}

// Answers `status` with `message` and closes: used before the request was handed
// to the handler, when what is left of it cannot be trusted or is not wanted.
void Connection::refuse(int status, std::string message, bool retry_after) {
  disarm();
  release_body();
  parser_.reset();
  phase_ = Phase::kWriting;
  keep_alive_ = false;
  HttpResponse response;
  response.status = status;
  response.close = true;
  if (retry_after) response.headers.emplace_back("Retry-After", "1");
  response.body = api_error_json(message);
  spdlog::debug("http: {} {} from {}", status, message, codec::log_safe(peer_));
  write_answer(std::move(response));
}

// HTTP-5: the body does not fit the budget of bodies in flight.
void Connection::refuse_over_budget() {
  refuse(503,
         "the server holds too many request bodies at once (limit " + std::to_string(budget_->limit()) +
             " bytes); try again",
         true);
}

// Half-closes, then reads and drops what the client still sends for a short while.
void Connection::linger() {
  phase_ = Phase::kClosing;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  arm(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime).count());
  linger_read();
}

void Connection::linger_read() {
  socket_.async_read_some(asio::buffer(drain_), [self = shared_from_this()](error_code ec, std::size_t n) {
    self->drained_ += n;
    if (ec || self->timed_out_ || self->drained_ > kLingerBytes) {
      self->close();
      return;
    }
    self->linger_read();
  });
}

void Connection::close() {
  phase_ = Phase::kClosing;
  disarm();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace

void serve_connection(HttpServer::Impl& server, tcp::socket socket, bool over_cap) {
  const asio::any_io_executor executor = socket.get_executor();
  auto connection = std::make_shared<Connection>(server, std::move(socket), over_cap);
  asio::post(executor, [connection] { connection->start(); });
}

}  // namespace aipool::net
