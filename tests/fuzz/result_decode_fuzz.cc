// Fuzz target: the orchestrator's decoder of a worker's result post, both body
// forms (decode_result: RES-2 JSON, RES-3 multipart/mixed, RES-6, RES-10), and the
// rendering of a decoded result as each pipeline's API answer (API-6).
// Input: the Content-Type line, the TaskId header line (an empty line: no header),
// then the body.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "codec/result_codec.h"
#include "fuzz_input.h"
#include "net/api_response.h"

namespace {

using namespace aipool;

// Renders the result as every pipeline would, whole and in small pieces; the
// pieces joined must be the whole.
void render_all(const ResultBody& body) {
  for (int p = 0; p < kPipelineCount; ++p) {
    const net::RenderedResponse rendered = net::render_api_response(static_cast<Pipeline>(p), body);
    if (!rendered.ok) {
      fuzz::fuzz_check(rendered.error.status >= 400);
      continue;
    }
    const std::string whole = rendered.json();
    fuzz::fuzz_check(whole.size() == rendered.size());
    std::string pieces;
    net::RenderedCursor cursor(rendered, 1);
    while (cursor.next(pieces)) {
    }
    fuzz::fuzz_check(pieces == whole);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input(data, size);
  const std::string_view content_type = input.line();
  const std::string_view task_line = input.line();
  const std::optional<std::string_view> task_header =
      task_line.empty() ? std::nullopt : std::optional<std::string_view>(task_line);
  const codec::DecodeResult decoded = codec::decode_result(content_type, task_header, input.rest());
  if (!decoded.post) {
    fuzz::fuzz_check(!decoded.failure.message.empty());
    return 0;
  }
  fuzz::fuzz_check(decoded.post->task > 0);
  if (decoded.post->ok) render_all(decoded.post->body);
  return 0;
}
