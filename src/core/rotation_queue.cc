#include "core/rotation_queue.h"

#include "core/check.h"

namespace aipool {

void RotationQueue::enter(Seat& seat) {
  // A cursor past the last member means the ring starts over at the lowest label.
  if (present_.next(cut_) == IndexSet::npos) cut_ = 0;
  // Appending a label puts the seat at the back only if no member sits before the
  // cursor; otherwise (or when holes dominate) rewrite the labels in queue order.
  const bool members_before_cut = !present_.empty() && present_.next(0) < cut_;
  const bool mostly_holes = next_label_ > 64 && next_label_ > 2 * present_.size();
  if (members_before_cut || mostly_holes) relabel_in_queue_order();

  seat.label = next_label_++;
  if (by_label_.size() < next_label_) by_label_.resize(next_label_ * 2, nullptr);
  present_.reserve_universe(by_label_.size());
  free_.reserve_universe(by_label_.size());
  by_label_[seat.label] = &seat;
  present_.insert(seat.label);
  if (seat.has_free_slot()) free_.insert(seat.label);
}

void RotationQueue::leave(Seat& seat) {
  AIPOOL_CHECK(seat.label < by_label_.size() && by_label_[seat.label] == &seat, "leave: the seat is not in this queue");
  by_label_[seat.label] = nullptr;
  present_.erase(seat.label);
  free_.erase(seat.label);
}

void RotationQueue::slots_changed(Seat& seat) {
  AIPOOL_CHECK(seat.label < by_label_.size() && by_label_[seat.label] == &seat,
               "slots_changed: the seat is not in this queue");
  if (seat.has_free_slot()) {
    free_.insert(seat.label);
  } else {
    free_.erase(seat.label);
  }
}

std::vector<const Seat*> RotationQueue::order() const {
  std::vector<const Seat*> out;
  out.reserve(present_.size());
  const std::size_t count = present_.size();
  std::size_t label = present_.next_cyclic(cut_);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(by_label_[label]);
    label = present_.next_cyclic(label + 1);
  }
  return out;
}

void RotationQueue::relabel_in_queue_order() {
  std::vector<const Seat*> queue = order();
  std::vector<Seat*> relabelled(queue.size() * 2 + 64, nullptr);
  present_.reset(relabelled.size());
  free_.reset(relabelled.size());
  for (std::size_t i = 0; i < queue.size(); ++i) {
    Seat* seat = by_label_[queue[i]->label];
    seat->label = i;
    relabelled[i] = seat;
    present_.insert(i);
    if (seat->has_free_slot()) free_.insert(i);
  }
  by_label_ = std::move(relabelled);
  cut_ = 0;
  next_label_ = queue.size();
}

}  // namespace aipool
