// File: orchestrator_stream.h
// Internal to the orchestrator node: streamed llm answers (spec/llm.md LLM-3..LLM-6).
// A client's streamed job has a ClientStream from submission to outcome; a worker's
// streamed result post (`Content-Type: text/event-stream` on /aiResults) feeds it,
// chunk by chunk, through a reader of the post's body.
//
// Threads: a ClientStream's fields are guarded by its own mutex. Lock order: the
// core's mutex, then a stream's mutex, never the other way. The post's reader runs
// on the post connection's thread; what must reach it from elsewhere (the job ended,
// the client left) is posted to that thread.
// Errors: the client's stream ends with an error event; the worker's post is
// answered with the status the spec names (400, 409, 499) and closed.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/broker.h"
#include "net/http_server.h"
#include "net/orchestrator_node.h"

namespace aipool::net {

class StreamPostReader;

struct ClientStream {
  std::mutex mutex;
  std::shared_ptr<HttpExchange> client;
  bool started = false;  // the client's head has been written (with the first chunk)
  bool ended = false;    // the job has its outcome: nothing more is written
  std::weak_ptr<StreamPostReader> post;  // the worker's post feeding it, while open
};

// True for a result post whose body streams (LLM-4): /aiResults, text/event-stream.
bool is_stream_post(const HttpRequest& head);

// A streamed result post's head, from the HTTP handler: judged (LLM-5), then read.
void handle_stream_post(const std::shared_ptr<OrchestratorNode::Shared>& shared, HttpRequest& head,
                        const std::shared_ptr<HttpExchange>& exchange);

// The outcome of a streamed job, called under the core's mutex from the job's
// callback: ends the client's stream (`[DONE]`, or an error event), or answers it
// as any job when no chunk was written; stops a post still feeding it. `answer`
// is the outcome's ordinary answer, used when no chunk was written and it failed.
void end_client_stream(const std::shared_ptr<ClientStream>& stream, const JobOutcome& outcome, HttpResponse answer);

}  // namespace aipool::net
