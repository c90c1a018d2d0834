// The worker's reconnect backoff (RECON-1, RECON-2 in spec/core.md).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "core/backoff.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

constexpr std::uint64_t kLowest = 1;  // uniform_below maps 1 to 0 without a redraw
constexpr std::uint64_t kHighest = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kMiddle = std::uint64_t{1} << 63;

// RECON-1: without jitter the waits are 0.5 s, then 1.5 times the previous one (integer microseconds), up to 30 s, and stay there.
TEST(BackoffTest, GrowsByHalfUpToCap) {
  FakeRandom random;
  BackoffPolicy policy;
  policy.jitter_percent = 0;
  Backoff backoff(random, policy);
  const std::vector<Micros> expected = {500'000,   750'000,    1'125'000,  1'687'500,  2'531'250,
                                        3'796'875, 5'695'312,  8'542'968,  12'814'452, 19'221'678,
                                        28'832'517, 30'000'000, 30'000'000, 30'000'000};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(backoff.next_delay(), expected[i]) << i;
}

// RECON-1: each wait is drawn from the injected Random within +-50 % of the base: the lowest draw gives half, the middle one the base, the highest one and a half times the base; the base grows regardless of the draw.
TEST(BackoffTest, JitterSpansHalfToOneAndAHalf) {
  FakeRandom random;
  random.script = {kLowest, kMiddle, kHighest, kHighest};
  Backoff backoff(random);
  EXPECT_EQ(backoff.next_delay(), 250'000);    // base 0.5 s
  EXPECT_EQ(backoff.next_delay(), 750'000);    // base 0.75 s
  EXPECT_EQ(backoff.next_delay(), 1'687'500);  // base 1.125 s
  EXPECT_EQ(backoff.next_delay(), 2'531'250);  // base 1.6875 s
  EXPECT_EQ(random.draws, 4U);
  EXPECT_EQ(backoff.base(), 2'531'250);
}

// RECON-1: at the cap the jittered wait is capped again at 30 s (a high draw would give 45 s), while a low draw still gives 15 s.
TEST(BackoffTest, JitteredWaitCappedAt30s) {
  FakeRandom random;
  Backoff backoff(random);
  for (int i = 0; i < 20; ++i) backoff.next_delay();
  ASSERT_EQ(backoff.base(), 30 * kSecond);
  random.script = {kHighest, kLowest, kMiddle};
  EXPECT_EQ(backoff.next_delay(), 30 * kSecond);
  EXPECT_EQ(backoff.next_delay(), 15 * kSecond);
  EXPECT_EQ(backoff.next_delay(), 30 * kSecond);
}

// RECON-1: over 20,000 draws from a seeded source the jittered first wait stays within [0.25 s, 0.75 s], reaches both ends' neighbourhoods and averages 0.5 s; the same seed replays the same waits.
TEST(BackoffTest, JitterIsUniformAndReplays) {
  std::vector<Micros> first;
  for (int run = 0; run < 2; ++run) {
    FakeRandom random(0x5EED);
    Micros lo = std::numeric_limits<Micros>::max(), hi = 0;
    double sum = 0;
    std::vector<Micros> waits;
    for (int i = 0; i < 20000; ++i) {
      Backoff backoff(random);
      const Micros d = backoff.next_delay();
      ASSERT_GE(d, 250'000);
      ASSERT_LE(d, 750'000);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += static_cast<double>(d);
      waits.push_back(d);
    }
    EXPECT_LT(lo, 255'000);
    EXPECT_GT(hi, 745'000);
    EXPECT_NEAR(sum / 20000, 500'000, 5'000);
    if (run == 0) {
      first = waits;
    } else {
      EXPECT_EQ(waits, first);
    }
  }
}

// RECON-2: a session of at least 60 s resets the backoff to its first wait; a shorter one does not.
TEST(BackoffTest, LongSessionResets) {
  FakeRandom random;
  BackoffPolicy policy;
  policy.jitter_percent = 0;
  Backoff backoff(random, policy);
  for (int i = 0; i < 5; ++i) backoff.next_delay();
  const Micros grown = backoff.base();
  ASSERT_GT(grown, 500'000);
  backoff.session_ended(60 * kSecond - 1);
  EXPECT_EQ(backoff.base(), grown);
  EXPECT_EQ(backoff.next_delay(), grown);
  backoff.session_ended(60 * kSecond);
  EXPECT_EQ(backoff.base(), 500'000);
  EXPECT_EQ(backoff.next_delay(), 500'000);
  EXPECT_EQ(backoff.next_delay(), 750'000);
  backoff.session_ended(3600 * kSecond);
  EXPECT_EQ(backoff.next_delay(), 500'000);
}

}  // namespace
}  // namespace aipool::testing
