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
#include <deque>
#include <algorithm>
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

  // The earliest timer of the lanes, or nullptr. It may have been cancelled
  // since: take() says so when the run loop gets to it (as for the queue).
  const LaneEntry* next_in_lanes() const {
    const LaneEntry* best = nullptr;
    for (const std::deque<LaneEntry>& lane : lanes_) {
      if (lane.empty()) continue;
      const LaneEntry& front = lane.front();
      if (best == nullptr || front.at < best->at || (front.at == best->at && front.seq < best->seq)) {
        best = &front;
      }
    }
    return best;
  }
  // Removes the lane entry next_in_lanes() returned.
  void pop_lane(std::uint64_t seq) {
    for (std::deque<LaneEntry>& lane : lanes_) {
      if (!lane.empty() && lane.front().seq == seq) {
        lane.pop_front();
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
      for (std::size_t t = low_[lane]; t - base_[lane] < dense_[lane].size(); ++t) {
        const Armed& armed = dense_[lane][t - base_[lane]];
        if (armed.seq != 0) f((TimerId{lane} << 60) | t, armed);
      }
    }
    for (const auto& [id, armed] : sparse_) f(id, armed);
  }
  std::size_t armed_count() const { return armed_count_; }

 private:
  static constexpr std::size_t kLanes = 4;
  static constexpr std::uint64_t kDenseTargets = std::uint64_t{1} << 32;

  // Timers by id. Ids of the four lanes with targets below 2^32 (the core's
  // TaskIDs and JobIds, handed out 1, 2, 3, ...) live in a dense window per lane,
  // [base, base + size), which slides forward as the oldest end; any other id,
  // or one below its lane's window, in a map.
  bool dense(TimerId id, std::size_t& lane, std::uint64_t& target) const {
    lane = static_cast<std::size_t>(id >> 60);
    target = id & ((std::uint64_t{1} << 60) - 1);
    return lane < kLanes && target < kDenseTargets && target >= base_[lane];
  }
  Armed* find(TimerId id) {
    std::size_t lane;
    std::uint64_t target;
    if (dense(id, lane, target)) {
      const std::uint64_t i = target - base_[lane];
      if (i >= dense_[lane].size() || dense_[lane][i].seq == 0) return nullptr;
      return &dense_[lane][i];
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
    const std::uint64_t i = target - base_[lane];
    std::vector<Armed>& window = dense_[lane];
    if (i >= window.size()) window.resize(std::max<std::size_t>(i + 1, window.size() * 3 / 2));
    if (target < low_[lane]) low_[lane] = target;
    return window[i];
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
    std::vector<Armed>& window = dense_[lane];
    std::size_t& low = low_[lane];  // skip the ended prefix
    while (low - base_[lane] < window.size() && window[low - base_[lane]].seq == 0 && low <= target) ++low;
    const std::size_t dead = low - base_[lane];
    if (dead >= 4096 && dead * 2 >= window.size()) {  // slide the window
      window.erase(window.begin(), window.begin() + static_cast<std::ptrdiff_t>(dead));
      base_[lane] = low;
    }
  }

  const Micros& now_;
  EventQueue<Event>& queue_;
  std::uint8_t orch_;
  Prng prng_;
  Ratio stale_ratio_{0, 1};
  std::uint64_t cancelled_ = 0;
  std::array<std::deque<LaneEntry>, kLanes> lanes_;
  std::array<std::vector<Armed>, kLanes> dense_;
  std::array<std::uint64_t, kLanes> base_{};  // the first target of each lane's window
  std::array<std::uint64_t, kLanes> low_{};   // no armed target of the window is below it
  std::unordered_map<TimerId, Armed> sparse_;
  std::size_t armed_count_ = 0;
  std::unordered_map<std::uint64_t, TimerId> stale_;  // seq -> id of cancelled timers still to fire
};

}  // namespace aipool::sim
