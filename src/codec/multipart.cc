#include "codec/multipart.h"

#include <charconv>
#include <system_error>

#include "codec/text.h"

namespace aipool::codec {
namespace {

// A header's optional white space, and the CR a line split at LF leaves behind.
std::string_view header_trim(std::string_view s) { return codec::trim(s, kHeaderSpace); }

}  // namespace

std::string media_type(std::string_view content_type) {
  return ascii_lower(header_trim(content_type.substr(0, content_type.find(';'))));
}

std::optional<std::string> header_param(std::string_view header, std::string_view name) {
  std::size_t pos = header.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = header.substr(pos + 1);
    std::size_t next = std::string_view::npos;
    // A quoted value may contain ';'.
    bool quoted = false;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '"') quoted = !quoted;
      if (rest[i] == ';' && !quoted) {
        next = i;
        break;
      }
    }
    std::string_view item = header_trim(rest.substr(0, next));
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos && ascii_lower(header_trim(item.substr(0, eq))) == name) {
      std::string_view value = header_trim(item.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    pos = next == std::string_view::npos ? next : pos + 1 + next;
  }
  return std::nullopt;
}

MultipartResult parse_multipart(std::string_view body, std::string_view boundary) {
  MultipartResult result;
  if (boundary.empty() || boundary.size() > 200) {
    result.error = "multipart boundary is missing or too long";
    return result;
  }
  const std::string delimiter = "--" + std::string(boundary);
  const std::string separator = "\r\n" + delimiter;
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) {
    result.error = "multipart body has no part";
    return result;
  }
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return result;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") {
      result.error = "malformed multipart delimiter line";
      return result;
    }
    pos += 2;
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    const bool no_headers = body.substr(pos, 2) == "\r\n";
    if (headers_end == std::string_view::npos && !no_headers) {
      result.error = "multipart part without the blank line after its headers";
      return result;
    }
    std::string_view headers = no_headers ? std::string_view{} : body.substr(pos, headers_end - pos);
    const std::size_t content_start = no_headers ? pos + 2 : headers_end + 4;
    MultipartPart part;
    std::optional<std::size_t> declared_length;
    while (!headers.empty()) {
      const std::size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string header = ascii_lower(header_trim(line.substr(0, colon)));
      const std::string_view value = header_trim(line.substr(colon + 1));
      if (header == "content-type") part.content_type = std::string(value);
      if (header == "content-disposition") {
        part.disposition = std::string(value);
        part.name = header_param(value, "name");
        part.filename = header_param(value, "filename");
      }
      if (header == "content-length") {
        std::size_t length = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (ec == std::errc() && end == value.data() + value.size() && !value.empty()) declared_length = length;
      }
    }
    // A declared length that ends at a delimiter is taken without scanning the
    // content (a file of megabytes); otherwise the content ends at the first one.
    std::size_t next = std::string_view::npos;
    if (declared_length && content_start <= body.size() && *declared_length <= body.size() - content_start &&
        body.substr(content_start + *declared_length, separator.size()) == separator) {
      next = content_start + *declared_length;
    } else {
      next = body.find(separator, content_start);
    }
    if (next == std::string_view::npos) {
      result.error = "multipart body is truncated (no closing boundary)";
      return result;
    }
    part.content = body.substr(content_start, next - content_start);
    result.parts.push_back(std::move(part));
    pos = next + 2;
  }
}

}  // namespace aipool::codec
