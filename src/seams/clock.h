// File: clock.h
// Seam: time. The core never reads a clock of its own (DET-1); it asks this
// interface for the time and for timers.
//
// Contract:
//  - now() never goes backwards.
//  - arm_timer(id, at) asks the driver to call Broker::timer_fired(id) once, at
//    or after `at`, from the same thread or strand that drives the core. Arming an
//    id that is already armed replaces its deadline.
//  - cancel_timer(id) forgets the timer if it has not fired; cancelling an unknown
//    or fired id does nothing. A timer may still fire after cancel_timer if the
//    driver had already queued it; the core ignores such stale firings (TIME-4).
//  - Neither call may call back into the core (DET-2).
// Implementations: production (src/net) uses the steady clock and a timer thread;
// the simulator (sim/) uses virtual time that jumps to the next deadline.
#pragma once

#include <cstdint>

#include "seams/types.h"

namespace aipool {

using TimerId = std::uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;
  virtual void arm_timer(TimerId id, Micros at) = 0;
  virtual void cancel_timer(TimerId id) = 0;
};

}  // namespace aipool
