// The simulator's own building blocks: the PRNG replays bit for bit on every
// compiler (pinned golden outputs) and the event queue orders by (time,
// sequence). Both are what makes a failing seed replay exactly (SEL-6, DET-1).
#include <gtest/gtest.h>

#include <numeric>

#include "sim/event.h"
#include "sim/event_queue.h"
#include "sim/prng.h"
#include "sim/sim_clock.h"

namespace aipool::sim {
namespace {

// Proves the generator is xoshiro256** seeded by splitmix64, as prng.h documents
// (values from an independent implementation), so seeds replay everywhere (SEL-6).
TEST(SimPrng, MatchesTheDocumentedAlgorithm) {
  const std::uint64_t seed0[] = {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL,
                                 0x1a5f849d4933e6e0ULL, 0x6aa594f1262d2d2cULL};
  const std::uint64_t seed42[] = {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
                                  0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL};
  Prng a(0);
  for (std::uint64_t expected : seed0) EXPECT_EQ(a.next_u64(), expected);
  Prng b(42);
  for (std::uint64_t expected : seed42) EXPECT_EQ(b.next_u64(), expected);
}

// Proves the integer-only helpers are pinned too: uniform (Lemire) and shuffle
// (Fisher-Yates from the back) give the documented sequences (SEL-6).
TEST(SimPrng, HelpersArePinned) {
  Prng uniform(7);
  const std::uint64_t draws[] = {7, 2, 8, 9, 9, 8, 0, 1, 4, 1};
  for (std::uint64_t expected : draws) EXPECT_EQ(uniform.uniform(10), expected);
  Prng shuffle(9);
  std::vector<int> v(10);
  std::iota(v.begin(), v.end(), 0);
  shuffle.shuffle(v);
  EXPECT_EQ(v, (std::vector<int>{4, 9, 7, 8, 3, 6, 5, 1, 2, 0}));
}

// Proves the ratio helpers hit their edges exactly and stay in range.
TEST(SimPrng, RatiosAndRanges) {
  Prng p(3);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(p.chance(Ratio{0, 5}));
    EXPECT_TRUE(p.chance(Ratio{5, 5}));
    const std::uint64_t x = p.between(3, 5);
    EXPECT_GE(x, 3U);
    EXPECT_LE(x, 5U);
    EXPECT_TRUE(p.one_in(1));
  }
}

// Proves a child generator is a function of its parent's state only: the same
// parent seed gives the same children (one sub-seed per component).
TEST(SimPrng, SplitIsDeterministic) {
  Prng a(11);
  Prng b(11);
  Prng ca = a.split();
  Prng cb = b.split();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ca.next_u64(), cb.next_u64());
  EXPECT_EQ(a.next_u64(), b.next_u64());
}

// Proves events run in time order and, at equal times, in the order they were
// scheduled, whatever the heap does (SEL-6).
TEST(SimEventQueue, OrdersByTimeThenSequence) {
  EventQueue<Event> queue;
  const Micros times[] = {5, 1, 5, 3, 1, 5};
  for (std::uint64_t i = 0; i < 6; ++i) {
    Event e;
    e.at = times[i];
    e.a = i;
    queue.push(e);
  }
  std::vector<std::uint64_t> order;
  while (!queue.empty()) order.push_back(queue.pop().a);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 4, 3, 0, 2, 5}));
}

}  // namespace
}  // namespace aipool::sim

namespace aipool::sim {
namespace {

// Regression (found by property_core_test while the clock was rewritten): a
// timer armed for a target below one already forgotten (a slot reclaim for an
// older task) was left out of the clock's list of armed timers, so the model
// comparison saw a timer missing (SLOT-3).
TEST(SimClockRegression, ListsATimerArmedBelowAForgottenOne) {
  Micros now = 0;
  EventQueue<Event> queue;
  SimClock clock(now, queue, 0, Prng(1));
  const TimerId reclaim = TimerId{3} << 60;
  clock.arm_timer(reclaim | 30, 100);
  clock.cancel_timer(reclaim | 30);
  clock.arm_timer(reclaim | 23, 200);
  std::vector<TimerId> listed;
  clock.for_each_armed([&listed](TimerId id, const SimClock::Armed&) { listed.push_back(id); });
  EXPECT_EQ(listed, (std::vector<TimerId>{reclaim | 23}));
}

}  // namespace
}  // namespace aipool::sim

namespace aipool::sim {
namespace {

// Proves the clock's pages of armed timers are freed as old timers end, and it
// still finds, lists and fires a timer armed below the newest (a slot reclaim
// for an old task, SLOT-3) and keeps the (time, sequence) order (TIME-1).
TEST(SimClock, WindowSlidesAndKeepsOldTargets) {
  Micros now = 0;
  EventQueue<Event> queue;
  SimClock clock(now, queue, 0, Prng(1));
  const TimerId attempt = TimerId{1} << 60;
  for (TimerId t = 1; t <= 20000; ++t) clock.arm_timer(attempt | t, 1000);
  for (TimerId t = 1; t <= 19990; ++t) clock.cancel_timer(attempt | t);
  clock.arm_timer(attempt | 5, 500);  // below the window now: kept aside
  std::size_t listed = 0;
  clock.for_each_armed([&listed](TimerId, const SimClock::Armed&) { ++listed; });
  EXPECT_EQ(listed, 11U);
  EXPECT_EQ(clock.armed_count(), 11U);
  // It went to the world's queue (its deadline is before the lane's last one).
  ASSERT_FALSE(queue.empty());
  const Event event = queue.pop();
  bool stale = true;
  EXPECT_TRUE(clock.take(event.a, event.seq, stale));
  EXPECT_FALSE(stale);
  EXPECT_EQ(event.a, attempt | 5);
}

}  // namespace
}  // namespace aipool::sim
