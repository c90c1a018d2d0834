// File: multipart.h
// A strict, zero-copy reader of MIME multipart bodies (multipart/mixed for results,
// RES-3; multipart/form-data for the public API) and the header helpers it needs.
// Parts are views into the body: keep the body alive while using them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aipool::codec {

struct MultipartPart {
  std::string content_type;          // as sent, may be empty
  std::string disposition;           // the Content-Disposition value, may be empty
  std::optional<std::string> name;      // form-data field name
  std::optional<std::string> filename;  // attachment or form-data file name
  std::string_view content;
};

struct MultipartResult {
  std::vector<MultipartPart> parts;
  std::string error;  // empty on success; otherwise what is wrong
};

// Splits `body` on `boundary` (without the leading dashes). A part's content ends
// at the first delimiter after it, or, when the part has a Content-Length header
// whose length ends exactly at a delimiter, at that length: its content is then not
// scanned (a result file of megabytes, RES-3).
MultipartResult parse_multipart(std::string_view body, std::string_view boundary);

// The media type of a Content-Type value, lower-cased and without parameters.
std::string media_type(std::string_view content_type);
// The value of a header parameter, e.g. header_param("multipart/mixed; boundary=x", "boundary").
std::optional<std::string> header_param(std::string_view header, std::string_view name);

// The white space trimmed around header names, values and parameters: spaces, tabs
// and the carriage return that a line split at LF leaves behind.
inline constexpr std::string_view kHeaderSpace = " \t\r";

}  // namespace aipool::codec
