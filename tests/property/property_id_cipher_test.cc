// Properties of the TaskID permutation (src/core/id_cipher.h, TASK-1, TASK-6), for
// random keys, numbers and ids drawn by rapidcheck.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>

#include "core/id_cipher.h"

namespace aipool {
namespace {

rc::Gen<SipKey> keys() {
  return rc::gen::apply([](std::uint64_t k0, std::uint64_t k1) { return SipKey{k0, k1}; },
                        rc::gen::arbitrary<std::uint64_t>(), rc::gen::arbitrary<std::uint64_t>());
}

// TASK-1: for any key, a number in [1, 2^63) has an id in [1, 2^63) that decodes back to it, and its neighbour's id is another.
RC_GTEST_PROP(IdCipherProperty, NumbersRoundTrip, ()) {
  const IdCipher cipher(*keys());
  const std::uint64_t n = *rc::gen::inRange<std::uint64_t>(1, IdCipher::kLimit - 1);
  const std::uint64_t id = cipher.encode(n);
  RC_ASSERT(id >= 1U);
  RC_ASSERT(id < IdCipher::kLimit);
  RC_ASSERT(cipher.decode(id) == n);
  RC_ASSERT(cipher.encode(n + 1) != id);
}

// TASK-1, TASK-6: for any key, every id in [1, 2^63) is the id of exactly the number it decodes to; anything else decodes to 0.
RC_GTEST_PROP(IdCipherProperty, IdsRoundTrip, ()) {
  const IdCipher cipher(*keys());
  const std::uint64_t id = *rc::gen::arbitrary<std::uint64_t>();
  const std::uint64_t n = cipher.decode(id);
  if (id == 0 || id >= IdCipher::kLimit) {
    RC_ASSERT(n == 0U);
  } else {
    RC_ASSERT(n >= 1U);
    RC_ASSERT(n < IdCipher::kLimit);
    RC_ASSERT(cipher.encode(n) == id);
  }
}

// TASK-6: an id made under one key and read under another names an unrelated number: for small counters (the first million attempts of a run) it lands beyond them.
RC_GTEST_PROP(IdCipherProperty, AnotherKeysIdsAreForeign, ()) {
  const SipKey a = *keys();
  const SipKey b = *keys();
  RC_PRE(!(a == b));
  const std::uint64_t n = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
  RC_ASSERT(IdCipher(b).decode(IdCipher(a).encode(n)) > 1'000'000U);
}

}  // namespace
}  // namespace aipool
