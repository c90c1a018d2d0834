// File: prng.h
// The simulator's own pseudo-random generator. A run is a pure function of its
// seed on every compiler and standard library, so nothing here uses <random>'s
// engines or distributions, std::shuffle or floating point.
//
// Algorithm (fixed; changing it changes every seed's run):
//  - Seeding: splitmix64 (Steele, Lea, Flood 2014; constants 0x9E3779B97F4A7C15,
//    0xBF58476D1CE4E5B9, 0x94D049BB133111EB, shifts 30/27/31) run four times from
//    the 64-bit seed gives the four state words.
//  - Output: xoshiro256** 1.0 (Blackman, Vigna 2018): result = rotl(s1 * 5, 7) * 9,
//    then t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45).
//  - uniform(n): Lemire's multiply-and-reject (aipool::uniform_below), no modulo bias.
//  - shuffle: Fisher-Yates from the back, swapping i with uniform(i + 1).
//  - split(): a child generator seeded with the parent's next output; each
//    simulated component (workload, each worker, transport, faults) owns one, so
//    adding draws to one component does not shift another's.
//
// Contract: single-threaded value type. Golden outputs are pinned by
// tests/property/sim_prng_test.cc.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "seams/random.h"

namespace aipool::sim {

// A probability as an integer fraction num/den (TigerBeetle's Ratio): no floats.
struct Ratio {
  std::uint32_t num = 0;
  std::uint32_t den = 1;
};

class Prng final : public Random {
 public:
  explicit Prng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (std::uint64_t& word : state_) word = splitmix64(x);
  }

  std::uint64_t next_u64() override {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // A value in [0, n). REQUIRES: n > 0.
  std::uint64_t uniform(std::uint64_t n) { return uniform_below_from(*this, n); }
  // A value in [low, high]. REQUIRES: low <= high.
  std::uint64_t between(std::uint64_t low, std::uint64_t high) {
    return low + uniform(high - low + 1);
  }
  // True with probability 1/n. REQUIRES: n > 0.
  bool one_in(std::uint64_t n) { return uniform(n) == 0; }
  // True with probability r.num / r.den (always false when num is 0).
  bool chance(Ratio r) { return r.num != 0 && uniform(r.den) < r.num; }
  // A child generator with its own stream (one per component).
  Prng split() { return Prng(next_u64()); }

  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(uniform(i));
      std::swap(items[i - 1], items[j]);
    }
  }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(uniform(items.size()))];
  }

  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t state_[4];
};

}  // namespace aipool::sim
