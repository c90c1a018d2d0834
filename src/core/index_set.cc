#include "core/index_set.h"

#include <bit>

#include "core/check.h"

namespace aipool {
namespace {

std::size_t words_for(std::size_t bits) { return (bits + 63) / 64; }

}  // namespace

void IndexSet::reset(std::size_t universe) {
  levels_.clear();
  universe_ = universe;
  size_ = 0;
  std::size_t bits = universe == 0 ? 1 : universe;
  do {
    const std::size_t words = words_for(bits);
    levels_.emplace_back(words, 0);
    bits = words;
  } while (bits > 1);
}

void IndexSet::reserve_universe(std::size_t universe) {
  if (universe <= universe_ && !levels_.empty()) return;
  std::vector<std::size_t> members;
  members.reserve(size_);
  for (std::size_t i = next(0); i != npos; i = next(i + 1)) members.push_back(i);
  std::size_t grown = universe_ == 0 ? 64 : universe_;
  while (grown < universe) grown *= 2;
  reset(grown);
  for (std::size_t i : members) insert(i);
}

bool IndexSet::contains(std::size_t i) const {
  if (i >= universe_) return false;
  return (levels_[0][i / 64] >> (i % 64)) & 1U;
}

void IndexSet::insert(std::size_t i) {
  AIPOOL_CHECK(i < universe_, "IndexSet::insert: index outside the universe");
  if (contains(i)) return;
  ++size_;
  for (auto& level : levels_) {
    const bool was_zero = level[i / 64] == 0;
    level[i / 64] |= std::uint64_t{1} << (i % 64);
    if (!was_zero) return;  // upper levels already mark this word
    i /= 64;
  }
}

void IndexSet::erase(std::size_t i) {
  if (!contains(i)) return;
  --size_;
  for (auto& level : levels_) {
    level[i / 64] &= ~(std::uint64_t{1} << (i % 64));
    if (level[i / 64] != 0) return;  // the word still has members
    i /= 64;
  }
}

std::size_t IndexSet::next(std::size_t i) const {
  if (i >= universe_ || size_ == 0) return npos;
  // Climb while the rest of the current word is empty.
  std::size_t level = 0;
  std::size_t pos = i;
  for (;;) {
    if (level == levels_.size()) return npos;
    const std::size_t word = pos / 64;
    if (word >= levels_[level].size()) return npos;
    const std::uint64_t bits = levels_[level][word] & (~std::uint64_t{0} << (pos % 64));
    if (bits != 0) {
      pos = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      break;
    }
    pos = word + 1;  // the next word's bit one level up
    ++level;
  }
  // Descend taking the lowest member each time.
  while (level > 0) {
    --level;
    const std::uint64_t bits = levels_[level][pos];
    AIPOOL_CHECK(bits != 0, "IndexSet: an upper level marks an empty word");
    pos = pos * 64 + static_cast<std::size_t>(std::countr_zero(bits));
  }
  return pos < universe_ ? pos : npos;
}

std::size_t IndexSet::next_cyclic(std::size_t i) const {
  const std::size_t found = next(i);
  if (found != npos || i == 0) return found;
  return next(0);
}

}  // namespace aipool
