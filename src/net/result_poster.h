// File: result_poster.h
// The worker's side of POST /aiResults (RES-1..RES-3): sends one encoded result to
// an orchestrator over HTTP/1.1 with keep-alive, reusing idle connections.
//
// Each post carries `Authorization: Livepeer-Transcoder-1.0`, `Credentials: <secret>`
// (RES-1), `TaskId: <task>` and, when known, `Aipool-Worker-Id` (TASK-2). A post that
// fails in transport (connection refused, reset, timeout) is retried up to
// `retries` times with doubling delays, starting at `first_retry_delay`: the TaskID
// makes a repeated post harmless (the orchestrator answers 409 to the second copy).
// A failure on a reused idle connection is retried at once on a fresh one and does
// not count as a retry. An HTTP answer of any status is final (never retried). At
// most `max_sessions` connections to one orchestrator are open at once (RES-12).
//
// Contract: thread-safe; post() blocks the calling thread for the whole exchange,
// retries included. The secret is never logged or put in an error message.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "codec/result_codec.h"
#include "net/tls.h"
#include "seams/types.h"

namespace Poco::Net {
class HTTPClientSession;
class HTTPRequest;
}

namespace aipool::net {

class ResultStreamPost;  // result_stream.h

// Where results go: parsed from `http://host[:port]/path` or `https://...`.
struct ResultTarget {
  std::string host;
  std::uint16_t port = 80;
  std::string path = "/aiResults";  // path and query
  std::string url;                  // as given, for logs
  bool https = false;               // TLS, checked against the poster's trust (SEC-9)
};

// Whether the orchestrator has sent data on `session`'s connection, or closed it: what
// ends a kept or early connection's use. Over TLS only the close counts: a TLS 1.3
// server's session tickets look like data on the wire, so an answer there is seen
// when a write fails. Never waits. Throws Poco::Exception when the socket is broken.
bool peer_has_spoken(Poco::Net::HTTPClientSession& session);

// Parses an http:// or https:// URL; nullopt (with `error` set) for anything else.
std::optional<ResultTarget> parse_results_url(std::string_view url, std::string& error);

struct PostPolicy {
  int retries = 3;
  std::chrono::milliseconds first_retry_delay{100};
  std::chrono::milliseconds timeout{30000};  // per socket operation
  // Connections open at once to one host:port, idle or in use (RES-12); a post that
  // finds all of them in use waits for one.
  std::size_t max_sessions = 32;
};

struct PostOutcome {
  int status = 0;        // the HTTP status; 0 when no answer came
  int attempts = 0;      // connections tried
  std::string error;     // the last transport error when status == 0
  std::string answer;    // the response body (truncated to 4 KiB)
  double elapsed_ms = 0;  // from the start of the first send to the answer or the last failure
  bool ok() const { return status >= 200 && status < 300; }
};

class ResultPoster {
 public:
  // SEC-9: posts to https:// targets trust the orchestrator as `tls` says (its CA
  // file, its pinned fingerprint, or the system's CAs); without it, an https://
  // target fails with a message saying so.
  explicit ResultPoster(std::string secret, PostPolicy policy = {}, std::optional<TlsTrust> tls = std::nullopt);
  ~ResultPoster();
  ResultPoster(const ResultPoster&) = delete;
  ResultPoster& operator=(const ResultPoster&) = delete;

  PostOutcome post(const ResultTarget& target, TaskId task, std::string_view worker_id,
                   const codec::EncodedPost& body);
  // A streamed result post (spec/llm.md LLM-4, result_stream.h) on a connection of
  // its own, its head sent; nullptr with `error` set when it cannot be opened.
  // `connected`, from connect_stream(), is used when it is still fresh and open, else
  // a new connection is made.
  std::unique_ptr<ResultStreamPost> open_stream(const ResultTarget& target, TaskId task, std::string_view worker_id,
                                                std::string& error,
                                                std::unique_ptr<Poco::Net::HTTPClientSession> connected = nullptr);
  // LLM-4: a connection (TCP, and TLS for https) to `target` made ahead of a streamed
  // post, so that its first chunk does not wait for one; nullptr when it cannot be
  // made (open_stream then makes its own). It counts as fresh for
  // kStreamConnectionFresh: a model slower than that to its first token gets a new one.
  std::unique_ptr<Poco::Net::HTTPClientSession> connect_stream(const ResultTarget& target) const;
  static constexpr std::chrono::milliseconds kStreamConnectionFresh{1000};

 private:
  struct Sessions;

  // A new session to `target`, with the poster's TLS trust and timeout.
  std::unique_ptr<Poco::Net::HTTPClientSession> new_session(const ResultTarget& target) const;
  // The headers of every result post (RES-1).
  void set_result_headers(Poco::Net::HTTPRequest& request, TaskId task, std::string_view worker_id) const;
  // An idle kept-alive session to `endpoint` (reused: true), or a new one.
  std::unique_ptr<Poco::Net::HTTPClientSession> take_session(const std::string& endpoint, const ResultTarget& target,
                                                             bool& reused);
  void keep_session(const std::string& endpoint, std::unique_ptr<Poco::Net::HTTPClientSession> session);
  void drop_session(const std::string& endpoint, std::unique_ptr<Poco::Net::HTTPClientSession> session);
  void forget_sessions(const std::string& endpoint);
  // One request and its answer; true when the orchestrator keeps the connection.
  // Throws Poco::Exception (or std::exception) on a network error.
  bool send_once(Poco::Net::HTTPClientSession& session, const ResultTarget& target, TaskId task,
                 std::string_view worker_id, const codec::EncodedPost& body, PostOutcome& outcome);
  std::string secret_;
  PostPolicy policy_;
  std::unique_ptr<Sessions> sessions_;
  struct Tls;
  std::unique_ptr<Tls> tls_;  // null: plain http:// only
};

}  // namespace aipool::net
