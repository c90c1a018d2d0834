#include "net/http_body.h"

#include <Poco/Net/NetException.h>

#include <algorithm>
#include <limits>

namespace aipool::net {
namespace {

// HTTPSession::read (buffered bytes first, then the socket directly for the rest)
// and HTTPSession::write (the socket directly) are protected; a derived class may
// name them, and the pointers then work on any session.
struct SessionAccess : Poco::Net::HTTPSession {
  static constexpr auto kRead = &SessionAccess::read;
  static constexpr auto kWrite = &SessionAccess::write;
};

constexpr std::size_t kMaxCall = static_cast<std::size_t>(std::numeric_limits<int>::max() / 2);

}  // namespace

std::size_t read_body_exactly(Poco::Net::HTTPSession& session, char* out, std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    const auto want = static_cast<std::streamsize>(std::min(length - done, kMaxCall));
    const int n = (session.*SessionAccess::kRead)(out + done, want);
    if (n <= 0) break;  // the peer closed the connection
    done += static_cast<std::size_t>(n);
  }
  return done;
}

void write_body(Poco::Net::HTTPSession& session, const char* data, std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    const auto want = static_cast<std::streamsize>(std::min(length - done, kMaxCall));
    const int n = (session.*SessionAccess::kWrite)(data + done, want);
    if (n <= 0) throw Poco::Net::NetException("cannot write the HTTP body to the socket");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace aipool::net
