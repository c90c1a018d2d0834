// File: text.h
// The small ASCII text helpers every codec and both nodes use: trimming and
// lower-casing. Bytes outside ASCII pass through unchanged.
//
// Contract: pure functions, thread-safe; a returned view points into the argument.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aipool::codec {

// The character sets callers trim.
inline constexpr std::string_view kBlank = " \t";                // spaces and tabs
inline constexpr std::string_view kJsonSpace = " \t\r\n";        // RFC 8259's white space
inline constexpr std::string_view kAsciiSpace = " \t\r\n\f\v";  // C's isspace in the "C" locale

// `text` without leading and trailing characters from `chars`.
std::string_view trim(std::string_view text, std::string_view chars = kAsciiSpace);

// `text` with A-Z turned to a-z.
std::string ascii_lower(std::string_view text);

// The characters of UTF-8 text: its bytes that do not continue a multi-byte one.
std::size_t utf8_characters(std::string_view text);

// `text` made safe for one log line (LOG-1): a backslash becomes `\\`, control
// bytes and DEL become `\n`, `\r`, `\t` or `\xHH`, so a string from a request
// or a worker can never start a line of its own. Beyond `max_bytes` of input the
// rest is cut and `...(N bytes)` names the whole length.
std::string log_safe(std::string_view text, std::size_t max_bytes = 256);

}  // namespace aipool::codec
