// File: key_table.h
// The keys of one simulated world, by dense index, with a lookup from the
// (pipeline, model) of a job notice back to the index that allocates nothing.
//
// Contract: single-threaded; keys are added before the run and never removed;
// references returned by key() stay valid for the table's lifetime.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "seams/types.h"

namespace aipool::sim {

class KeyTable {
 public:
  // The index of `key`, adding it if new.
  std::uint32_t add(const Key& key) {
    if (std::optional<std::uint32_t> found = find(key.pipeline, key.model)) return *found;
    keys_.push_back(key);
    const auto index = static_cast<std::uint32_t>(keys_.size() - 1);
    by_model_[static_cast<std::size_t>(key.pipeline)].emplace(keys_.back().model, index);
    return index;
  }
  std::optional<std::uint32_t> find(Pipeline pipeline, std::string_view model) const {
    const auto& map = by_model_[static_cast<std::size_t>(pipeline)];
    auto it = map.find(model);
    if (it == map.end()) return std::nullopt;
    return it->second;
  }
  const Key& key(std::uint32_t index) const { return keys_[index]; }
  std::size_t size() const { return keys_.size(); }

 private:
  std::deque<Key> keys_;  // deque: the models' storage never moves
  std::array<std::unordered_map<std::string_view, std::uint32_t>, kPipelineCount> by_model_;
};

}  // namespace aipool::sim
