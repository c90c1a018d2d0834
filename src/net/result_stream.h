// File: result_stream.h
// The worker's streamed result post (spec/llm.md LLM-4): one `POST /aiResults` with
// `Content-Type: text/event-stream` and a chunked body, each chunk of the job's
// result sent as `data: <json>\n\n` the moment it is produced; the end is
// `data: [DONE]\n\n`, or `event: error` with the job's error. Opened by
// ResultPoster::open_stream on a connection of its own (never a pooled one: a long
// stream must not hold up other results).
//
// Contract: one thread at a time (the job's); send() and finish() block on the
// network for at most the poster's timeout per operation. The secret is never
// logged or put in an error message.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/result_poster.h"

namespace aipool::net {

class ResultStreamPost {
 public:
  explicit ResultStreamPost(std::unique_ptr<Poco::Net::HTTPClientSession> session);
  ~ResultStreamPost();
  ResultStreamPost(const ResultStreamPost&) = delete;
  ResultStreamPost& operator=(const ResultStreamPost&) = delete;

  // Sends the request's head (its headers set by ResultPoster). False with `error`
  // set when it cannot be sent.
  bool begin(Poco::Net::HTTPRequest& request, std::string& error);
  // One chunk of the result. False once the orchestrator has answered early (it
  // stopped the post: LLM-6, the job ended) or the connection broke: the job should
  // stop.
  bool send(std::string_view chunk_json);
  // Ends the post, `[DONE]` when `ok`, else the error event with `error`; then
  // reads the orchestrator's answer.
  PostOutcome finish(bool ok, std::string_view error);

 private:
  bool write(std::string_view bytes);
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  std::ostream* body_ = nullptr;
  bool broken_ = false;
  std::string broken_why_;
  double started_ms_ = 0;
};

}  // namespace aipool::net
