// File: runner_http.h
// The HTTP client side of the external runner engine (spec/runners.md): a runner's
// base URL, and one HTTP/1.1 connection to it (plain or TLS, Poco::Net) that sends
// one request at a time and reads its answer whole or line by line (event streams).
//
// Errors: every failure to connect, send, or read (a connection that breaks, an answer
// cut short, no answer before the deadline) throws RunnerFailure, whose what() is the
// text that follows `runner <url>: ` in the worker error (RUN-4).
//
// Contract: a Connection is used by one thread at a time. The bearer token goes into
// the Authorization header only; nothing here logs.
#pragma once

#include <Poco/Net/Context.h>

#include <chrono>
#include <cstdint>
#include <istream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace Poco::Net {
class HTTPClientSession;
class HTTPResponse;
}  // namespace Poco::Net

namespace aipool::exec::runner {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string url;        // as configured, without a trailing '/'
  bool https = false;
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // "" or "/prefix", prepended to every request path
  // https: the context that checks the server (runner_config sets it; parse_endpoint
  // does not). A connection to an https endpoint without one fails.
  Poco::Net::Context::Ptr tls;
};

// RUN-1: an http:// or https:// base URL with a host; or what is wrong with it.
std::variant<Endpoint, std::string> parse_endpoint(std::string_view url);

class RunnerFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Connection {
 public:
  explicit Connection(const Endpoint& endpoint);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `method path` (after the base path) with `body` and reads the answer's head;
  // its status. A kept-alive connection that the runner had closed is opened again
  // once. Throws RunnerFailure.
  int send(const std::string& method, const std::string& path, const std::string& token,
           const std::string& content_type, std::string_view body, Clock::time_point deadline);
  // The answer's Content-Type (after send).
  std::string content_type() const;
  // The rest of the answer's body. Throws RunnerFailure (cut short, past the deadline,
  // or longer than `max_bytes`: the connection is then closed, RUN-8).
  std::string read_body(Clock::time_point deadline, std::size_t max_bytes);
  // The next line of the body, without its '\n'; false at the end of the body.
  // Throws RunnerFailure (also for a line longer than `max_bytes`, RUN-8).
  bool read_line(std::string& line, Clock::time_point deadline, std::size_t max_bytes);
  // After an event stream's `data: [DONE]`: reads what is left of the body (at most
  // `max_bytes`, before `deadline`) and keeps the connection for the next request when
  // the body ended there and the runner keeps it; else closes it. Never throws.
  void finish_body(Clock::time_point deadline, std::size_t max_bytes);
  // True while an answer's body has been read only in part.
  bool mid_body() const { return body_ != nullptr; }
  // Closes the connection at once (RUN-7): the runner sees its client go.
  void close();
  // Whether the connection can carry another request: the last answer was read whole
  // and the runner keeps the connection.
  bool reusable() const { return reusable_; }

 private:
  void open();
  void read_sized(std::string& text, std::size_t length, Clock::time_point deadline);
  void read_unsized(std::string& text, Clock::time_point deadline, std::size_t max_bytes);
  [[noreturn]] void fail(const std::string& what, Clock::time_point deadline);

  Endpoint endpoint_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  std::unique_ptr<Poco::Net::HTTPResponse> response_;
  std::istream* body_ = nullptr;
  Clock::time_point started_;
  bool used_ = false;
  bool reusable_ = false;
};

}  // namespace aipool::exec::runner
