// Fuzz target: base64 (base64.h), which reads inline inputs (WIRE-4) and the JSON
// result form (RES-2). The input is decoded as base64 text and encoded as bytes;
// checked: decoding accepts only the canonical form (what it accepts encodes back
// to the same text), encoding round-trips, and the AVX2 and portable encoders and decoders agree.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "codec/base64.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<std::string> portable_decoded = codec::base64_decode(bytes, false);
  fuzz::fuzz_check(codec::base64_decode(bytes) == portable_decoded);
  if (const std::optional<std::string>& decoded = portable_decoded) {
    fuzz::fuzz_check(codec::base64_encode(*decoded) == bytes);
  }
  const std::string encoded = codec::base64_encode(bytes);
  std::string portable = "x";
  codec::base64_encode_append(portable, bytes, false);
  fuzz::fuzz_check(portable.substr(1) == encoded);
  const std::optional<std::string> back = codec::base64_decode(encoded);
  fuzz::fuzz_check(back.has_value() && *back == bytes);
  return 0;
}
