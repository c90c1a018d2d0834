#include "core/id_cipher.h"

#include "core/check.h"

namespace aipool {
namespace {

constexpr std::uint32_t kRounds = 4;

bool in_range(std::uint64_t x) { return x != 0 && x < IdCipher::kLimit; }

}  // namespace

SipKey draw_id_key(Random& random) {
  SipKey key;
  key.k0 = random.next_u64();
  key.k1 = random.next_u64();
  return key;
}

std::uint32_t IdCipher::round_value(std::uint32_t round, std::uint32_t half) const {
  return static_cast<std::uint32_t>(siphash24_word(key_, (static_cast<std::uint64_t>(round) << 32) | half));
}

// Each round maps (left, right) to (right, left ^ F(round, right)).
std::uint64_t IdCipher::permute(std::uint64_t x) const {
  auto left = static_cast<std::uint32_t>(x >> 32);
  auto right = static_cast<std::uint32_t>(x);
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    const std::uint32_t next = left ^ round_value(round, right);
    left = right;
    right = next;
  }
  return (static_cast<std::uint64_t>(left) << 32) | right;
}

std::uint64_t IdCipher::unpermute(std::uint64_t y) const {
  auto left = static_cast<std::uint32_t>(y >> 32);
  auto right = static_cast<std::uint32_t>(y);
  for (std::uint32_t round = kRounds; round-- > 0;) {
    const std::uint32_t previous = right ^ round_value(round, left);
    right = left;
    left = previous;
  }
  return (static_cast<std::uint64_t>(left) << 32) | right;
}

// Cycle walking: a permutation of all 64-bit values, applied again until the
// value lands in [1, 2^63), is a permutation of [1, 2^63). The walk from a value in
// range ends because its cycle holds a value in range (itself); half of all values
// are in range, so a walk takes 2 steps on average.
std::uint64_t IdCipher::encode(std::uint64_t n) const {
  AIPOOL_CHECK(in_range(n), "id cipher: counter value out of range");
  std::uint64_t id = permute(n);
  while (!in_range(id)) id = permute(id);
  return id;
}

std::uint64_t IdCipher::decode(std::uint64_t id) const {
  if (!in_range(id)) return 0;
  std::uint64_t n = unpermute(id);
  while (!in_range(n)) n = unpermute(n);
  return n;
}

}  // namespace aipool
