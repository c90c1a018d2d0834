#include "net/process_memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace aipool::net {

void keep_large_buffers(std::size_t retain_bytes) {
#if defined(__GLIBC__)
  // Blocks up to glibc's largest heap allocation (32 MiB on 64-bit) come from the
  // heap instead of their own mapping; larger ones are still mapped and unmapped.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // A heap's free top is given back only beyond this size.
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(retain_bytes));
#else
  (void)retain_bytes;
#endif
}

}  // namespace aipool::net
