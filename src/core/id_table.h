// File: id_table.h
// A table of values keyed by ids that are handed out in increasing order (the
// core's JobIds and attempt numbers: 1, 2, 3, ..., TASK-1), stored by id instead of
// hashed. Ids fall into fixed chunks of 2^kChunkBits slots; a chunk is allocated
// when its first id is added and freed when every id of it has been added and
// erased, so memory follows the ids still live, not the ids ever issued. A few
// long-lived ids (an abandoned attempt held until its slot reclaim, SLOT-3) keep
// only their own chunk and one pointer per chunk between them and the newest id.
// A lookup is a shift, a bounds check and two loads: no hashing, no node chasing.
//
// Contract: single-threaded. Ids passed to emplace() are strictly increasing
// (gaps allowed) and not 0 (checked). Values never move while present: pointers
// and references stay valid until their own erase(). Lookup of any id (erased,
// never added, out of range) is allowed and returns nullptr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/check.h"

namespace aipool {

template <typename T, unsigned kChunkBits = 8>
class IdTable {
 public:
  IdTable() = default;
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  T* find(std::uint64_t id) {
    const std::uint64_t chunk = id >> kChunkBits;
    if (chunk < first_chunk_) return nullptr;
    const std::uint64_t at = chunk - first_chunk_ + head_;
    if (at >= chunks_.size()) return nullptr;
    Chunk* c = chunks_[at].get();
    if (c == nullptr) return nullptr;
    std::optional<T>& slot = c->slots[id & kMask];
    return slot ? &*slot : nullptr;
  }
  const T* find(std::uint64_t id) const { return const_cast<IdTable*>(this)->find(id); }
  // A hint that find(id) comes soon: starts loading its slot. No effect otherwise.
  void prefetch(std::uint64_t id) const {
    const std::uint64_t chunk = id >> kChunkBits;
    if (chunk < first_chunk_) return;
    const std::uint64_t at = chunk - first_chunk_ + head_;
    if (at < chunks_.size() && chunks_[at]) __builtin_prefetch(&chunks_[at]->slots[id & kMask]);
  }
  bool contains(std::uint64_t id) const { return find(id) != nullptr; }

  // Adds `id`. REQUIRES: id > every id added before, id != 0.
  template <typename... Args>
  T& emplace(std::uint64_t id, Args&&... args) {
    AIPOOL_CHECK(id > last_id_, "id table: ids must be added in increasing order");
    const std::uint64_t chunk = id >> kChunkBits;
    if (head_ < chunks_.size() && chunk != last_id_ >> kChunkBits) {
      release_if_empty(chunks_.size() - 1);  // the previous newest chunk is complete
    }
    if (head_ == chunks_.size()) {  // empty window: it starts at this chunk
      chunks_.clear();
      head_ = 0;
      first_chunk_ = chunk;
    }
    last_id_ = id;
    const std::uint64_t at = chunk - first_chunk_ + head_;
    if (at >= chunks_.size()) chunks_.resize(at + 1);
    std::unique_ptr<Chunk>& c = chunks_[at];
    if (!c) {
      c = take_spare();
      ++chunk_count_;
    }
    ++c->live;
    ++size_;
    return c->slots[id & kMask].emplace(std::forward<Args>(args)...);
  }

  // Removes `id`. REQUIRES: present.
  void erase(std::uint64_t id) {
    const std::uint64_t chunk = id >> kChunkBits;
    AIPOOL_CHECK(chunk >= first_chunk_, "id table: erase of an absent id");
    const std::uint64_t at = chunk - first_chunk_ + head_;
    AIPOOL_CHECK(at < chunks_.size() && chunks_[at], "id table: erase of an absent id");
    std::optional<T>& slot = chunks_[at]->slots[id & kMask];
    AIPOOL_CHECK(slot.has_value(), "id table: erase of an absent id");
    slot.reset();
    --chunks_[at]->live;
    --size_;
    if (chunk != last_id_ >> kChunkBits) release_if_empty(at);  // the newest chunk may still fill
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Chunks holding at least one live id (the newest chunk may hold none); for tests.
  std::size_t chunk_count() const { return chunk_count_; }
  static constexpr std::uint64_t chunk_size() { return kSlots; }

 private:
  static constexpr std::uint64_t kSlots = std::uint64_t{1} << kChunkBits;
  static constexpr std::uint64_t kMask = kSlots - 1;
  static constexpr std::size_t kMaxSpares = 4;
  struct Chunk {
    std::optional<T> slots[kSlots];
    std::uint32_t live = 0;
  };

  std::unique_ptr<Chunk> take_spare() {
    if (spares_.empty()) return std::make_unique<Chunk>();
    std::unique_ptr<Chunk> c = std::move(spares_.back());
    spares_.pop_back();
    return c;
  }
  // Frees the chunk at window position `at` if nothing in it is live, then drops
  // freed chunks from the front of the window.
  void release_if_empty(std::size_t at) {
    if (!chunks_[at] || chunks_[at]->live != 0) return;
    --chunk_count_;
    if (spares_.size() < kMaxSpares) spares_.push_back(std::move(chunks_[at]));
    chunks_[at].reset();
    while (head_ < chunks_.size() && !chunks_[head_]) {
      ++head_;
      ++first_chunk_;
    }
    if (head_ >= 64 && head_ * 2 >= chunks_.size()) {  // amortised O(1) per chunk
      chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  // chunks_[head_ + k] holds ids of chunk number first_chunk_ + k; nullptr: none live.
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::size_t head_ = 0;
  std::uint64_t first_chunk_ = 0;
  std::uint64_t last_id_ = 0;  // the newest id added
  std::size_t size_ = 0;
  std::size_t chunk_count_ = 0;
  std::vector<std::unique_ptr<Chunk>> spares_;  // freed chunks, every slot empty
};

}  // namespace aipool
