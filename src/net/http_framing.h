// File: http_framing.h
// The pure part of reading one request on the HTTP server (http_server.h): the
// parser's limits, the check of a declared body length, what a failed read means,
// and the HttpRequest handed to the handler. No sockets, clocks or budgets: the
// connection (http_connection.cc) drives these over the bytes it receives, and the
// fuzz target tests/fuzz/http_request_fuzz.cc over raw bytes.
//
// Contract: pure functions; thread-safe.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/http_server.h"

namespace aipool::net {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;
using RequestMessage = boost::beast::http::request<boost::beast::http::string_body>;

// Sets the server's header and body limits on a new parser (HTTP-2).
void limit_parser(RequestParser& parser, const HttpServerConfig& config);

// The target without its query.
std::string_view target_path(std::string_view target);

// HTTP-2: the declared Content-Length when it is above the request limit (413
// before the body is read); nullopt when it fits or no length is declared.
std::optional<std::uint64_t> declared_body_over_limit(const RequestParser& parser, const HttpServerConfig& config);

// What a failed read (other than a deadline) does to the connection (HTTP-2).
enum class ReadFailure {
  kClose,          // the client left or broke the stream: close without an answer
  kHeaderTooLarge,  // 431
  kBodyTooLarge,    // 413 (Beast checked a declared length with the headers)
  kMalformed,       // 400: anything Beast's parser refuses
};
ReadFailure read_failure_of(const boost::system::error_code& ec);

// The request as the handler sees it; moves the message's body.
HttpRequest request_of(RequestMessage& message, std::string peer);

}  // namespace aipool::net
