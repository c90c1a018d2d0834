// File: result_codec.h
// The two body forms of POST /aiResults (RES-1..RES-3, RES-6, RES-10, RES-11):
// encoding on the worker, decoding on the orchestrator. Pure functions over bytes;
// no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seams/executor.h"
#include "seams/types.h"

namespace aipool::codec {

// RES-1: the fixed Authorization header value of a result post.
inline constexpr std::string_view kResultAuthorization = "Livepeer-Transcoder-1.0";
// The header naming the task in the binary form (RES-3); also accepted with the JSON form.
inline constexpr std::string_view kTaskIdHeader = "TaskId";
// aipool extension (TASK-2): the poster's worker id as the orchestrator gave it in the
// stream's initial metadata (`aipool-worker-id`).
inline constexpr std::string_view kWorkerIdHeader = "Aipool-Worker-Id";

// RES-7: a worker error with this prefix rejects the request itself (RETRY-6).
inline constexpr std::string_view kRejectedInputPrefix = "invalid request: ";
inline bool is_rejected_input(std::string_view error) { return error.starts_with(kRejectedInputPrefix); }
// The client-facing message of such an error: the text after the prefix.
inline std::string_view rejected_input_reason(std::string_view error) {
  return is_rejected_input(error) ? error.substr(kRejectedInputPrefix.size()) : error;
}

// A result as the orchestrator's core sees it.
struct ResultPost {
  TaskId task = 0;
  bool ok = false;
  std::string error;  // worker error text when !ok
  ResultBody body;    // when ok
};

// A post's body as pieces sent one after another. File pieces share the result's
// buffers: a multipart body of megabytes is not copied to be sent.
struct EncodedPost {
  std::string content_type;
  std::vector<SharedBytes> pieces;
  std::size_t size() const;
  std::string joined() const;  // the whole body in one string
};

// RES-2: {"JobType": <int>, "TaskID": <int>, "Data": "<base64 of response_json>", "Err": "..."}.
EncodedPost encode_json_result(Pipeline pipeline, TaskId task, bool ok, std::string_view response_json,
                               std::string_view error);
// RES-3: multipart/mixed with one part per file (Content-Disposition filename) and one
// application/json part. The caller sends the TaskId header.
EncodedPost encode_multipart_result(const ResultBody& body);

// The worker's post of one job's outcome (RES-11): the binary form when `result` has
// files (RES-3), the JSON form otherwise (RES-2). A success without response JSON
// becomes the worker error `executor returned no response JSON`. A post of more than
// `max_bytes` is not made: `result` becomes the worker error
// `output of N bytes is larger than the limit of M bytes` (N the size of the post
// it would have been) and the post of that error is returned instead. Either way
// `result` then says what is posted. REQUIRES: max_bytes >= 4096 (an error post fits).
EncodedPost encode_worker_result(Pipeline pipeline, TaskId task, ExecResult& result, std::size_t max_bytes);

struct DecodeFailure {
  std::optional<TaskId> task;  // set when the task could be identified (RES-6)
  std::string message;         // what is wrong, for the 400 answer
};

// Decodes a post of either form. `task_header` is the TaskId header if present.
// On failure the message says what is wrong; `task` is set when known. The JSON
// form's `TaskID` must be a JSON integer read as RES-10 says (a string such as "12",
// a fraction, a sign or a value out of range is refused), and equal to the header's
// when both are given; otherwise no task is identified (RES-6).
struct DecodeResult {
  std::optional<ResultPost> post;
  DecodeFailure failure;
};
// The files of a decoded multipart post are ranges of `body` (no copy).
DecodeResult decode_result(std::string_view content_type, std::optional<std::string_view> task_header,
                           const Payload& body);
// The same for a body not yet shared; it is copied first.
DecodeResult decode_result(std::string_view content_type, std::optional<std::string_view> task_header,
                           std::string_view body);

// RES-10: a TaskID written in decimal digits only (no sign, no point, no exponent),
// from 1 to 2^63 - 1, surrounding spaces and tabs ignored; read exactly. nullopt on
// anything else (empty, `12abc`, `-1`, `0`, `+1`, `1.0`, 2^63 and above).
std::optional<TaskId> parse_task_id(std::string_view text);

}  // namespace aipool::codec
