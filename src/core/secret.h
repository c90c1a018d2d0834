// File: secret.h
// The one comparison of a presented secret with the expected one, used by the core
// for a worker's registration (CONN-1) and by the orchestrator's HTTP layer for a
// result post (RES-4).
//
// Contract: pure, thread-safe; the time taken depends on the lengths only, never on
// where the two texts differ, so a caller cannot learn a secret byte by byte.
#pragma once

#include <string_view>

namespace aipool {

bool same_secret(std::string_view given, std::string_view expected);

}  // namespace aipool
