// File: id_cipher.h
// The ids the orchestrator hands out on the wire (TaskIDs, TASK-1; worker ids,
// CONN-6) are not its counters but a keyed permutation of them: a 4-round Feistel
// network over 63 bits (halves of 31 and 32 bits) whose round function is
// SipHash-2-4 (siphash.h) under a 128-bit key, cycle-walked past 0 so that ids and
// counter values both stay in [1, 2^63). Without the key an id says nothing about the counter, the ids before
// or after it, or the ids of another process with another key; with the key,
// decode() gives the counter value back, so tables stay keyed by the counter.
//
// The key comes from the Random seam (draw_id_key): OS entropy at each start in
// production, the seeded PRNG in the simulator, a fixed source in tests.
//
// Contract: immutable after construction; encode and decode are pure and
// thread-safe. Each costs 4 SipHash calls (8 for the one number that walks).
#pragma once

#include <cstdint>

#include "core/siphash.h"
#include "seams/random.h"

namespace aipool {

// A fresh 128-bit key: two draws from `random`.
SipKey draw_id_key(Random& random);

class IdCipher {
 public:
  // Ids and counter values are in [1, kLimit).
  static constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;

  explicit IdCipher(const SipKey& key) : key_(key) {}

  // The id of counter value `n`. REQUIRES: 1 <= n < kLimit (checked).
  std::uint64_t encode(std::uint64_t n) const;
  // The counter value whose id is `id`; 0 when `id` is outside [1, kLimit), which
  // no counter value has.
  std::uint64_t decode(std::uint64_t id) const;

  const SipKey& key() const { return key_; }
  // The number the network sends to 0, which encode() walks a second step (0 if
  // that number is 0 itself); for tests of that step.
  std::uint64_t walking_number_for_test() const { return unpermute(0); }

 private:
  std::uint64_t permute(std::uint64_t x) const;    // the Feistel network on [0, 2^63)
  std::uint64_t unpermute(std::uint64_t y) const;  // its inverse
  std::uint32_t round_value(std::uint32_t round, std::uint32_t half) const;

  SipKey key_;
};

}  // namespace aipool
