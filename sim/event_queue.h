// File: event_queue.h
// The simulated world's agenda: events ordered by (time, sequence number). The
// sequence number is handed out here at push time and only grows, so events due at
// the same time run in the order they were scheduled (FIFO), never in pointer or
// hash order (FoundationDB's TaskQueue, Envoy's alarm index).
//
// How: a radix heap. Simulated time never goes back, so every event pushed sorts
// after the last one popped; each event is filed in the bucket of the highest bit
// in which its key differs from that last key, and only when the lower buckets
// are empty is the lowest non-empty bucket split again around its minimum. An
// event moves a few times in its life, by sequential appends, instead of walking
// a heap of every pending event at each push and pop.
//
// Contract: single-threaded. T is a plain struct with `Micros at` and
// `std::uint64_t seq` members; push() overwrites seq. An event must not sort
// before the last one popped: its time is at or after that one's (checked). Keys
// are unique, so the pop order is fully determined by them. At most 2^24 events
// pending and 2^40 scheduled in all (checked).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "seams/types.h"

namespace aipool::sim {

template <typename T>
class EventQueue {
 public:
  // Schedules `event` at event.at; returns the sequence number it got.
  std::uint64_t push(T event) {
    event.seq = next_seq_++;
    push_keyed(event);
    return event.seq;
  }
  // A sequence number from the same counter, for an event kept elsewhere
  // (SimClock's timer lanes) but ordered with these.
  std::uint64_t take_seq() { return next_seq_++; }
  // Schedules an event whose seq came from take_seq().
  void push_keyed(const T& event) {
    std::uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(events_.size());
      AIPOOL_CHECK(slot < kSlots, "event queue: more than 2^24 events pending");
      events_.push_back(event);
    } else {
      slot = free_.back();
      free_.pop_back();
      events_[slot] = event;
    }
    AIPOOL_CHECK(event.seq < (std::uint64_t{1} << 40), "event queue: sequence numbers exhausted");
    const Key key = make_key(event.at, event.seq, slot);
    AIPOOL_CHECK(key > taken_, "event queue: an event scheduled before the last one taken");
    if (key < last_) rebase(key);  // before the minimum a peek found (a timer of a lane ran first)
    file(key);
    ++size_;
  }
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // The earliest event. REQUIRES: !empty().
  const T& top() const { return events_[slot_of(min_key())]; }
  // Its time and sequence number, read from the key without touching the event.
  Micros top_at() const { return at_of(min_key()); }
  std::uint64_t top_seq() const { return static_cast<std::uint64_t>(min_key()) >> 24; }
  // Removes and returns the earliest event. REQUIRES: !empty().
  T pop() {
    const Key key = min_key();
    taken_ = key;
    buckets_[0].pop_back();
    if (buckets_[0].empty()) nonempty_[0] &= ~std::uint64_t{1};
    --size_;
    const std::uint32_t slot = slot_of(key);
    T event = events_[slot];
    free_.push_back(slot);
    if (size_ != 0) {
      // The next event is wanted soon: find it and start loading it while the
      // caller handles this one.
      __builtin_prefetch(&events_[slot_of(min_key())]);
    }
    return event;
  }
  void reserve(std::size_t n) { events_.reserve(n); }
  // Drops every event for which drop(event) holds. The others keep their keys,
  // so the order in which they come out is unchanged.
  template <typename Drop>
  void remove_if(Drop&& drop) {
    for (std::size_t b = 0; b < kBuckets; ++b) {
      std::erase_if(buckets_[b], [&](Key key) {
        const std::uint32_t slot = slot_of(key);
        if (!drop(events_[slot])) return false;
        free_.push_back(slot);
        --size_;
        return true;
      });
      if (buckets_[b].empty()) nonempty_[b / 64] &= ~(std::uint64_t{1} << (b % 64));
    }
  }

 private:
  // An event's key: its time (sign bit flipped, so that it orders as unsigned),
  // then its sequence number (40 bits) and its slot in events_ (24 bits).
  // Sequence numbers are unique, so keys are, and they order as (time, sequence).
  using Key = unsigned __int128;
  static constexpr std::uint64_t kSlots = std::uint64_t{1} << 24;
  static constexpr std::size_t kBuckets = 129;  // bucket b: keys whose difference from last_ has b bits

  static Key make_key(Micros at, std::uint64_t seq, std::uint32_t slot) {
    return (static_cast<Key>(static_cast<std::uint64_t>(at) ^ (std::uint64_t{1} << 63)) << 64) | (seq << 24) | slot;
  }
  static Micros at_of(Key key) {
    return static_cast<Micros>(static_cast<std::uint64_t>(key >> 64) ^ (std::uint64_t{1} << 63));
  }
  static std::uint32_t slot_of(Key key) { return static_cast<std::uint32_t>(key & (kSlots - 1)); }
  // The number of significant bits of `diff`: 0 for 0, up to 128.
  static std::size_t bucket_of(Key diff) {
    const auto high = static_cast<std::uint64_t>(diff >> 64);
    if (high != 0) return 128 - static_cast<std::size_t>(__builtin_clzll(high));
    const auto low = static_cast<std::uint64_t>(diff);
    return low == 0 ? 0 : 64 - static_cast<std::size_t>(__builtin_clzll(low));
  }
  void file(Key key) const {
    const std::size_t b = bucket_of(key ^ last_);
    buckets_[b].push_back(key);
    nonempty_[b / 64] |= std::uint64_t{1} << (b % 64);
  }
  // The smallest key, which it brings into bucket 0 first: the lowest non-empty
  // bucket is split around its minimum, which becomes last_. Every key of that
  // bucket lands in a lower one, so a key moves at most 128 times, and in
  // practice a few. REQUIRES: !empty().
  Key min_key() const {
    if (buckets_[0].empty()) {
      std::size_t b = 0;
      for (std::size_t w = 0; w < nonempty_.size(); ++w) {
        if (nonempty_[w] != 0) {
          b = w * 64 + static_cast<std::size_t>(__builtin_ctzll(nonempty_[w]));
          break;
        }
      }
      std::vector<Key>& split = buckets_[b];
      Key least = split.front();
      for (Key key : split) least = key < least ? key : least;
      last_ = least;
      nonempty_[b / 64] &= ~(std::uint64_t{1} << (b % 64));
      for (Key key : split) file(key);  // every one goes below b; the least to bucket 0
      split.clear();
    }
    return buckets_[0].back();
  }

  // A key below last_ (but after the last one taken) arrives: it becomes last_.
  // Keys in buckets above the highest bit where the two differ keep their bucket
  // (they differ from both first at the same bit); only the lower ones are filed
  // again, which for a key close to last_ is a few.
  void rebase(Key key) {
    const std::size_t top = bucket_of(last_ ^ key);
    last_ = key;
    scratch_.clear();
    for (std::size_t b = 0; b <= top; ++b) {
      scratch_.insert(scratch_.end(), buckets_[b].begin(), buckets_[b].end());
      buckets_[b].clear();
      nonempty_[b / 64] &= ~(std::uint64_t{1} << (b % 64));
    }
    for (Key moved : scratch_) file(moved);
  }

  // Taking the minimum reorganises the buckets without changing what is pending,
  // so the read-only views (top) may do it too.
  mutable std::array<std::vector<Key>, kBuckets> buckets_;
  mutable std::array<std::uint64_t, 3> nonempty_{};  // bit b: buckets_[b] is not empty
  mutable Key last_ = 0;                             // no key pending is below it
  Key taken_ = 0;                                    // the key last popped
  std::vector<Key> scratch_;
  std::size_t size_ = 0;
  std::vector<T> events_;             // by slot
  std::vector<std::uint32_t> free_;   // free slots
  std::uint64_t next_seq_ = 1;
};

}  // namespace aipool::sim
