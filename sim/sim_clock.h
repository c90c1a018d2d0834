// File: sim_clock.h
// The Clock seam in virtual time. now() is the world's current time, which only
// the world's run loop moves (it jumps to the next event; nothing sleeps). An
// armed timer is an event ordered by (time, sequence) with the world's others,
// kept in a FIFO lane of this clock or in the world's EventQueue (see
// arm_timer); cancelling forgets it, and the run loop skips a timer that is no
// longer armed under that sequence number.
//
// Fault: with `stale_ratio`, a cancelled timer still fires (the Clock contract
// allows a firing that was already queued; TIME-4 says the core ignores it).
//
// Contract: single-threaded; one SimClock per simulated orchestrator (timer ids
// are per Broker). The world owns the time and the queue and outlives the clock.
#pragma once

#include <array>
#include <cstdint>
#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "seams/clock.h"
#include "sim/event.h"
#include "sim/event_queue.h"
#include "sim/prng.h"

namespace aipool::sim {

class SimClock final : public Clock {
 public:
  struct Armed {
    Micros at = 0;
    std::uint64_t seq = 0;
    bool in_lane = false;
  };
  // A timer kept in a lane rather than in the world's queue.
  struct LaneEntry {
    Micros at = 0;
    std::uint64_t seq = 0;
    TimerId id = 0;
  };

  SimClock(const Micros& now, EventQueue<Event>& queue, std::uint8_t orch, Prng prng)
      : now_(now), queue_(queue), orch_(orch), prng_(prng) {}

  Micros now() const override { return now_; }

  // A timer goes to the lane of its id's top four bits when its deadline is not
  // before the lane's last one (the core arms each kind at now + a fixed delay,
  // so that is every time): a FIFO then keeps (time, sequence) order and a
  // cancelled timer costs nothing until it reaches the front. Any other timer
  // goes to the world's queue.
  void arm_timer(TimerId id, Micros at) override {
    if (at < now_) at = now_;
    const std::uint64_t seq = queue_.take_seq();
    const std::size_t lane = static_cast<std::size_t>(id >> 60);
    const bool in_lane = lane < kLanes && (lanes_[lane].empty() || lanes_[lane].back().at <= at);
    if (in_lane) {
      if (lanes_[lane].empty()) best_lane_ = kNoLane;  // the only arm that can change the earliest
      lanes_[lane].push_back(LaneEntry{at, seq, id});
    } else {
      Event event;
      event.at = at;
      event.seq = seq;
      event.kind = EventKind::kTimer;
      event.orch = orch_;
      event.a = id;
      queue_.push_keyed(event);
    }
    Armed& slot = slot_for(id);
    if (slot.seq == 0) ++armed_count_;
    slot = Armed{at, seq, in_lane};
  }

  void cancel_timer(TimerId id) override {
    Armed* armed = find(id);
    if (armed == nullptr) return;
    if (prng_.chance(stale_ratio_)) {
      stale_.emplace(armed->seq, id);
    } else if (!armed->in_lane) {
      ++cancelled_;
    }
    forget(id, *armed);
  }

  // The run loop is about to deliver the timer event (id, seq): true if it is to
  // be delivered now (armed under this sequence number, or a stale firing kept
  // by the fault), and `stale` says which. Forgets the timer either way.
  bool take(TimerId id, std::uint64_t seq, bool& stale) {
    Armed* armed = find(id);
    if (armed != nullptr && armed->seq == seq) {
      forget(id, *armed);
      stale = false;
      return true;
    }
    if (stale_.empty()) return false;
    auto kept = stale_.find(seq);
    if (kept != stale_.end()) {
      stale_.erase(kept);
      stale = true;
      return true;
    }
    return false;
  }
  // True if the timer event (id, seq) is still to be delivered.
  bool pending(TimerId id, std::uint64_t seq) const {
    const Armed* armed = find(id);
    return (armed != nullptr && armed->seq == seq) || (!stale_.empty() && stale_.contains(seq));
  }

  // The earliest timer of the lanes that is still to be delivered, or nullptr.
  // Lane entries whose timer was cancelled (and is not kept as a stale firing)
  // are dropped on the way: they would do nothing when their time came.
  const LaneEntry* next_in_lanes() {
    if (best_lane_ == kNoLane) {
      for (std::size_t lane = 0; lane < kLanes; ++lane) {
        Lane& fifo = lanes_[lane];
        while (!fifo.empty() && !pending(fifo.front().id, fifo.front().seq)) fifo.pop_front();
        if (fifo.empty()) continue;
        const LaneEntry& front = fifo.front();
        if (best_lane_ == kNoLane || front.at < lanes_[best_lane_].front().at ||
            (front.at == lanes_[best_lane_].front().at && front.seq < lanes_[best_lane_].front().seq)) {
          best_lane_ = lane;
        }
      }
      if (best_lane_ == kNoLane) return nullptr;
    }
    return &lanes_[best_lane_].front();
  }
  // Removes the lane entry next_in_lanes() returned.
  void pop_lane(std::uint64_t seq) {
    for (Lane& lane : lanes_) {
      if (!lane.empty() && lane.front().seq == seq) {
        lane.pop_front();
        best_lane_ = kNoLane;
        return;
      }
    }
  }

  // Cancelled timers whose events still sit in the world's queue (an upper bound).
  std::uint64_t cancelled() const { return cancelled_; }
  void forget_cancelled() { cancelled_ = 0; }

  void set_stale_ratio(Ratio ratio) { stale_ratio_ = ratio; }

  // Calls f(id, armed) for every armed timer (checks; not for hot paths).
  template <typename F>
  void for_each_armed(F&& f) const {
    for (std::size_t lane = 0; lane < kLanes; ++lane) {
      const std::vector<std::unique_ptr<Page>>& pages = pages_[lane];
      for (std::size_t p = first_page_[lane]; p < pages.size(); ++p) {
        if (!pages[p]) continue;
        for (std::size_t i = 0; i < kPageSize; ++i) {
          const Armed& armed = pages[p]->slots[i];
          if (armed.seq != 0) f((TimerId{lane} << 60) | (p * kPageSize + i), armed);
        }
      }
    }
    for (const auto& [id, armed] : sparse_) f(id, armed);
  }
  std::size_t armed_count() const { return armed_count_; }

 private:
  static constexpr std::size_t kLanes = 4;
  static constexpr std::size_t kNoLane = kLanes;
  static constexpr std::uint64_t kDenseTargets = std::uint64_t{1} << 32;
  static constexpr std::size_t kPageBits = 9;
  static constexpr std::size_t kPageSize = std::size_t{1} << kPageBits;
  static constexpr std::size_t kMaxSparePages = 8;

  // A FIFO of lane entries in one growing ring (power-of-two capacity).
  class Lane {
   public:
    bool empty() const { return head_ == tail_; }
    const LaneEntry& front() const { return ring_[head_ & (ring_.size() - 1)]; }
    const LaneEntry& back() const { return ring_[(tail_ - 1) & (ring_.size() - 1)]; }
    void pop_front() { ++head_; }
    void push_back(const LaneEntry& entry) {
      if (tail_ - head_ == ring_.size()) grow();
      ring_[tail_++ & (ring_.size() - 1)] = entry;
    }

   private:
    void grow() {
      std::vector<LaneEntry> bigger(std::max<std::size_t>(64, ring_.size() * 2));
      for (std::size_t i = head_; i != tail_; ++i) bigger[i - head_] = ring_[i & (ring_.size() - 1)];
      tail_ -= head_;
      head_ = 0;
      ring_.swap(bigger);
    }
    std::vector<LaneEntry> ring_;
    std::size_t head_ = 0;  // positions grow without bound; the ring index is position & (size - 1)
    std::size_t tail_ = 0;
  };

  // Timers by id. Ids of the four lanes with targets below 2^32 (the core's
  // attempt numbers and JobIds, handed out 1, 2, 3, ...) live in pages of kPageSize
  // targets, allocated when a timer of the page is armed and freed when none of
  // it is armed any more, so nothing is ever copied or cleared in bulk; any other
  // id in a map.
  struct Page {
    Armed slots[kPageSize];
    std::size_t armed = 0;
  };
  static bool dense(TimerId id, std::size_t& lane, std::uint64_t& target) {
    lane = static_cast<std::size_t>(id >> 60);
    target = id & ((std::uint64_t{1} << 60) - 1);
    return lane < kLanes && target < kDenseTargets;
  }
  Armed* find(TimerId id) {
    std::size_t lane;
    std::uint64_t target;
    if (dense(id, lane, target)) {
      const std::uint64_t p = target >> kPageBits;
      if (p >= pages_[lane].size() || !pages_[lane][p]) return nullptr;
      Armed& armed = pages_[lane][p]->slots[target & (kPageSize - 1)];
      return armed.seq == 0 ? nullptr : &armed;
    }
    if (sparse_.empty()) return nullptr;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }
  const Armed* find(TimerId id) const { return const_cast<SimClock*>(this)->find(id); }
  Armed& slot_for(TimerId id) {
    std::size_t lane;
    std::uint64_t target;
    if (!dense(id, lane, target)) return sparse_[id];
    const auto p = static_cast<std::size_t>(target >> kPageBits);
    std::vector<std::unique_ptr<Page>>& pages = pages_[lane];
    if (p >= pages.size()) pages.resize(std::max<std::size_t>(p + 1, pages.size() * 3 / 2));
    if (!pages[p]) {
      if (spares_.empty()) {
        pages[p] = std::make_unique<Page>();
      } else {
        pages[p] = std::move(spares_.back());  // every slot of a freed page is unarmed
        spares_.pop_back();
      }
      first_page_[lane] = std::min(first_page_[lane], p);
    }
    Armed& armed = pages[p]->slots[target & (kPageSize - 1)];
    if (armed.seq == 0) ++pages[p]->armed;
    return armed;
  }
  void forget(TimerId id, Armed& armed) {
    armed.seq = 0;
    --armed_count_;
    std::size_t lane;
    std::uint64_t target;
    if (!dense(id, lane, target)) {
      sparse_.erase(id);
      return;
    }
    const auto p = static_cast<std::size_t>(target >> kPageBits);
    std::vector<std::unique_ptr<Page>>& pages = pages_[lane];
    if (--pages[p]->armed != 0) return;
    if (spares_.size() < kMaxSparePages) spares_.push_back(std::move(pages[p]));
    pages[p].reset();
    std::size_t& first = first_page_[lane];
    while (first < pages.size() && !pages[first]) ++first;
  }

  const Micros& now_;
  EventQueue<Event>& queue_;
  std::uint8_t orch_;
  Prng prng_;
  Ratio stale_ratio_{0, 1};
  std::uint64_t cancelled_ = 0;
  std::array<Lane, kLanes> lanes_;
  std::size_t best_lane_ = kNoLane;  // the lane next_in_lanes() found; kNoLane: look again
  std::array<std::vector<std::unique_ptr<Page>>, kLanes> pages_;  // by target / kPageSize
  std::array<std::size_t, kLanes> first_page_{};  // no page below it is allocated
  std::vector<std::unique_ptr<Page>> spares_;     // freed pages, every slot unarmed
  std::unordered_map<TimerId, Armed> sparse_;
  std::size_t armed_count_ = 0;
  std::unordered_map<std::uint64_t, TimerId> stale_;  // seq -> id of cancelled timers still to fire
};

}  // namespace aipool::sim
