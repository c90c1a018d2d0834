// The answering side of one HTTP connection (http_connection.h): the watch for a
// client that leaves, the answer written piece by piece, refusals, and closing.
#include "net/http_connection.h"

namespace aipool::net::http_detail {

// API-9: while the answer is due, a readable socket with nothing to read means the
// client has closed its connection.
void Connection::watch_for_gone() {
  if (buffer_.size() > 0) return;  // a pipelined request: the client is still there
  if (tls_) {
    tls_watch_for_gone();
    return;
  }
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec || !self->answer_due_ || (self->phase_ != Phase::kWaiting && self->phase_ != Phase::kPushing)) return;
    // A wake-up is not proof: peek. Bytes: a pipelined request, the client is there.
    // Nothing yet: wait again. End of stream or an error: the client has gone.
    char byte = 0;
    const ssize_t n = ::recv(self->socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      self->watch_for_gone();
      return;
    }
    self->client_gone();
  });
}

// The client left while its answer was due: its owner hears of it once. The answer
// (the cancelled job's) still arrives; it is then dropped by close().
void Connection::client_gone() {
  gone_ = true;
  std::function<void()> gone = std::move(on_gone_);
  on_gone_ = nullptr;
  if (gone) gone();
  keep_alive_ = false;
}

// API-9 over TLS: bytes on the socket may be a TLS alert, so the watch reads through
// the TLS stream. Data is a pipelined request (kept for later); an end of stream or
// an error is the client leaving; the answer's arrival cancels the read.
void Connection::tls_watch_for_gone() {
  tls_->async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
    self->buffer_.commit(n);
    if (n > 0 || ec == asio::error::operation_aborted || !self->answer_due_ ||
        (self->phase_ != Phase::kWaiting && self->phase_ != Phase::kPushing)) {
      return;
    }
    self->client_gone();
  });
}

void Connection::answer(std::uint64_t seq, HttpResponse response) {
  if (seq != seq_ || !answer_due_) return;
  if (phase_ == Phase::kReaderWait || (phase_ == Phase::kBody && streamed_body_)) {
    // Answered before its streamed body's end: the rest is not read (BodyReader).
    body_reader_.reset();  // the pending read (cancelled below) still uses the parser
    streamed_body_ = false;
    keep_alive_ = false;
    response.close = true;
  } else if (phase_ != Phase::kWaiting) {
    return;
  }
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
  io([this, &buffers](auto& stream) {
    asio::async_write(stream, buffers, [self = shared_from_this()](error_code ec, std::size_t) { self->after_write(ec); });
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
  HttpResponse response;
  response.status = status;
  response.close = true;
  if (retry_after) response.headers.emplace_back("Retry-After", "1");
  response.body = api_error_json(message);
  spdlog::debug("http: {} {} from {}", status, message, codec::log_safe(peer_));
  refuse_with(std::move(response));
}

void Connection::refuse_with(HttpResponse response) {
  disarm();
  release_body();
  parser_.reset();
  phase_ = Phase::kWriting;
  keep_alive_ = false;
  response.close = true;
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
  if (tls_) {  // close_notify, then wait (bounded) for the client's
    arm(std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime).count());
    tls_->async_shutdown([self = shared_from_this()](error_code) { self->close(); });
    return;
  }
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

}  // namespace aipool::net::http_detail
