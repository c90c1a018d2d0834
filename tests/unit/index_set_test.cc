// IndexSet: the word tree behind O(1) amortised selection (SEL-5), checked
// against std::set.
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "core/index_set.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

std::size_t expected_next(const std::set<std::size_t>& model, std::size_t i) {
  auto it = model.lower_bound(i);
  return it == model.end() ? IndexSet::npos : *it;
}

std::size_t expected_next_cyclic(const std::set<std::size_t>& model, std::size_t i) {
  const std::size_t found = expected_next(model, i);
  if (found != IndexSet::npos) return found;
  return model.empty() ? IndexSet::npos : *model.begin();
}

// SEL-5: an empty or default set answers npos everywhere and holds nothing.
TEST(IndexSetTest, EmptySets) {
  IndexSet none;
  EXPECT_EQ(none.universe(), 0U);
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.contains(0));
  EXPECT_EQ(none.next(0), IndexSet::npos);
  EXPECT_EQ(none.next_cyclic(0), IndexSet::npos);
  EXPECT_EQ(none.next_cyclic(5), IndexSet::npos);
  IndexSet set;
  set.reset(1000);
  EXPECT_EQ(set.universe(), 1000U);
  EXPECT_EQ(set.next(0), IndexSet::npos);
  EXPECT_EQ(set.next(999), IndexSet::npos);
  EXPECT_EQ(set.next(1000), IndexSet::npos);
  EXPECT_EQ(set.next_cyclic(500), IndexSet::npos);
}

// SEL-5: next and next_cyclic find members across word and level boundaries (0, 63, 64, 4095, 4096, the last index) and wrap around.
TEST(IndexSetTest, BoundariesAndWrap) {
  IndexSet set;
  set.reset(300000);  // four levels
  const std::vector<std::size_t> members = {0, 63, 64, 4095, 4096, 262143, 262144, 299999};
  for (std::size_t m : members) set.insert(m);
  set.insert(64);  // no-op
  EXPECT_EQ(set.size(), members.size());
  EXPECT_EQ(set.next(1), 63U);
  EXPECT_EQ(set.next(64), 64U);
  EXPECT_EQ(set.next(65), 4095U);
  EXPECT_EQ(set.next(4097), 262143U);
  EXPECT_EQ(set.next(262145), 299999U);
  EXPECT_EQ(set.next(300000), IndexSet::npos);
  EXPECT_EQ(set.next_cyclic(300000), 0U);
  set.erase(0);
  set.erase(0);  // no-op
  EXPECT_EQ(set.next_cyclic(299999), 299999U);
  set.erase(299999);
  EXPECT_EQ(set.next_cyclic(262145), 63U);
  EXPECT_EQ(set.size(), members.size() - 2);
  EXPECT_FALSE(set.contains(0));
  EXPECT_TRUE(set.contains(4096));
  EXPECT_FALSE(set.contains(300001));  // outside the universe
}

// SEL-5: over seeded random inserts, erases, universe growth (members kept) and resets, contains, size, next and next_cyclic agree with std::set at every step, for dense and sparse sets up to four levels deep.
TEST(IndexSetTest, AgreesWithStdSet) {
  for (std::uint64_t seed : {1ULL, 42ULL, 4242ULL, 0xABCDEFULL}) {
    SCOPED_TRACE(tagged("seed ", seed));
    XorShift rng(seed);
    IndexSet set;
    std::set<std::size_t> model;
    set.reserve_universe(10);
    ASSERT_GE(set.universe(), 10U);
    for (int step = 0; step < 40000; ++step) {
      const std::uint64_t action = rng.below(1000);
      const std::size_t universe = set.universe();
      if (action < 3 && universe < (std::size_t{1} << 20)) {
        // Grow, sometimes a lot (across levels), keeping the members.
        const std::size_t target = universe + 1 + rng.below(rng.chance(20) ? 300000 : 2 * universe);
        set.reserve_universe(target);
        ASSERT_GE(set.universe(), target);
      } else if (action < 4) {
        const std::size_t size = 1 + rng.below(5000);
        set.reset(size);
        model.clear();
        ASSERT_EQ(set.universe(), size);
      } else if (action < 450) {
        // Inserts cluster sometimes (dense words), sometimes spread (sparse tree).
        const std::size_t i = rng.chance(50) ? rng.below(universe) : rng.below(std::min<std::size_t>(universe, 200));
        set.insert(i);
        model.insert(i);
      } else if (action < 800) {
        if (model.empty() || rng.chance(10)) {
          const std::size_t i = rng.below(universe);
          set.erase(i);
          model.erase(i);
        } else {
          auto it = model.lower_bound(rng.below(universe));
          if (it == model.end()) it = model.begin();
          set.erase(*it);
          model.erase(it);
        }
      } else {
        const std::size_t i = rng.below(universe + 70);
        ASSERT_EQ(set.contains(i), model.contains(i)) << i;
        ASSERT_EQ(set.next(i), expected_next(model, i)) << i;
        ASSERT_EQ(set.next_cyclic(i), expected_next_cyclic(model, i)) << i;
      }
      ASSERT_EQ(set.size(), model.size());
      ASSERT_EQ(set.empty(), model.empty());
    }
    // A full walk lists exactly the model.
    std::vector<std::size_t> walk;
    for (std::size_t i = set.next(0); i != IndexSet::npos; i = set.next(i + 1)) walk.push_back(i);
    EXPECT_EQ(walk, std::vector<std::size_t>(model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace aipool::testing
