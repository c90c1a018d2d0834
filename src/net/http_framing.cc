#include "net/http_framing.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <utility>

namespace aipool::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;

void limit_parser(RequestParser& parser, const HttpServerConfig& config) {
  parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
  parser.body_limit(config.max_body_bytes);
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

// g++ 12 at -O1 (the sanitizer builds) takes the empty boost::optional that Beast
// returns for "no Content-Length" for an uninitialized read once this is inlined (a
// false positive: the value is read only when set); the warning is off for this
// function alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
std::optional<std::uint64_t> declared_body_over_limit(const RequestParser& parser, const HttpServerConfig& config) {
  const boost::optional<std::uint64_t> length = parser.content_length();
  if (!length || *length <= config.max_body_bytes) return std::nullopt;
  return *length;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

ReadFailure read_failure_of(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == http::error::partial_message) {
    return ReadFailure::kClose;
  }
  if (ec == http::error::header_limit) return ReadFailure::kHeaderTooLarge;
  if (ec == http::error::body_limit) return ReadFailure::kBodyTooLarge;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return ReadFailure::kMalformed;
  return ReadFailure::kClose;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

HttpRequest request_of(RequestMessage& message, std::string peer) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.path = std::string(target_path(request.target));
  request.headers.reserve(8);
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.peer = std::move(peer);
  return request;
}

}  // namespace aipool::net
