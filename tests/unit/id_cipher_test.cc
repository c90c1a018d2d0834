// Unit tests of SipHash-2-4 and the id cipher (src/core/siphash.h, src/core/id_cipher.h).
#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/id_cipher.h"
#include "core/siphash.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// The reference key 00 01 .. 0f of the SipHash paper and its reference code.
constexpr SipKey kReferenceKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

// TASK-1: SipHash-2-4 gives the published test vectors (key 00..0f, message 00 01 .. of length n; the paper's appendix A is the 15-byte one).
TEST(SipHash, PublishedTestVectors) {
  unsigned char message[16];
  for (unsigned i = 0; i < sizeof(message); ++i) message[i] = static_cast<unsigned char>(i);
  const std::vector<std::pair<std::size_t, std::uint64_t>> vectors = {
      {0, 0x726fdb47dd0e0e31ULL}, {1, 0x74f839c593dc67fdULL}, {2, 0x0d6c8009d9a94f5aULL},
      {3, 0x85676696d7fb7e2dULL}, {4, 0xcf2794e0277187b7ULL}, {8, 0x93f5f5799a932462ULL},
      {15, 0xa129ca6149be45e5ULL},
  };
  for (const auto& [size, expected] : vectors) {
    EXPECT_EQ(siphash24(kReferenceKey, message, size), expected) << size << " bytes";
  }
}

// TASK-1: the one-word form is SipHash-2-4 of the word's 8 little-endian bytes.
TEST(SipHash, WordIsItsLittleEndianBytes) {
  XorShift random(11);
  for (int i = 0; i < 1000; ++i) {
    const SipKey key{random.next(), random.next()};
    const std::uint64_t word = random.next();
    unsigned char bytes[8];
    for (int b = 0; b < 8; ++b) bytes[b] = static_cast<unsigned char>(word >> (8 * b));
    ASSERT_EQ(siphash24_word(key, word), siphash24(key, bytes, 8)) << i;
  }
  EXPECT_EQ(siphash24_word(kReferenceKey, 0x0706050403020100ULL), 0x93f5f5799a932462ULL);
}

// TASK-1: the cipher is a permutation of [1, 2^63): every number's id is in range, distinct from the others', and decodes back to the number, at both ends of the range too.
TEST(IdCipher, PermutationOfTheRange) {
  const IdCipher cipher(test_task_id_key());
  std::set<std::uint64_t> seen;
  for (std::uint64_t n = 1; n <= 100'000; ++n) {
    const std::uint64_t id = cipher.encode(n);
    ASSERT_GE(id, 1U) << n;
    ASSERT_LT(id, IdCipher::kLimit) << n;
    ASSERT_TRUE(seen.insert(id).second) << "two numbers share id " << id;
    ASSERT_EQ(cipher.decode(id), n);
  }
  for (std::uint64_t n : {IdCipher::kLimit - 1, IdCipher::kLimit - 2, IdCipher::kLimit / 2, std::uint64_t{1} << 32}) {
    const std::uint64_t id = cipher.encode(n);
    EXPECT_TRUE(id >= 1 && id < IdCipher::kLimit) << n;
    EXPECT_EQ(cipher.decode(id), n);
  }
}

// TASK-1, TASK-6: an id outside [1, 2^63) decodes to 0, which no counter value is; every id inside decodes to a number whose id it is.
TEST(IdCipher, DecodeOutsideTheRangeIsZero) {
  const IdCipher cipher(test_task_id_key());
  for (std::uint64_t id : {std::uint64_t{0}, IdCipher::kLimit, IdCipher::kLimit + 1, ~std::uint64_t{0}}) {
    EXPECT_EQ(cipher.decode(id), 0U) << id;
  }
  XorShift random(5);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t id = 1 + random.next() % (IdCipher::kLimit - 1);
    const std::uint64_t n = cipher.decode(id);
    ASSERT_TRUE(n >= 1 && n < IdCipher::kLimit) << id;
    ASSERT_EQ(cipher.encode(n), id);
  }
}

// TASK-1: the one number the network sends to 0 walks a second step, to an id no other number has, and decodes back, under many keys.
TEST(IdCipher, TheWalkPastZeroRoundTrips) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const IdCipher cipher(test_task_id_key(seed));
    const std::uint64_t n = cipher.walking_number_for_test();
    if (n == 0) continue;  // this key sends 0 to itself: nobody walks
    const std::uint64_t id = cipher.encode(n);
    ASSERT_GE(id, 1U);
    ASSERT_LT(id, IdCipher::kLimit);
    ASSERT_EQ(cipher.decode(id), n) << seed;
    for (std::uint64_t other : {n - 1, n + 1}) {
      if (other >= 1 && other < IdCipher::kLimit) {
        ASSERT_NE(cipher.encode(other), id);
      }
    }
  }
}

// TASK-1: a counter value outside [1, 2^63) is a programming error and aborts.
TEST(IdCipherDeathTest, EncodeOutsideTheRangeAborts) {
  const IdCipher cipher(test_task_id_key());
  EXPECT_DEATH(cipher.encode(0), "counter value out of range");
  EXPECT_DEATH(cipher.encode(IdCipher::kLimit), "counter value out of range");
}

// TASK-1: successive numbers get ids that look random: none follows its predecessor by one, about half go down, and they spread over the whole range.
TEST(IdCipher, SuccessiveIdsAreNotSequential) {
  const IdCipher cipher(test_task_id_key());
  int downs = 0;
  int high = 0;
  std::uint64_t previous = cipher.encode(1);
  for (std::uint64_t n = 2; n <= 10'000; ++n) {
    const std::uint64_t id = cipher.encode(n);
    ASSERT_NE(id, previous + 1) << n;
    ASSERT_NE(id, n);
    if (id < previous) ++downs;
    if (id >= IdCipher::kLimit / 2) ++high;
    previous = id;
  }
  EXPECT_GT(downs, 4'500);
  EXPECT_LT(downs, 5'500);
  EXPECT_GT(high, 4'500);
  EXPECT_LT(high, 5'500);
}

// TASK-1: the key is two draws from the Random seam, and two keys permute differently: no number gets the same id under both, and an id of one decodes under the other to an unrelated number.
TEST(IdCipher, KeysFromTheRandomSeamDiffer) {
  FakeRandom random(3);
  random.script = {0x1111, 0x2222};
  const SipKey scripted = draw_id_key(random);
  EXPECT_EQ(scripted, (SipKey{0x1111, 0x2222}));
  EXPECT_EQ(random.draws, 2U);
  const IdCipher a(test_task_id_key(1));
  const IdCipher b(test_task_id_key(2));
  for (std::uint64_t n = 1; n <= 10'000; ++n) {
    ASSERT_NE(a.encode(n), b.encode(n)) << n;
    ASSERT_GT(b.decode(a.encode(n)), 10'000U) << n;
  }
}

}  // namespace
}  // namespace aipool::testing
