// Fuzz target: the HTTP request path of the orchestrator up to the API request.
// Raw bytes as a client sends them on one connection -> Beast's request parser
// with the server's header and body limits (http_framing.h) -> the framing checks
// and the HttpRequest the handler gets -> the route's own parsing: a pipeline's
// API request (parse_api_request) or a worker's result post (decode_result). Up
// to four pipelined requests are read, as a kept-alive connection would.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codec/result_codec.h"
#include "net/api_request.h"
#include "net/http_framing.h"
#include "fuzz_input.h"

namespace aipool::net {
namespace {

namespace http = boost::beast::http;
using error_code = boost::system::error_code;
using fuzz::fuzz_check;

const HttpServerConfig kConfig{};

// What the orchestrator's handler would do with the request (orchestrator_http.cc).
void route(HttpRequest& request) {
  fuzz_check(request.path == target_path(request.target));
  if (request.path == "/aiResults") {
    if (const auto worker = request.header(codec::kWorkerIdHeader)) codec::parse_task_id(*worker);
    codec::decode_result(request.header("Content-Type").value_or(""), request.header(codec::kTaskIdHeader),
                         std::string_view(request.body));
    return;
  }
  if (request.path.size() < 2) return;
  const std::optional<Pipeline> pipeline = pipeline_from_name(std::string_view(request.path).substr(1));
  if (!pipeline) return;
  const ModelLister models = [](Pipeline) { return std::vector<std::string>{"fuzz-model"}; };
  const ParsedApiRequest parsed =
      parse_api_request(*pipeline, request.header("Content-Type").value_or(""), request.body, models);
  fuzz_check(parsed.ok ? parsed.job.job_json != nullptr : parsed.error.status >= 400);
}

// Puts the buffered bytes into the parser until `done` holds, as Beast's read
// algorithms do; where they would read the socket again, the stream ends (there
// are no more bytes). False on an error, left in `ec`.
template <typename Done>
bool feed(RequestParser& parser, boost::beast::flat_buffer& buffer, Done done, error_code& ec) {
  while (!done()) {
    std::size_t used = 0;
    if (buffer.size() > 0) {
      used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != http::error::need_more) return false;
      ec = {};
    }
    if (used > 0) continue;
    if (parser.got_some()) {
      parser.put_eof(ec);
    } else {
      ec = http::error::end_of_stream;
    }
    return !ec && done();
  }
  return true;
}

// One request from the buffer; false when the connection would be closed.
bool read_one(boost::beast::flat_buffer& buffer) {
  RequestParser parser;
  limit_parser(parser, kConfig);
  error_code ec;
  if (!feed(parser, buffer, [&] { return parser.is_header_done(); }, ec)) {
    read_failure_of(ec);
    return false;
  }
  if (declared_body_over_limit(parser, kConfig)) return false;  // 413
  if (!feed(parser, buffer, [&] { return parser.is_done(); }, ec)) {
    read_failure_of(ec);
    return false;
  }
  const bool keep_alive = parser.keep_alive();
  RequestMessage message = parser.release();
  HttpRequest request = request_of(message, "fuzz");
  route(request);
  return keep_alive;
}

}  // namespace
}  // namespace aipool::net

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::beast::flat_buffer buffer;
  if (size > 0) {
    const auto space = buffer.prepare(size);
    std::memcpy(space.data(), data, size);
    buffer.commit(size);
  }
  for (int i = 0; i < 4 && buffer.size() > 0; ++i) {
    if (!aipool::net::read_one(buffer)) break;
  }
  return 0;
}
