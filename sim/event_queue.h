// File: event_queue.h
// The simulated world's agenda: events ordered by (time, sequence number). The
// sequence number is handed out here at push time and only grows, so events due at
// the same time run in the order they were scheduled (FIFO), never in pointer or
// hash order (FoundationDB's TaskQueue, Envoy's alarm index).
//
// Contract: single-threaded. T is a plain struct with `Micros at` and
// `std::uint64_t seq` members; push() overwrites seq. Keys are unique, so the pop
// order is fully determined by them, not by the heap's shape. At most 2^24
// events pending and 2^40 scheduled in all (checked).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "core/check.h"
#include "core/types.h"

namespace aipool::sim {

// An allocator whose blocks start on a cache line (64 bytes).
template <typename U>
struct CacheLineAllocator {
  using value_type = U;
  CacheLineAllocator() = default;
  template <typename V>
  CacheLineAllocator(const CacheLineAllocator<V>&) {}
  U* allocate(std::size_t n) { return static_cast<U*>(::operator new(n * sizeof(U), std::align_val_t{64})); }
  void deallocate(U* p, std::size_t) { ::operator delete(p, std::align_val_t{64}); }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
};

template <typename T>
class EventQueue {
 public:
  EventQueue() : heap_(kPad) {}

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
    heap_.push_back(Entry{event.at, (event.seq << 24) | slot});
    sift_up(size() - 1);
  }
  bool empty() const { return heap_.size() == kPad; }
  std::size_t size() const { return heap_.size() - kPad; }
  // The earliest event. REQUIRES: !empty().
  const T& top() const { return events_[at(0).key & (kSlots - 1)]; }
  // Its time and sequence number, read from the heap without touching the event.
  Micros top_at() const { return at(0).at; }
  std::uint64_t top_seq() const { return at(0).key >> 24; }
  // Removes and returns the earliest event. REQUIRES: !empty().
  T pop() {
    const auto slot = static_cast<std::uint32_t>(at(0).key & (kSlots - 1));
    T event = events_[slot];
    free_.push_back(slot);
    at(0) = heap_.back();
    heap_.pop_back();
    if (!empty()) {
      sift_down(0);
      // The next event is wanted soon: start loading it while the caller handles this one.
      __builtin_prefetch(&events_[at(0).key & (kSlots - 1)]);
    }
    return event;
  }
  void reserve(std::size_t n) {
    heap_.reserve(n + kPad);
    events_.reserve(n);
  }
  // Drops every event for which drop(event) holds. The others keep their keys,
  // so the order in which they come out is unchanged.
  template <typename Drop>
  void remove_if(Drop&& drop) {
    const auto kept = std::remove_if(heap_.begin() + kPad, heap_.end(), [&](const Entry& entry) {
      const auto slot = static_cast<std::uint32_t>(entry.key & (kSlots - 1));
      if (!drop(events_[slot])) return false;
      free_.push_back(slot);
      return true;
    });
    heap_.erase(kept, heap_.end());
    for (std::size_t i = size(); i-- > 0;) sift_down(i);
  }

 private:
  // The heap holds 16-byte keys: the time, then the sequence number (40 bits)
  // with the event's slot in events_ (24 bits) below it. Sequence numbers are
  // unique, so (time, key) orders exactly as (time, sequence), and the order in
  // which events come out depends on the keys only, never on the heap's shape.
  // It is 4-ary, and node i lives at heap_[i + kPad] in a block that starts on a
  // cache line, so the four children of a node (4i+1 .. 4i+4) fill exactly one
  // line.
  struct Entry {
    Micros at;
    std::uint64_t key;
  };
  static constexpr std::uint64_t kSlots = std::uint64_t{1} << 24;
  static constexpr std::size_t kArity = 4;
  static constexpr std::size_t kPad = kArity - 1;
  static bool earlier(const Entry& a, const Entry& b) { return a.at != b.at ? a.at < b.at : a.key < b.key; }

  Entry& at(std::size_t i) { return heap_[i + kPad]; }
  const Entry& at(std::size_t i) const { return heap_[i + kPad]; }

  // The entry as one 128-bit number that orders as (at, key); comparing two of
  // them takes no branch, which matters because the outcome is a coin toss.
  static unsigned __int128 rank(const Entry& e) {
    return (static_cast<unsigned __int128>(static_cast<std::uint64_t>(e.at) ^ (std::uint64_t{1} << 63)) << 64) |
           e.key;
  }
  std::size_t min_child(std::size_t first, std::size_t n) const {
    if (first + kArity <= n) {  // a full set of four: a branch-free tournament
      const unsigned __int128 r0 = rank(at(first)), r1 = rank(at(first + 1));
      const unsigned __int128 r2 = rank(at(first + 2)), r3 = rank(at(first + 3));
      const std::size_t a = r1 < r0 ? first + 1 : first;
      const unsigned __int128 ra = r1 < r0 ? r1 : r0;
      const std::size_t b = r3 < r2 ? first + 3 : first + 2;
      const unsigned __int128 rb = r3 < r2 ? r3 : r2;
      return rb < ra ? b : a;
    }
    std::size_t best = first;
    for (std::size_t c = first + 1; c < n; ++c) {
      if (earlier(at(c), at(best))) best = c;
    }
    return best;
  }
  void sift_up(std::size_t i) {
    const Entry moving = at(i);
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!earlier(moving, at(parent))) break;
      at(i) = at(parent);
      i = parent;
    }
    at(i) = moving;
  }
  void sift_down(std::size_t i) {
    const std::size_t n = size();
    const Entry moving = at(i);
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      const std::size_t best = min_child(first, n);
      if (!earlier(at(best), moving)) break;
      at(i) = at(best);
      i = best;
    }
    at(i) = moving;
  }
  std::vector<Entry, CacheLineAllocator<Entry>> heap_;  // kPad unused entries, then the heap
  std::vector<T> events_;             // by slot
  std::vector<std::uint32_t> free_;   // free slots
  std::uint64_t next_seq_ = 1;
};

}  // namespace aipool::sim
