// IdTable: the dense tables of jobs and attempts by increasing id (TASK-1),
// checked against std::map, and its memory: chunks freed once their ids end.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/id_table.h"

namespace aipool::testing {
namespace {

std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// TASK-1: any id never added, erased, 0, negative as unsigned or far past the
// newest is absent; present ids keep their values and addresses.
TEST(IdTableTest, LookupsOfAbsentIds) {
  IdTable<std::string> table;
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.find(~std::uint64_t{0}), nullptr);
  std::string& one = table.emplace(1, "one");
  table.emplace(3, "three");
  EXPECT_EQ(table.find(1), &one);
  EXPECT_EQ(table.find(2), nullptr);
  EXPECT_EQ(*table.find(3), "three");
  EXPECT_EQ(table.find(4), nullptr);
  EXPECT_EQ(table.find(1'000'000), nullptr);
  EXPECT_EQ(table.find(static_cast<std::uint64_t>(std::int64_t{-1})), nullptr);
  table.erase(1);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.size(), 1U);
  table.erase(3);
  EXPECT_TRUE(table.empty());
}

// Ids out of order are a bug in the caller.
TEST(IdTableDeathTest, IdsMustIncrease) {
  IdTable<int> table;
  table.emplace(5, 1);
  EXPECT_DEATH(table.emplace(5, 2), "increasing");
  EXPECT_DEATH(table.emplace(4, 2), "increasing");
  EXPECT_DEATH(table.erase(6), "absent");
}

// Random adds (with gaps) and erases against std::map; values are destroyed on erase.
TEST(IdTableTest, MatchesAMap) {
  IdTable<std::shared_ptr<std::uint64_t>> table;
  std::map<std::uint64_t, std::uint64_t> model;
  std::vector<std::weak_ptr<std::uint64_t>> erased;
  std::uint64_t state = 42;
  std::uint64_t next = 1;
  for (int step = 0; step < 200'000; ++step) {
    const std::uint64_t r = next_random(state) % 100;
    if (r < 52 || model.empty()) {
      next += 1 + (r % 7 == 0 ? next_random(state) % 1000 : 0);
      table.emplace(next, std::make_shared<std::uint64_t>(next * 3));
      model[next] = next * 3;
    } else {
      // Mostly the oldest ids end first; sometimes any live id.
      auto it = model.begin();
      if (r % 3 == 0) std::advance(it, static_cast<long>(next_random(state) % model.size()));
      erased.push_back(*table.find(it->first));
      table.erase(it->first);
      model.erase(it);
    }
    ASSERT_EQ(table.size(), model.size());
    if (step % 997 == 0) {
      for (std::uint64_t id = model.empty() ? 1 : model.begin()->first; id <= next; ++id) {
        auto it = model.find(id);
        const auto* found = table.find(id);
        if (it == model.end()) {
          ASSERT_EQ(found, nullptr) << id;
        } else {
          ASSERT_NE(found, nullptr) << id;
          ASSERT_EQ(**found, it->second);
        }
      }
    }
  }
  for (const auto& weak : erased) EXPECT_TRUE(weak.expired());
}

// Memory follows the live ids: a long-lived id keeps only its own chunk.
TEST(IdTableTest, ChunksAreFreedAsTheirIdsEnd) {
  IdTable<int> table;
  const std::uint64_t n = IdTable<int>::chunk_size();
  table.emplace(1, 1);  // lives throughout, like an abandoned attempt held for its reclaim
  for (std::uint64_t id = 2; id < 100 * n; ++id) {
    table.emplace(id, 0);
    if (id > 2 * n) table.erase(id - 2 * n + 1);
  }
  // The first chunk (id 1), about two chunks of recent ids, and nothing between.
  EXPECT_LE(table.chunk_count(), 4U);
  EXPECT_EQ(*table.find(1), 1);
  table.erase(1);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_LE(table.chunk_count(), 3U);
}

}  // namespace
}  // namespace aipool::testing
