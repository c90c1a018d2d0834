// The streaming side of one HTTP connection (http_connection.h): a request body read
// piece by piece as it arrives (HttpServerConfig::streams_body, spec/llm.md LLM-5)
// and an answer written chunk by chunk as its owner produces it (LLM-3).
#include "net/http_connection.h"

namespace aipool::net::http_detail {
namespace {

// One chunk of chunked transfer encoding (RFC 9112 7.1).
std::string chunk_of(std::string_view bytes) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  std::string out;
  out.reserve(static_cast<std::size_t>(n) + bytes.size() + 2);
  out.append(size, static_cast<std::size_t>(n));
  out.append(bytes);
  out += "\r\n";
  return out;
}

}  // namespace

void Exchange::start_stream(HttpResponse head) {
  asio::post(strand_, [connection = connection_, seq = seq_, head = std::move(head)]() mutable {
    connection->start_push(seq, std::move(head));
  });
}

void Exchange::write_chunk(std::string bytes) {
  if (bytes.empty()) return;  // an empty chunk would end the body
  unsent_->fetch_add(bytes.size(), std::memory_order_relaxed);
  asio::post(strand_, [connection = connection_, seq = seq_, bytes = std::move(bytes), unsent = unsent_]() mutable {
    connection->push(seq, std::move(bytes), false, std::move(unsent));
  });
}

void Exchange::end_stream(std::string bytes) {
  unsent_->fetch_add(bytes.size(), std::memory_order_relaxed);
  asio::post(strand_, [connection = connection_, seq = seq_, bytes = std::move(bytes), unsent = unsent_]() mutable {
    connection->push(seq, std::move(bytes), true, std::move(unsent));
  });
}

void Exchange::read_body(std::shared_ptr<BodyReader> reader) {
  asio::post(strand_, [connection = connection_, seq = seq_, reader = std::move(reader)]() mutable {
    connection->start_body_stream(seq, std::move(reader));
  });
}

// ---------------------------------------------------------------- streamed body

// Called with the head in; true when the request's body streams: the handler has
// then been given the request, and the body waits for its reader.
bool Connection::dispatch_streamed() {
  RequestMessage head(parser_->get().base(), std::string());
  if (!server_.config.streams_body(to_request(head))) return false;
  if (const std::optional<std::uint64_t> over = declared_body_over_limit(*parser_, server_.config)) {
    too_large(*over);
    return true;
  }
  disarm();
  phase_ = Phase::kReaderWait;
  streamed_body_ = true;
  hand_over(to_request(head));
  return true;
}

void Connection::start_body_stream(std::uint64_t seq, std::shared_ptr<BodyReader> reader) {
  if (seq != seq_ || !answer_due_ || phase_ != Phase::kReaderWait) return;
  body_reader_ = std::move(reader);
  phase_ = Phase::kBody;
  if (parser_->is_done()) {
    end_body_stream(true, "");
    return;
  }
  read_stream_piece();
}

void Connection::read_stream_piece() {
  arm(server_.config.body_timeout_ms);  // the time allowed between two pieces
  io([this](auto& stream) {
    http::async_read_some(stream, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_stream_piece(ec); });
  });
}

void Connection::on_stream_piece(error_code ec) {
  if (phase_ != Phase::kBody || !body_reader_) return;  // answered meanwhile: the read was cancelled
  std::string& body = parser_->get().body();
  if (!body.empty()) {
    body_reader_->piece(body);
    body.clear();
    if (phase_ != Phase::kBody) return;  // the reader answered at once (on this thread)
  }
  if (!ec) {
    if (parser_->is_done()) {
      end_body_stream(true, "");
    } else {
      read_stream_piece();
    }
    return;
  }
  std::string why;
  if (timed_out_ || ec == asio::error::operation_aborted) {
    why = "no body bytes for " + std::to_string(server_.config.body_timeout_ms) + " ms";
  } else if (read_failure_of(ec) == ReadFailure::kBodyTooLarge) {
    why = "body larger than the limit of " + std::to_string(server_.config.max_body_bytes) + " bytes";
  } else if (read_failure_of(ec) == ReadFailure::kMalformed) {
    why = "malformed body: " + ec.message();
  } else {
    why = "the connection closed before the body's end";
  }
  end_body_stream(false, why);
  // The request is the server's to answer now (BodyReader::end).
  answer_due_ = false;
  server_.answers_due.fetch_sub(1);
  on_read_error(ec);
}

void Connection::end_body_stream(bool complete, std::string_view why) {
  std::shared_ptr<BodyReader> reader = std::move(body_reader_);
  body_reader_.reset();
  streamed_body_ = false;
  if (complete) {
    disarm();
    phase_ = Phase::kWaiting;
    parser_.reset();
    reader->end(true, "");
    if (answer_due_ && phase_ == Phase::kWaiting) watch_for_gone();
    return;
  }
  reader->end(false, why);
}

// ---------------------------------------------------------------- streamed answer

void Connection::start_push(std::uint64_t seq, HttpResponse head) {
  if (seq != seq_ || !answer_due_ || phase_ != Phase::kWaiting || gone_) return;
  phase_ = Phase::kPushing;
  close_after_ = head.close || !keep_alive_ || server_.stopping;
  std::string text = "HTTP/1.1 " + std::to_string(head.status) + " " + std::string(http_reason(head.status)) +
                     "\r\nContent-Type: " + head.content_type + "\r\nTransfer-Encoding: chunked\r\n";
  for (const auto& [name, value] : head.headers) text += name + ": " + value + "\r\n";
  if (close_after_) text += "Connection: close\r\n";
  text += "\r\n";
  pushed_.push_back(Pushed{std::move(text), nullptr});
  push_ended_ = false;
  write_pushed();
}

void Connection::push(std::uint64_t seq, std::string bytes, bool last,
                      std::shared_ptr<std::atomic<std::size_t>> unsent) {
  if (seq != seq_ || phase_ != Phase::kPushing || push_ended_) {
    unsent->fetch_sub(bytes.size(), std::memory_order_relaxed);
    return;
  }
  const std::size_t size = bytes.size();
  std::string framed = size > 0 ? chunk_of(bytes) : std::string();
  if (last) {
    framed += "0\r\n\r\n";
    push_ended_ = true;
  }
  // From here the count holds the framed bytes, until they are written.
  unsent->fetch_add(framed.size(), std::memory_order_relaxed);
  unsent->fetch_sub(size, std::memory_order_relaxed);
  pushed_.push_back(Pushed{std::move(framed), std::move(unsent)});
  write_pushed();
}

void Connection::write_pushed() {
  if (push_writing_) return;
  if (pushed_.empty()) {
    if (push_ended_) {
      end_answer();
    } else {
      disarm();
    }
    return;
  }
  push_writing_ = true;
  arm(server_.config.write_timeout_ms);
  io([this](auto& stream) {
    asio::async_write(stream, asio::buffer(pushed_.front().bytes), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->after_push(ec, n);
    });
  });
}

void Connection::after_push(error_code ec, std::size_t bytes) {
  push_writing_ = false;
  const Pushed& written = pushed_.front();
  if (written.unsent) written.unsent->fetch_sub(written.bytes.size(), std::memory_order_relaxed);
  pushed_.pop_front();
  (void)bytes;
  if (ec || phase_ != Phase::kPushing) {
    for (const Pushed& p : pushed_) {
      if (p.unsent) p.unsent->fetch_sub(p.bytes.size(), std::memory_order_relaxed);
    }
    pushed_.clear();
    if (answer_due_ && !gone_) client_gone();  // the owner stops producing
    close();
    return;
  }
  write_pushed();
}

// The last chunk is out: the answer is complete.
void Connection::end_answer() {
  disarm();
  answer_due_ = false;
  server_.answers_due.fetch_sub(1);
  on_gone_ = nullptr;
  error_code ignored;
  socket_.cancel(ignored);  // ends the watch for a client leaving; no write is pending
  if (close_after_) {
    linger();
    return;
  }
  await_next_request();
}

}  // namespace aipool::net::http_detail
