// File: raw_socket.h
// Test aid: a blocking TCP client on 127.0.0.1 that sends exact bytes and reads
// exact bytes, with bounded waits, to try an HTTP server as an attacker would
// (slow, idle, malformed, pipelined). Tests only.
//
// Contract: every read waits at most the timeout given; errors are reported as an
// empty result or false, never thrown. Not thread-safe; one socket per object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace aipool::testing {

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (fd_ >= 0) {
      int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view bytes) {
    while (!bytes.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return fd_ >= 0;
  }
  // Everything until the peer closes or `timeout` passes.
  std::string read_all(std::chrono::milliseconds timeout) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (read_some(out, until) > 0) {
    }
    return out;
  }
  // One HTTP response (head and Content-Length body), or what came before `timeout`.
  std::string read_response(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const std::size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        const std::size_t at = lower(pending_.substr(0, end)).find("content-length:");
        if (at != std::string::npos) length = std::strtoull(pending_.c_str() + at + 15, nullptr, 10);
        if (pending_.size() >= end + 4 + length) {
          std::string response = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return response;
        }
      }
      if (read_some(pending_, until) <= 0) {
        std::string partial = std::move(pending_);
        pending_.clear();
        return partial;
      }
    }
  }
  // Reads until `needle` is among the bytes received and not yet taken by
  // read_response() or take(); returns them all (kept), or what came before `timeout`.
  std::string read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (pending_.find(needle) == std::string::npos) {
      if (read_some(pending_, until) <= 0) break;
    }
    return pending_;
  }
  // Takes (and forgets) what read_until() has kept.
  std::string take() { return std::exchange(pending_, std::string()); }
  // True when the peer has closed the connection within `timeout` (what it sent
  // meanwhile is dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    std::string ignored;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const int n = read_some(ignored, until);
      if (n == 0) return true;
      if (n < 0) return n == -2;
    }
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
  }
  // >0 bytes appended; 0 the peer closed; -1 timeout; -2 error (reset: closed too).
  int read_some(std::string& out, std::chrono::steady_clock::time_point until) {
    if (fd_ < 0) return -2;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return -1;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return -2;
    out.append(buffer, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  std::string pending_;
};

}  // namespace aipool::testing
