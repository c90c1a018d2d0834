// File: siphash.h
// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudorandom function of a
// byte string, 64 bits out, under a 128-bit key. The core uses it as the round
// function of its id cipher (id_cipher.h, TASK-1); it is checked against the
// published test vectors (key 00 01 .. 0f).
//
// Contract: pure functions, thread-safe; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aipool {

// A 128-bit key: k0 holds key bytes 0..7 and k1 bytes 8..15, each little-endian,
// as the reference implementation reads them.
struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;

  friend bool operator==(const SipKey&, const SipKey&) = default;
};

// SipHash-2-4 of `size` bytes at `data`.
std::uint64_t siphash24(const SipKey& key, const unsigned char* data, std::size_t size);

// SipHash-2-4 of the 8 little-endian bytes of `word`.
std::uint64_t siphash24_word(const SipKey& key, std::uint64_t word);

}  // namespace aipool
