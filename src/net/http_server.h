// File: http_server.h
// The orchestrator's event-driven HTTP/1.1 server (spec/http.md HTTP-*), on
// Boost.Beast and Asio. A connection costs a socket and a small state, never a
// thread: a request whose answer comes later (a client waiting for its job) holds
// no thread while it waits, and the handler's answer may come from any thread.
//
// What the server enforces, each limit from HttpServerConfig:
//  - a deadline for a request's headers and one for its body (408, then close); an
//    idle keep-alive timeout (close); a write deadline per piece of an answer;
//  - header and body size limits (431, 413, before the body is read);
//  - strict framing: anything Beast's parser refuses (two Content-Lengths, a
//    Content-Length with Transfer-Encoding, a non-numeric length) gets 400 and close;
//  - a cap on open connections: beyond it a connection is still read, but only a
//    request for a reserved path (/aiResults) is served; others get 503 with
//    Retry-After and the connection is closed;
//  - a cap on the bytes of request bodies in flight (received or being handled):
//    503 with Retry-After beyond it; reserved paths have a budget of their own.
//
// Contract:
//  - The handler runs on one of the server's threads and must not block; it answers
//    through the HttpExchange, at once or later, from any thread, exactly once.
//  - HttpExchange is thread-safe. It keeps its connection open until it has been
//    answered and the answer written, or until it is dropped unanswered (the
//    connection then closes). After the client has gone, answering is a no-op.
//    `on_gone` (set by the handler) runs once if the client closes its connection
//    while its answer is pending (API-9), on a server thread.
//  - listen() binds the port; run() starts the threads that accept and serve;
//    stop() stops accepting, waits up to `grace_ms` for answers in progress, then
//    closes every connection and joins the threads. None of them may be called from
//    a server thread. Every HttpExchange must be released before the destructor.
//  - Errors: listen() returns false with a message (a bad address or port, an
//    unusable TLS certificate or key); nothing else throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aipool::net {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent, with the query
  std::string path;    // the target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;  // the client's address, for logs
  bool peer_loopback = false;  // the client connects from a loopback address
  // The value of header `name` (case-insensitive), or nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
  std::string body;
  // A body produced piece by piece instead of `body`: `length` bytes in all,
  // `next` appends the next piece to its argument and returns false after the last.
  struct Stream {
    std::size_t length = 0;
    std::function<bool(std::string&)> next;
  };
  std::optional<Stream> stream;
  bool close = false;  // close the connection after this answer
};

struct HttpServerConfig {
  std::string address = "127.0.0.1:0";  // host:port; port 0 = any
  int threads = 2;                      // event-loop threads
  std::size_t max_connections = 15000;  // open client connections (reserved paths exempt)
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 64u << 20;           // one request's body (413 above)
  std::size_t max_body_bytes_in_flight = 512u << 20;  // all bodies together (503 above)
  std::int64_t header_timeout_ms = 10'000;
  std::int64_t body_timeout_ms = 120'000;
  std::int64_t idle_timeout_ms = 60'000;
  std::int64_t write_timeout_ms = 60'000;  // for each piece of an answer
  std::vector<std::string> reserved_paths;  // served beyond the caps (own body budget)
  // Called with a request's head (no body) before it is answered 413 for its body's
  // size (`length`, 0 when the body was chunked), on a server thread. Optional.
  std::function<void(const HttpRequest& head, std::uint64_t length)> on_body_too_large;
  // Called with each request's head (no body) once its headers are in, before its
  // body is read, on a server thread; must not block. An answer returned here is
  // sent instead of reading the body, and the connection is then closed (e.g. 401
  // for a request without a key, spec/security.md SEC-3). Optional.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> screen;
  // Requests whose body is read as it arrives instead of whole (a streamed result,
  // spec/llm.md LLM-5): for a head this accepts, after `screen`, the handler is called
  // at once with an empty body and reads the body through HttpExchange::read_body.
  // The body's deadline is then the time allowed between two pieces of it; its size
  // limit is the same. Optional; called on a server thread; must not block.
  std::function<bool(const HttpRequest& head)> streams_body;
  // TLS (spec/security.md SEC-7): the certificate chain and private key, PEM. Both
  // empty: plain HTTP. With them every connection starts with a TLS handshake,
  // under the header deadline.
  std::string tls_cert_pem;
  std::string tls_key_pem;
};

// The standard reason phrase for `status` ("Bad Request"); 499 is "Client Closed
// Request"; an unknown status gets "Unknown".
std::string_view http_reason(int status);

// The reader of a streamed request body (HttpServerConfig::streams_body). Its calls
// come on the connection's thread, in order: piece() for each run of body bytes as
// they arrive, then end() once. Must not block.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  virtual void piece(std::string_view bytes) = 0;
  // The body is over: `complete`, or cut short (`why`: the client closed or broke the
  // connection, a deadline, the size limit). After an incomplete end the server
  // answers the request itself (408, 413) or closes, and the exchange's answer is
  // then a no-op. No end() comes once the exchange has answered.
  virtual void end(bool complete, std::string_view why) = 0;
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual void respond(HttpResponse response) = 0;
  // A streamed answer (spec/llm.md LLM-3), instead of respond(): `head`'s status,
  // content type, headers and `close` are written at once with `Transfer-Encoding:
  // chunked` (its body and stream unused); each write_chunk() adds one chunk, in
  // order, written as soon as the ones before it are; end_stream() adds its bytes (when
  // any) and the last chunk, which ends the answer. No-ops after the client has gone
  // (on_gone tells) and before start_stream().
  virtual void start_stream(HttpResponse head) = 0;
  virtual void write_chunk(std::string bytes) = 0;
  virtual void end_stream(std::string bytes) = 0;
  // Bytes given to write_chunk() and end_stream() and not yet written.
  virtual std::size_t unsent_bytes() const = 0;
  // For a request whose body streams (HttpServerConfig::streams_body): `reader` gets
  // its body as it arrives. Until this is called the body is not read; answering
  // instead (respond) stops reading it, and the connection closes after the answer.
  virtual void read_body(std::shared_ptr<BodyReader> reader) = 0;
  // Runs `fn` on the connection's own thread context, in order with its I/O.
  virtual void post(std::function<void()> fn) = 0;
  virtual void on_gone(std::function<void()> fn) = 0;
};

using HttpHandler = std::function<void(HttpRequest&& request, std::shared_ptr<HttpExchange> exchange)>;

struct HttpServerStats {
  std::size_t connections = 0;           // open now
  std::size_t body_bytes_in_flight = 0;  // client budget, now
};

class HttpServer {
 public:
  HttpServer(HttpServerConfig config, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  bool listen(std::string& error);
  void run();
  int port() const;
  void stop(std::int64_t grace_ms);
  HttpServerStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace aipool::net
