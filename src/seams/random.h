// File: random.h
// Seam: randomness. The core draws none of its own (DET-1); where a decision needs
// chance (the worker's reconnect jitter, RECON-1) it takes this interface. The
// simulator binds it to its own fixed, documented PRNG so that a seed replays bit
// for bit on every compiler; production binds it to the OS entropy source.
//
// Contract: next_u64() returns 64 uniformly distributed bits. Not thread-safe
// unless the implementation says so.
#pragma once

#include <cstdint>

namespace aipool {

class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next_u64() = 0;
};

// A uniform value in [0, bound), bound > 0, without modulo bias (Lemire's
// multiply-and-reject method, integer only, so it replays across compilers).
// `Generator` is Random or a final class derived from it, whose next_u64() the
// compiler can then call directly.
template <typename Generator>
inline std::uint64_t uniform_below_from(Generator& random, std::uint64_t bound) {
  std::uint64_t x = random.next_u64();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      x = random.next_u64();
      m = static_cast<unsigned __int128>(x) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

inline std::uint64_t uniform_below(Random& random, std::uint64_t bound) {
  return uniform_below_from(random, bound);
}

}  // namespace aipool
