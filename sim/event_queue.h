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
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "core/types.h"

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
    heap_.push_back(Entry{event.at, (event.seq << 24) | slot});
    sift_up(heap_.size() - 1);
  }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // The earliest event. REQUIRES: !empty().
  const T& top() const { return events_[heap_.front().key & (kSlots - 1)]; }
  // Removes and returns the earliest event. REQUIRES: !empty().
  T pop() {
    const auto slot = static_cast<std::uint32_t>(heap_.front().key & (kSlots - 1));
    T event = events_[slot];
    free_.push_back(slot);
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
    return event;
  }
  void reserve(std::size_t n) {
    heap_.reserve(n);
    events_.reserve(n);
  }
  // Drops every event for which drop(event) holds. The others keep their keys,
  // so the order in which they come out is unchanged.
  template <typename Drop>
  void remove_if(Drop&& drop) {
    std::erase_if(heap_, [&](const Entry& entry) {
      const auto slot = static_cast<std::uint32_t>(entry.key & (kSlots - 1));
      if (!drop(events_[slot])) return false;
      free_.push_back(slot);
      return true;
    });
    for (std::size_t i = heap_.size(); i-- > 0;) sift_down(i);
  }

 private:
  // The heap holds 16-byte keys: the time, then the sequence number (40 bits)
  // with the event's slot in events_ (24 bits) below it. Sequence numbers are
  // unique, so (time, key) orders exactly as (time, sequence). It is 4-ary: the
  // four children of a node fill one cache line.
  struct Entry {
    Micros at;
    std::uint64_t key;
  };
  static constexpr std::uint64_t kSlots = std::uint64_t{1} << 24;
  static constexpr std::size_t kArity = 4;
  static bool earlier(const Entry& a, const Entry& b) { return a.at != b.at ? a.at < b.at : a.key < b.key; }

  void sift_up(std::size_t i) {
    const Entry moving = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!earlier(moving, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = moving;
  }
  void sift_down(std::size_t i) {
    const std::size_t n = heap_.size();
    const Entry moving = heap_[i];
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = std::min(first + kArity, n);
      for (std::size_t c = first + 1; c < last; ++c) {
        if (earlier(heap_[c], heap_[best])) best = c;
      }
      if (!earlier(heap_[best], moving)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = moving;
  }

  std::vector<Entry> heap_;
  std::vector<T> events_;             // by slot
  std::vector<std::uint32_t> free_;   // free slots
  std::uint64_t next_seq_ = 1;
};

}  // namespace aipool::sim
