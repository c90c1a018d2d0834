#include "core/siphash.h"

namespace aipool {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& key)
      : v0(0x736f6d6570736575ULL ^ key.k0),
        v1(0x646f72616e646f6dULL ^ key.k1),
        v2(0x6c7967656e657261ULL ^ key.k0),
        v3(0x7465646279746573ULL ^ key.k1) {}

  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void compress(std::uint64_t m) {  // c = 2 rounds per word
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t finish() {  // d = 4 rounds
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

std::uint64_t load_le(const unsigned char* p, std::size_t n) {
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < n; ++i) word |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return word;
}

}  // namespace

std::uint64_t siphash24(const SipKey& key, const unsigned char* data, std::size_t size) {
  SipState state(key);
  const std::size_t whole = size - size % 8;
  for (std::size_t i = 0; i < whole; i += 8) state.compress(load_le(data + i, 8));
  // The last word: the remaining bytes and, in the top byte, the length mod 256.
  state.compress((static_cast<std::uint64_t>(size) << 56) | load_le(data + whole, size % 8));
  return state.finish();
}

std::uint64_t siphash24_word(const SipKey& key, std::uint64_t word) {
  SipState state(key);
  state.compress(word);
  state.compress(std::uint64_t{8} << 56);
  return state.finish();
}

}  // namespace aipool
