// File: api_request.h
// The public AI API's request validation (RETRY-5: before any dispatch) and
// response rendering, per pipeline, with go-livepeer's paths, field names and
// defaults (spec/api.md). Pure functions: no I/O, no core calls.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "seams/types.h"

namespace aipool::net {

// An error for the client: HTTP status and the text of {"detail":{"msg":...}}.
struct ApiError {
  int status = 400;
  std::string message;
};

struct ApiJob {
  Key key;
  Payload job_json;  // the NotifyAIJob data (WIRE-4)
};

// The models offered now for a pipeline, to resolve a request without model_id.
using ModelLister = std::function<std::vector<std::string>(Pipeline)>;

struct ParsedApiRequest {
  bool ok = false;
  ApiJob job;
  ApiError error;
};

// The default of `max_pixels` (4096 x 4096, the orchestrator's -maxPixels).
constexpr std::uint64_t kDefaultMaxPixels = std::uint64_t{4096} * 4096;

// API-2..API-5: validates a request body for `pipeline` and builds the job's JSON.
// API-12: an `image` file must be a whole PNG or JPEG (checked from its header and
// structure, not decoded: 400 with the reason) of at most `max_pixels` pixels (413).
ParsedApiRequest parse_api_request(Pipeline pipeline, std::string_view content_type,
                                   std::string_view body, const ModelLister& models,
                                   std::uint64_t max_pixels = kDefaultMaxPixels);

// One piece of a response body: `text` as it is, then `file` (if any) as base64,
// the payload of a data: URL. Files stay shared, not encoded, until the body is
// written, so that a large answer is sent while it is being encoded.
struct ResponsePart {
  std::string text;
  SharedBytes file;
};

struct RenderedResponse {
  bool ok = false;
  std::vector<ResponsePart> parts;  // the client's response body when ok
  ApiError error;                   // 502 when the worker's result is malformed
  std::size_t size() const;         // the body's length in bytes
  std::string json() const;         // the body in one string
};
// API-6: turns a worker's result into the pipeline's response JSON: image URLs that
// name a result file become data: URLs; every image item has url, seed and nsfw.
RenderedResponse render_api_response(Pipeline pipeline, const ResultBody& result);

// Produces the body of `rendered` as consecutive chunks of about `chunk_bytes`
// (at least 4 KiB) passed to `write`, encoding files as it goes; the chunks joined
// are json(). `write` may throw to stop.
void write_rendered(const RenderedResponse& rendered, std::size_t chunk_bytes,
                    const std::function<void(std::string_view)>& write);

// {"detail":{"msg":"..."}} (API-7).
std::string api_error_json(std::string_view message);

}  // namespace aipool::net
