#include "net/os_random.h"

#include <sys/random.h>

#include <cerrno>
#include <random>

namespace aipool::net {

std::uint64_t OsRandom::next_u64() {
  std::uint64_t value = 0;
  auto* out = reinterpret_cast<unsigned char*>(&value);
  std::size_t got = 0;
  while (got < sizeof(value)) {
    const ssize_t n = getrandom(out + got, sizeof(value) - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // No getrandom (very old kernel, seccomp): fall back to the C++ library's source.
      thread_local std::random_device device;
      return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }
  }
  return value;
}

}  // namespace aipool::net
