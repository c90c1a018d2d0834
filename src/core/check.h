// File: check.h
// AIPOOL_CHECK(condition, message): an invariant that stays on in every build
// (Release included). A failure is a bug in aipool, never bad input: it prints the
// message with file and line to stderr and aborts, so the simulator and the tests
// stop at the first broken invariant.
#pragma once

namespace aipool {
[[noreturn]] void check_failed(const char* condition, const char* message, const char* file,
                               int line);
}  // namespace aipool

#define AIPOOL_CHECK(condition, message)                                    \
  do {                                                                      \
    if (!(condition)) [[unlikely]] {                                        \
      ::aipool::check_failed(#condition, (message), __FILE__, __LINE__);    \
    }                                                                       \
  } while (false)
