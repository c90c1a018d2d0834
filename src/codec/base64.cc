#include "codec/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace aipool::codec {
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

#if defined(__x86_64__) && defined(__GNUC__)
// 24 input bytes to 32 characters per step with AVX2 (W. Mula and D. Lemire, "Faster
// Base64 Encoding and Decoding Using AVX2 Instructions", 2018). Returns the bytes it
// consumed: a multiple of 24, leaving at least 4 unread (the loads read 28).
__attribute__((target("avx2"))) std::size_t encode_avx2(char* out, const unsigned char* in, std::size_t n) {
  // Per 128-bit lane: groups of 3 bytes (b0 b1 b2) as 32-bit words b1 b0 b2 b1.
  const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                          1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  // 0..25 -> 'A', 26..51 -> 'a', 52..61 -> '0', 62 -> '+', 63 -> '/', as offsets.
  const __m256i offsets = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
                                           'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
  std::size_t i = 0;
  for (; i + 28 <= n; i += 24) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 12));
    const __m256i words = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread);
    // The four 6-bit fields of each word, one per byte, in output order.
    const __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(words, _mm256_set1_epi32(0x0fc0fc00)),
                                          _mm256_set1_epi32(0x04000040));
    const __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(words, _mm256_set1_epi32(0x003f03f0)),
                                          _mm256_set1_epi32(0x01000010));
    const __m256i indices = _mm256_or_si256(ac, bd);
    __m256i lut_index = _mm256_subs_epu8(indices, _mm256_set1_epi8(51));
    const __m256i below_26 = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), indices);
    lut_index = _mm256_or_si256(lut_index, _mm256_and_si256(below_26, _mm256_set1_epi8(13)));
    const __m256i chars = _mm256_add_epi8(_mm256_shuffle_epi8(offsets, lut_index), indices);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i / 3 * 4), chars);
  }
  return i;
}

// 32 characters to 24 bytes per step with AVX2 (the same paper). Each character is
// classified by its two nibbles: `lut_lo` and `lut_hi` give bit sets whose AND is
// non-zero exactly for a byte outside the alphabet (bytes >= 0x80 included), and
// `lut_roll` the offset that turns a valid character into its 6-bit value. Stops at
// the first block holding a byte outside the alphabet, or when fewer than 32 + 12
// characters are left (the store writes 32 bytes, 8 beyond the block's 24), and
// returns the characters it consumed (a multiple of 32); the caller decodes the rest.
__attribute__((target("avx2"))) std::size_t decode_avx2(char* out, const char* in, std::size_t n) {
  const __m256i lut_lo = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
                                          0x1B, 0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                          0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
  const __m256i lut_hi = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
  const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
                                            -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i slash = _mm256_set1_epi8(0x2F);
  // Four 6-bit values a b c d per 32-bit word become the 3 bytes of (a<<18|b<<12|c<<6|d),
  // big-endian, packed to 12 bytes per lane, then the two lanes to 24 bytes.
  const __m256i pack_bytes = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6,
                                              5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i pack_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
  std::size_t i = 0;
  for (; i + 32 + 12 <= n; i += 32) {
    const __m256i text = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    // slash masks out bit 7 (so pshufb never zeroes) and keeps the nibble; bit 5 is ignored by pshufb.
    const __m256i hi_nibbles = _mm256_and_si256(_mm256_srli_epi32(text, 4), slash);
    const __m256i lo_nibbles = _mm256_and_si256(text, slash);
    const __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nibbles);
    const __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nibbles);
    if (!_mm256_testz_si256(lo, hi)) break;
    const __m256i is_slash = _mm256_cmpeq_epi8(text, slash);
    const __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(is_slash, hi_nibbles));
    const __m256i values = _mm256_add_epi8(text, roll);
    const __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
    const __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, pack_bytes), pack_lanes);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i / 4 * 3), packed);
  }
  return i;
}

bool have_avx2() {
  __builtin_cpu_init();  // may run before libgcc's own initialisation
  return __builtin_cpu_supports("avx2");
}
const bool kHaveAvx2 = have_avx2();
#endif

void encode_into(char* o, std::string_view bytes, bool simd) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const char* pairs = kPairs.chars.data();
  std::size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (simd && kHaveAvx2 && bytes.size() >= 28) {
    i = encode_avx2(o, in, bytes.size());
    o += i / 3 * 4;
  }
#endif
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
  encode_into(out.data(), bytes, true);
  return out;
}

void base64_encode_append(std::string& out, std::string_view bytes, bool simd) {
  // resize() zero-fills what it adds. Growing by one cache-sized step at a time
  // lets the encoder overwrite those zeros while they are still in cache, instead
  // of a separate pass over megabytes of memory.
  constexpr std::size_t kStepBytes = 48 * 1024;  // a multiple of 3: no padding inside
  out.reserve(out.size() + encoded_size(bytes.size()));
  while (!bytes.empty()) {
    const std::string_view step = bytes.substr(0, kStepBytes);
    const std::size_t at = out.size();
    out.resize(at + encoded_size(step.size()));
    encode_into(out.data() + at, step, simd);
    bytes.remove_prefix(step.size());
  }
}

namespace {

// The decoded size of `text`; nullopt when its length or padding is wrong.
std::optional<std::size_t> decoded_size(std::string_view text, std::size_t& pad) {
  if (text.size() % 4 != 0) return std::nullopt;
  pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  return text.size() / 4 * 3 - pad;
}

// Decodes `text` (whose padding is `pad`) into `o`, which has room for its decoded size.
bool decode_into(char* o, std::string_view text, std::size_t pad, bool simd) {
  const std::size_t full = pad == 0 ? text.size() : text.size() - 4;
  std::size_t start = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  // The block loop leaves at least 12 characters, so its last store stays inside the output.
  if (simd && kHaveAvx2) {
    start = decode_avx2(o, text.data(), full);
    o += start / 4 * 3;
  }
#else
  (void)simd;
#endif
  for (std::size_t i = start; i < full; i += 4) {
    const int a = kDecode[static_cast<unsigned char>(text[i])];
    const int b = kDecode[static_cast<unsigned char>(text[i + 1])];
    const int c = kDecode[static_cast<unsigned char>(text[i + 2])];
    const int d = kDecode[static_cast<unsigned char>(text[i + 3])];
    if ((a | b | c | d) < 0) return false;
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
    if ((a | b | c) < 0) return false;
    const std::uint32_t v = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6);
    // Bits below the last output byte must be zero (canonical form).
    if (pad == 2 && (v & 0xFFFF) != 0) return false;
    if (pad == 1 && (v & 0xFF) != 0) return false;
    *o++ = static_cast<char>(v >> 16);
    if (pad == 1) *o++ = static_cast<char>(v >> 8);
  }
  return true;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view text, bool simd) {
  std::size_t pad = 0;
  const std::optional<std::size_t> size = decoded_size(text, pad);
  if (!size) return std::nullopt;
  std::string out;
  out.resize(*size);
  if (!decode_into(out.data(), text, pad, simd)) return std::nullopt;
  return out;
}

bool base64_decode_append(std::string& out, std::string_view text) {
  std::size_t pad = 0;
  const std::optional<std::size_t> size = decoded_size(text, pad);
  if (!size) return false;
  const std::size_t at = out.size();
  out.resize(at + *size);
  if (decode_into(out.data() + at, text, pad, true)) return true;
  out.resize(at);
  return false;
}

}  // namespace aipool::codec
