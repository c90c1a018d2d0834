#include "net/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace aipool::net {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr std::array<std::int8_t, 256> kDecode = make_decode_table();

// Each 12-bit value as its two output characters.
struct PairTable {
  std::array<char, 2 * 4096> chars{};
  constexpr PairTable() {
    for (int v = 0; v < 4096; ++v) {
      chars[2 * v] = kAlphabet[v >> 6];
      chars[2 * v + 1] = kAlphabet[v & 63];
    }
  }
};
constexpr PairTable kPairs{};

void encode_into(char* o, std::string_view bytes) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const char* pairs = kPairs.chars.data();
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    std::memcpy(o, pairs + 2 * (v >> 12), 2);
    std::memcpy(o + 2, pairs + 2 * (v & 0xFFF), 2);
    o += 4;
  }
  const std::size_t rest = bytes.size() - i;
  if (rest != 0) {
    std::uint32_t v = std::uint32_t{in[i]} << 16;
    if (rest == 2) v |= std::uint32_t{in[i + 1]} << 8;
    *o++ = kAlphabet[(v >> 18) & 63];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

std::size_t encoded_size(std::size_t n) { return (n + 2) / 3 * 4; }

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.resize(encoded_size(bytes.size()));
  encode_into(out.data(), bytes);
  return out;
}

void base64_encode_append(std::string& out, std::string_view bytes) {
  const std::size_t at = out.size();
  out.resize(at + encoded_size(bytes.size()));
  encode_into(out.data() + at, bytes);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  std::string out;
  out.resize(text.size() / 4 * 3 - pad);
  char* o = out.data();
  const std::size_t full = pad == 0 ? text.size() : text.size() - 4;
  for (std::size_t i = 0; i < full; i += 4) {
    const int a = kDecode[static_cast<unsigned char>(text[i])];
    const int b = kDecode[static_cast<unsigned char>(text[i + 1])];
    const int c = kDecode[static_cast<unsigned char>(text[i + 2])];
    const int d = kDecode[static_cast<unsigned char>(text[i + 3])];
    if ((a | b | c | d) < 0) return std::nullopt;
    const std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6) | std::uint32_t(d);
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8);
    *o++ = static_cast<char>(v);
  }
  if (pad != 0) {
    const std::size_t i = full;
    const int a = kDecode[static_cast<unsigned char>(text[i])];
    const int b = kDecode[static_cast<unsigned char>(text[i + 1])];
    const int c = pad == 1 ? kDecode[static_cast<unsigned char>(text[i + 2])] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6);
    // Bits below the last output byte must be zero (canonical form).
    if (pad == 2 && (v & 0xFFFF) != 0) return std::nullopt;
    if (pad == 1 && (v & 0xFF) != 0) return std::nullopt;
    *o++ = static_cast<char>(v >> 16);
    if (pad == 1) *o++ = static_cast<char>(v >> 8);
  }
  return out;
}

}  // namespace aipool::net
