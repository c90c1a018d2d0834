// File: api_response.h
// The public AI API's answers (spec/api.md): a worker's result rendered as the
// pipeline's response JSON, written in chunks as its files are encoded, and the
// error body. Pure functions: no I/O, no core calls; thread-safe.
#pragma once

#include <cstddef>
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

// Produces the body of `rendered` piece by piece, encoding files as it goes, for a
// writer that asks for the next piece when the last one is on the wire. `rendered`
// must outlive the cursor. Not thread-safe.
class RenderedCursor {
 public:
  RenderedCursor(const RenderedResponse& rendered, std::size_t chunk_bytes);
  // Appends the next piece (about chunk_bytes, at least 4 KiB, except the last) to
  // `out`; false, with nothing appended, once the whole body has been produced.
  bool next(std::string& out);

 private:
  const RenderedResponse* rendered_;
  std::size_t chunk_bytes_;
  std::size_t part_ = 0;
  std::size_t file_at_ = 0;
  bool text_done_ = false;
};

// The same as consecutive chunks passed to `write`; the chunks joined are json().
// `write` may throw to stop.
void write_rendered(const RenderedResponse& rendered, std::size_t chunk_bytes,
                    const std::function<void(std::string_view)>& write);

// {"detail":{"msg":"..."}} (API-7).
std::string api_error_json(std::string_view message);

}  // namespace aipool::net
