// File: http_server_impl.h
// Internal to http_server.cc and http_connection.cc: the server's shared state (the
// io_context, the acceptor, the connection count and the body budgets) and the
// entry point of one connection. Not for use outside those two files.
//
// Threads: the members are touched by the server's event-loop threads; the
// counters and budgets are atomics, the rest is set before start() returns.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "net/http_server.h"

namespace aipool::net {

// Bytes of request bodies held at once, against a limit. Thread-safe.
class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(limit) {}
  // Takes `n` bytes if they fit under the limit; false (nothing taken) otherwise.
  bool reserve(std::size_t n) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used > limit_ || n > limit_ - used) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void release(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

struct HttpServer::Impl {
  Impl(HttpServerConfig c, HttpHandler h)
      : config(std::move(c)),
        handler(std::move(h)),
        client_budget(config.max_body_bytes_in_flight),
        reserved_budget(config.max_body_bytes_in_flight) {}

  bool is_reserved(std::string_view path) const {
    for (const std::string& p : config.reserved_paths) {
      if (p == path) return true;
    }
    return false;
  }

  // Declared before the io_context, so destroyed after it: the connections it still
  // holds when it is destroyed uncount themselves and return their bytes.
  const HttpServerConfig config;
  const HttpHandler handler;
  int port = 0;
  std::atomic<std::size_t> connections{0};
  // Requests handed to the handler whose answer is not yet written (stop()'s grace).
  std::atomic<std::size_t> answers_due{0};
  std::atomic<bool> stopping{false};
  ByteBudget client_budget;
  ByteBudget reserved_budget;
  std::unique_ptr<boost::asio::ssl::context> tls;  // set by listen() for TLS; null: plain
  // One event loop per thread (HTTP-7): `ioc` accepts and serves, the others only
  // serve; each accepted connection is given to the next loop in turn and stays on it.
  std::vector<std::unique_ptr<boost::asio::io_context>> more_loops;
  boost::asio::io_context ioc{1};
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  boost::asio::steady_timer accept_retry{ioc};
  std::size_t next_loop = 0;  // on ioc's thread only
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running;
  std::vector<std::thread> threads;
};

// Serves one accepted connection until it closes. Counts it in `server.connections`
// (and uncounts it when it ends); `over_cap` says it was accepted beyond the cap.
void serve_connection(HttpServer::Impl& server, boost::asio::ip::tcp::socket socket, bool over_cap);

}  // namespace aipool::net
