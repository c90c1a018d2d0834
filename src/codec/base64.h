// File: base64.h
// Standard base64 (RFC 4648, with padding) for inline inputs (WIRE-4), the JSON
// result form (RES-2) and data: URLs. Table-driven, no allocation beyond the output.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aipool::codec {

std::string base64_encode(std::string_view bytes);
// Appends the encoding of `bytes` to `out` (no temporary; for data: URLs of large
// outputs). 24 bytes per step with AVX2 where the CPU has it, else two output
// characters per table look-up.
// `simd` false: the portable code only (for tests on machines with AVX2).
void base64_encode_append(std::string& out, std::string_view bytes, bool simd = true);
// nullopt when `text` is not valid base64 (wrong length, bad character, bad padding).
// Whitespace is not accepted. 32 characters per step with AVX2 where the CPU has
// it; `simd` false: the portable code only (tests compare the two).
std::optional<std::string> base64_decode(std::string_view text, bool simd = true);
// Appends the decoding of `text` to `out` (no temporary: for a large file decoded
// straight into a request body); false, and `out` as it was, when it is not valid.
bool base64_decode_append(std::string& out, std::string_view text);

}  // namespace aipool::codec
