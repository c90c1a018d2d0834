// The core's rotation queue (src/core/rotation_queue.h), the structure that
// makes selection O(1) amortised (SEL-5), against the plain list SEL-1, SEL-2
// and SEL-4 describe: random joins, leaves, slot changes and picks, with up to
// a few hundred seats so that its label rewriting and every level of its
// IndexSet are exercised.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "core/rotation_queue.h"

namespace aipool {
namespace {

// Proves RotationQueue keeps the SEL-1 queue (joins at the back), removes a
// leaving seat without reordering the others (SEL-4) and picks as SEL-2 scans:
// the first seat with a free slot that the job may use, rotating the scanned
// ones to the back, and leaving the order alone when there is none.
RC_GTEST_PROP(RotationQueueModel, MatchesThePlainList, ()) {
  const int steps = *rc::gen::inRange(1, 600);
  const int spread = *rc::gen::inRange(4, 300);  // how many seats tend to be present
  std::deque<Seat> seats;                       // stable addresses; a seat never re-enters
  std::vector<Seat*> model;                     // head first
  RotationQueue queue;
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 10);
    if (op < 3 || model.empty()) {
      if (static_cast<int>(model.size()) >= spread && !model.empty()) continue;
      const auto capacity = static_cast<std::uint32_t>(*rc::gen::inRange(1, 4));
      seats.push_back(Seat{static_cast<WorkerId>(seats.size() + 1), 0, capacity, 0, 0});
      queue.enter(seats.back());
      model.push_back(&seats.back());
    } else if (op < 5) {
      const auto i = *rc::gen::inRange<std::size_t>(0, model.size());
      queue.leave(*model[i]);
      model.erase(model.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (op < 7) {
      Seat* seat = model[*rc::gen::inRange<std::size_t>(0, model.size())];
      seat->in_use = static_cast<std::uint32_t>(*rc::gen::inRange<int>(0, static_cast<int>(seat->capacity) + 1));
      queue.slots_changed(*seat);
    } else {
      // A job that has tried some workers: a random subset is not eligible.
      const int skip_mod = *rc::gen::inRange(1, 5);
      const auto eligible = [skip_mod](const Seat& seat) { return seat.worker % static_cast<WorkerId>(skip_mod) != 0 || skip_mod == 1; };
      Seat* got = queue.pick(eligible);
      Seat* want = nullptr;
      for (std::size_t i = 0; i < model.size(); ++i) {
        if (model[i]->has_free_slot() && eligible(*model[i])) {
          want = model[i];
          std::rotate(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(i + 1), model.end());
          break;
        }
      }
      RC_ASSERT(got == want);
    }
    RC_ASSERT(queue.size() == model.size());
    bool any_free = false;
    for (const Seat* seat : model) any_free = any_free || seat->has_free_slot();
    RC_ASSERT(queue.any_free() == any_free);
    const std::vector<const Seat*> order = queue.order();
    RC_ASSERT(std::equal(order.begin(), order.end(), model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace aipool
