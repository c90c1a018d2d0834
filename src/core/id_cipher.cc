#include "core/id_cipher.h"

#include "core/check.h"

namespace aipool {
namespace {

constexpr std::uint32_t kRounds = 4;
constexpr std::uint64_t kMask31 = (std::uint64_t{1} << 31) - 1;
constexpr std::uint64_t kMask32 = (std::uint64_t{1} << 32) - 1;

// The width of the half a round changes: 31 bits in even rounds, 32 in odd ones.
constexpr std::uint64_t changed_mask(std::uint32_t round) { return round % 2 == 0 ? kMask31 : kMask32; }

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

// An unbalanced Feistel network over 63 bits: x = (left: 31 bits, right: 32 bits).
// Each round maps (left, right) to (right, (left ^ F(round, right)) cut to left's
// width), so the halves swap widths every round and are back to 31 and 32 after 4.
std::uint64_t IdCipher::permute(std::uint64_t x) const {
  std::uint64_t left = x >> 32;
  std::uint64_t right = x & kMask32;
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    const std::uint64_t next = (left ^ round_value(round, static_cast<std::uint32_t>(right))) & changed_mask(round);
    left = right;
    right = next;
  }
  return (left << 32) | right;
}

std::uint64_t IdCipher::unpermute(std::uint64_t y) const {
  std::uint64_t left = y >> 32;
  std::uint64_t right = y & kMask32;
  for (std::uint32_t round = kRounds; round-- > 0;) {
    const std::uint64_t previous = (right ^ round_value(round, static_cast<std::uint32_t>(left))) & changed_mask(round);
    right = left;
    left = previous;
  }
  return (left << 32) | right;
}

// Cycle walking: the network permutes [0, 2^63); applied again while the value is
// 0, it permutes [1, 2^63). Only the one number that the network sends to 0 walks a
// second step (to the image of 0, which no other number has).
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
