#include "io/http_body.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketImpl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace aipool::io {
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

std::size_t read_some(Poco::Net::HTTPSession& session, char* out, std::size_t length) {
  if (length == 0) return 0;
  const int n = (session.*SessionAccess::kRead)(out, static_cast<std::streamsize>(std::min(length, kMaxCall)));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t read_body_exactly(Poco::Net::HTTPSession& session, char* out, std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    const std::size_t n = read_some(session, out + done, length - done);
    if (n == 0) break;  // the peer closed the connection
    done += n;
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

void write_body_pieces(Poco::Net::HTTPSession& session, std::span<const std::string_view> pieces) {
  std::vector<iovec> vec;
  vec.reserve(pieces.size());
  for (const std::string_view piece : pieces) {
    if (!piece.empty()) vec.push_back(iovec{const_cast<char*>(piece.data()), piece.size()});
  }
  const int fd = session.socket().impl()->sockfd();
  std::size_t first = 0;  // the first iovec not wholly sent
  while (first < vec.size()) {
    msghdr message{};
    message.msg_iov = vec.data() + first;
    message.msg_iovlen = std::min<std::size_t>(vec.size() - first, IOV_MAX);
    // MSG_NOSIGNAL: a peer that closed gives EPIPE here, not a signal.
    const ssize_t sent = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        throw Poco::TimeoutException("timed out writing the HTTP body to the socket");
      }
      throw Poco::Net::NetException(std::string("cannot write the HTTP body to the socket: ") + std::strerror(error));
    }
    auto left = static_cast<std::size_t>(sent);
    while (first < vec.size() && left >= vec[first].iov_len) left -= vec[first++].iov_len;
    if (left > 0) {
      vec[first].iov_base = static_cast<char*>(vec[first].iov_base) + left;
      vec[first].iov_len -= left;
    }
  }
}

}  // namespace aipool::io
