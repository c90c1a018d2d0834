// File: trace.h
// Text for people: simulated times ("12.5s") and the names of event kinds.
// World::describe_event and the trace lines are built from these (trace.cc).
//
// Contract: pure functions.
#pragma once

#include <string>

#include "seams/types.h"
#include "sim/event.h"

namespace aipool::sim {

// "0s", "1.5s", "12.000250s": seconds, with only the digits that are not 0.
std::string time_text(Micros t);

}  // namespace aipool::sim
