// The reading side of one HTTP connection (http_connection.h): the TLS handshake,
// idle waits, headers and bodies under their deadlines and limits, and the hand-over
// to the handler.
#include "net/http_connection.h"

namespace aipool::net {
namespace http_detail {

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

// SEC-7: a TLS connection first completes its handshake, under the header deadline.
void Connection::start() {
  if (!tls_) {
    read_header(server_.config.header_timeout_ms);
    return;
  }
  phase_ = Phase::kHeader;
  arm(server_.config.header_timeout_ms);
  // A TLS client speaks first with a handshake record (0x16); anything else is most
  // likely plain HTTP, which is told in plain HTTP to use https://.
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    unsigned char first = 0;
    const ssize_t n = ec ? -1 : ::recv(self->socket_.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0 || self->timed_out_) {
      self->close();
    } else if (first != 0x16) {
      self->refuse_plain_text();
    } else {
      self->handshake();
    }
  });
}

void Connection::handshake() {
  tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
    if (ec || self->timed_out_) {
      spdlog::debug("http: TLS handshake with {} failed: {}", codec::log_safe(self->peer_), ec.message());
      self->close();
      return;
    }
    self->read_header(self->server_.config.header_timeout_ms);
  });
}

// SEC-7: a plain-text request on the TLS port gets a plain-text 400 that says so.
void Connection::refuse_plain_text() {
  phase_ = Phase::kWriting;
  const std::string body = api_error_json("this port speaks HTTPS (TLS): use https://");
  head_ = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  asio::async_write(socket_, asio::buffer(head_), [self = shared_from_this()](error_code, std::size_t) {
    self->tls_.reset();  // the rest is plain: drain it as a plain connection
    self->linger();
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
  if (tls_) {
    tls_idle_read();
    return;
  }
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (self->phase_ != Phase::kIdle) return;
    if (ec || self->timed_out_) {
      self->close();
      return;
    }
    self->read_header(self->server_.config.header_timeout_ms);
  });
}

// The TLS stream may hold bytes already taken off the socket, so an idle TLS
// connection waits by reading: the first bytes of the next request end the idle time.
void Connection::tls_idle_read() {
  tls_->async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
    if (self->phase_ != Phase::kIdle) return;
    self->buffer_.commit(n);
    if (n == 0 && self->timed_out_) {
      self->linger();  // HTTP-3: a close_notify, then the close, so the client sees a clean end
      return;
    }
    if (n == 0 && ec) {
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
  io([this](auto& stream) {
    http::async_read_header(stream, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  });
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
  if (screened()) return;
  if (server_.config.streams_body && dispatch_streamed()) return;  // LLM-5
  if (!admit_body()) return;
  const auto expect = head.find(http::field::expect);
  if (expect != head.end() && beast::iequals(expect->value(), "100-continue") && !parser_->is_done()) {
    head_ = "HTTP/1.1 100 Continue\r\n\r\n";
    io([this](auto& stream) {
      asio::async_write(stream, asio::buffer(head_), [self = shared_from_this()](error_code wec, std::size_t) {
        if (wec) {
          self->close();
          return;
        }
        self->read_body();
      });
    });
    return;
  }
  read_body();
}

// The owner's look at the head (HttpServerConfig::screen): true when it answered
// in the server's stead, without the body being read.
bool Connection::screened() {
  if (!server_.config.screen) return false;
  RequestMessage head(parser_->get().base(), std::string());
  std::optional<HttpResponse> answer;
  try {
    answer = server_.config.screen(to_request(head));
  } catch (const std::exception& e) {
    spdlog::error("http: screen failed on {}: {}", codec::log_safe(peer_), e.what());
    answer = HttpResponse{500, "application/json", {}, api_error_json("internal error"), {}, true};
  }
  if (!answer) return false;
  answer->close = true;
  refuse_with(std::move(*answer));
  return true;
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
  io([this](auto& stream) {
    http::async_read_some(stream, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
  });
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
  hand_over(to_request(message));
  release_body();
  if (answer_due_) watch_for_gone();
}

// The request to the handler, with the exchange that answers it: the answer is due
// from now. The exchange holds the connection while the answer is due: no read or
// wait may be pending meanwhile (a pipelined request waits in the buffer).
void Connection::hand_over(HttpRequest&& request) {
  ++seq_;
  answer_due_ = true;
  server_.answers_due.fetch_add(1);
  on_gone_ = nullptr;
  gone_ = false;
  auto exchange = std::make_shared<Exchange>(shared_from_this(), strand_, seq_);
  try {
    server_.handler(std::move(request), std::move(exchange));
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed on {}: {}", codec::log_safe(peer_), e.what());
    answer(seq_, HttpResponse{500, "application/json", {}, api_error_json("internal error"), {}, true});
  }
}

HttpRequest Connection::to_request(RequestMessage& message) {
  HttpRequest request = request_of(message, peer_);
  request.peer_loopback = peer_loopback_;
  return request;
}

// HTTP-2, RES-9: a body over the limit gets 413; the owner hears of it first, from
// the request's head, so that a result refused for its size still ends its attempt.
void Connection::too_large(std::uint64_t length) {
  if (server_.config.on_body_too_large && parser_) {
    RequestMessage head(parser_->get().base(), std::string());
    try {
      server_.config.on_body_too_large(to_request(head), length);
    } catch (const std::exception& e) {
      spdlog::error("http: body-too-large hook failed: {}", e.what());
    }
  }
  refuse(413, (length > 0 ? "request body of " + std::to_string(length) + " bytes" : std::string("request body")) +
                  " is larger than the limit of " + std::to_string(server_.config.max_body_bytes) + " bytes");
}

}  // namespace http_detail

void serve_connection(HttpServer::Impl& server, boost::asio::ip::tcp::socket socket, bool over_cap) {
  using http_detail::Connection;
  const boost::asio::any_io_executor executor = socket.get_executor();
  auto connection = std::make_shared<Connection>(server, std::move(socket), over_cap);
  boost::asio::post(executor, [connection] { connection->start(); });
}

}  // namespace aipool::net
