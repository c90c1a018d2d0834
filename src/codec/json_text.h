// File: json_text.h
// Writing JSON text by hand where the shape is fixed and the payloads are large
// (results, job requests): faster than building a DOM, and with exact key order.
#pragma once

#include <string>
#include <string_view>

namespace aipool::codec {

// Appends `text` as a JSON string literal (quotes included), escaping as RFC 8259 asks.
void append_json_string(std::string& out, std::string_view text);
// `text` as a JSON string literal.
std::string json_string(std::string_view text);

}  // namespace aipool::codec
