// File: index_set.h
// A set of small integers [0, universe) kept as a tree of 64-bit words, so that
// insert, erase and "first member at or after i" cost O(log64 universe): two word
// operations per level, three levels for 262,144 members. This is what makes a
// dispatch O(1) amortised whatever the number of workers (SEL-5).
//
// Contract: single-threaded value type; indices must be < universe().
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aipool {

class IndexSet {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // Grows (never shrinks) the universe to at least `universe`; members are kept.
  void reserve_universe(std::size_t universe);
  // Removes every member and sets the universe to `universe`.
  void reset(std::size_t universe);

  std::size_t universe() const { return universe_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  bool contains(std::size_t i) const;
  void insert(std::size_t i);  // no-op if present
  void erase(std::size_t i);   // no-op if absent
  // The smallest member >= i, or npos.
  std::size_t next(std::size_t i) const;
  // The smallest member >= i, else the smallest member, else npos (a ring walk).
  std::size_t next_cyclic(std::size_t i) const;

 private:
  // levels_[0] holds one bit per index; levels_[k+1] one bit per non-zero word of levels_[k].
  std::vector<std::vector<std::uint64_t>> levels_;
  std::size_t universe_ = 0;
  std::size_t size_ = 0;
};

}  // namespace aipool
