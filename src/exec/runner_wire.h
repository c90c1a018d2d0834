// File: runner_wire.h
// What the external runner engine (spec/runners.md) sends to a runner and how it
// reads the answers, as pure functions: the requests of RUN-2 and RUN-6, the results
// of RUN-3 and RUN-6, the error text of RUN-4 and the readiness of RUN-5. No I/O; the
// HTTP side is runner_http.h, the engine runner_executor.h.
//
// Errors: a request that cannot be built is the job's fault and comes back as the
// worker error `invalid request: ...`; an answer that cannot be read comes back as
// text for the engine to put after `runner <url>: ` (RUN-3).
//
// Contract: pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "seams/executor.h"

namespace aipool::exec::runner {

// The server's API (an aiModels entry's `runner` field, RUN-1).
enum class Api { kAiRunner, kOpenAi };

struct Request {
  std::string path;          // after the runner's base URL, e.g. "/text-to-image"
  std::string content_type;  // "application/json" or "multipart/form-data; boundary=..."
  std::string body;
};

// RUN-2: the ai-runner request for a job of `pipeline`; or `invalid request: ...`.
std::variant<Request, std::string> ai_runner_request(Pipeline pipeline, std::string_view job_json);
// RUN-6: the OpenAI chat completion request for an llm job of `model`; or `invalid request: ...`.
std::variant<Request, std::string> openai_request(std::string_view model, std::string_view job_json);

// The result of a 200 answer, or what is wrong with it (without the `runner <url>: ` prefix).
using Answer = std::variant<ExecResult, std::string>;
// RUN-3: an ai-runner's answer for `pipeline`: data: URLs become result files.
Answer ai_runner_result(Pipeline pipeline, std::string_view answer);
// RUN-6: an OpenAI chat completion as the llm result of `model` (LLM-2).
Answer openai_result(std::string_view model, std::string_view answer);

// RUN-4: the runner's message in an error body: `detail.msg` when the body is JSON with
// one, else the body's first 256 bytes.
std::string error_message(std::string_view body);

// RUN-5: a health answer read. `state` names it for messages: OK, IDLE, LOADING,
// ERROR, "answering <status>", ...
struct Health {
  bool ready = false;
  std::string state;
};
Health ai_runner_health(int status, std::string_view body);
Health openai_health(int status);

// One line of an event stream (RUN-6, LLM-4), without its line end.
struct StreamLine {
  enum class Kind { kChunk, kDone, kOther } kind = Kind::kOther;
  std::string_view chunk;  // kChunk: the text after `data:`
};
StreamLine read_stream_line(std::string_view line);
// Whether a chunk is a JSON object, and whether its choices carry a finish_reason
// (not null): an ai-runner stream may end after such a chunk without [DONE].
bool chunk_is_object(std::string_view chunk);
bool chunk_finishes(std::string_view chunk);

}  // namespace aipool::exec::runner
