#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace aipool {

// The one place in src/core that writes anything: a broken invariant, just before
// the process aborts (DET-1 allows it because it ends the run).
void check_failed(const char* condition, const char* message, const char* file, int line) {
  std::fputs("aipool invariant broken: ", stderr);
  std::fputs(message, stderr);
  std::fputs(" (", stderr);
  std::fputs(condition, stderr);
  std::fputs(") at ", stderr);
  std::fputs(file, stderr);
  char digits[16];
  int n = 0;
  unsigned value = line > 0 ? static_cast<unsigned>(line) : 0U;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < 15);
  std::fputc(':', stderr);
  while (n > 0) std::fputc(digits[--n], stderr);
  std::fputc('\n', stderr);
  std::abort();
}

}  // namespace aipool
