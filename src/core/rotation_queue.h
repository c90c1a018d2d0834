// File: rotation_queue.h
// One key's round-robin queue of seats (SEL-1, SEL-2, SEL-4), with selection in
// O(1) amortised per dispatch whatever the number of workers (SEL-5).
//
// How: SEL-2 moves every scanned worker, skipped or chosen, from the head to the
// back in scan order; that is a rotation, so the queue is a ring with a cursor that
// never moves anyone. Each seat has a label (its ring position); the cursor `cut_`
// is the label to scan first. Seats with a free slot are also kept in an IndexSet,
// so "the first free seat at or after the cursor" is a few word operations instead
// of a walk over full workers. A joining seat goes to the back, that is just before
// the cursor: when the ring does not start at label 0 the labels are rewritten in
// queue order first (linear in the key's seats, and only on joins).
//
// Contract: single-threaded; seats outlive their membership (call leave() before
// destroying one); call slots_changed() after every change of a seat's in_use or
// capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/index_set.h"
#include "core/seat_health.h"
#include "seams/types.h"

namespace aipool {

struct Worker;  // worker_pool.h

// One worker's place, capacity and slots for one key.
struct Seat {
  WorkerId worker = 0;
  std::uint32_t key = 0;  // the key's index in the WorkerPool
  std::uint32_t capacity = 0;
  std::uint32_t in_use = 0;
  std::size_t label = 0;  // ring position, owned by the RotationQueue
  Worker* owner = nullptr;  // the worker it belongs to, set by the WorkerPool
  SeatHealth health{};      // QUAR-1, changed only by the Broker's Quarantine

  bool has_free_slot() const { return in_use < capacity; }
};

class RotationQueue {
 public:
  // Puts the seat at the back of the queue (SEL-1).
  void enter(Seat& seat);
  // Removes the seat; the others keep their order (SEL-4).
  void leave(Seat& seat);
  // Re-files the seat after its in_use or capacity changed.
  void slots_changed(Seat& seat);

  // SEL-2: the first seat, from the head, that has a free slot and for which
  // eligible(seat) holds; the scan rotates the queue past it. nullptr (and no
  // change of order) when there is none. Cost: O(levels) per skipped or chosen
  // seat; only seats with a free slot are ever looked at.
  template <typename Eligible>
  Seat* pick(Eligible&& eligible) {
    const std::size_t candidates = free_.size();
    std::size_t label = free_.next_cyclic(cut_);
    for (std::size_t seen = 0; seen < candidates; ++seen) {
      Seat* seat = by_label_[label];
      if (eligible(*seat)) {
        cut_ = label + 1;
        return seat;
      }
      label = free_.next_cyclic(label + 1);
    }
    return nullptr;
  }

  std::size_t size() const { return present_.size(); }
  bool empty() const { return present_.empty(); }
  // True when at least one seat has a free slot.
  bool any_free() const { return !free_.empty(); }
  // The queue, head first. Linear; for tests, checks and snapshots.
  std::vector<const Seat*> order() const;

 private:
  void relabel_in_queue_order();

  std::vector<Seat*> by_label_;  // nullptr where a seat left
  IndexSet present_;             // labels of seats in the queue
  IndexSet free_;                // labels of seats with a free slot
  std::size_t cut_ = 0;          // the label the next scan starts from
  std::size_t next_label_ = 0;   // labels are handed out in increasing order
};

}  // namespace aipool
