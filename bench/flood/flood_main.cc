// aipool-flood: holds thousands of HTTP connections against an orchestrator from one
// thread (Boost.Asio), to measure what the event-driven server promises
// (spec/http.md): many clients waiting at once on long jobs, and idle or slow
// connections held open while other tools measure. bench/concurrency.sh runs it.
//
//   -waiting N   N clients post one test/sleep job each, all at once, and wait for
//                the answers; it reports how many got 200, the latest answer past
//                the job's own time, and (with -orchPid) the orchestrator's RSS
//                growth per waiting client.
//   -idle N -slow M -seconds S   opens N connections that send nothing and M that
//                send a request head one byte a second, holds them S seconds, and
//                reports how many the server closed.
#include <gflags/gflags.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../process_rss.h"

DEFINE_int32(port, 8936, "orchestrator HTTP port");
DEFINE_int32(waiting, 0, "clients that each post one job at once and wait for it");
DEFINE_int32(sleepMs, 5000, "sleep_ms of each waiting client's test/sleep job");
DEFINE_int32(idle, 0, "connections held open that send nothing");
DEFINE_int32(slow, 0, "connections that send a request head one byte a second");
DEFINE_double(seconds, 10, "how long -idle and -slow connections are held");
DEFINE_int32(orchPid, 0, "orchestrator process id: report its RSS growth (with -waiting)");

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

using aipool::bench::rss_kib;

void raise_file_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

// One waiting client: connect, send the job, read until the answer is complete.
struct Waiter : std::enable_shared_from_this<Waiter> {
  Waiter(asio::io_context& ioc, std::string request) : socket(ioc), request(std::move(request)) {}
  void start(const tcp::endpoint& endpoint) {
    socket.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->finish(0);
      asio::async_write(self->socket, asio::buffer(self->request),
                        [self](boost::system::error_code wec, std::size_t) {
                          if (wec) return self->finish(0);
                          self->sent = Clock::now();
                          self->read();
                        });
    });
  }
  void read() {
    socket.async_read_some(asio::buffer(buffer), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->answer.append(self->buffer.data(), n);
      const std::size_t end = self->answer.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::size_t at = self->answer.find("Content-Length: ");
        const std::size_t length = at == std::string::npos ? 0 : std::stoul(self->answer.substr(at + 16));
        if (self->answer.size() >= end + 4 + length) {
          return self->finish(std::atoi(self->answer.c_str() + 9));
        }
      }
      if (ec) return self->finish(0);
      self->read();
    });
  }
  void finish(int code) {
    status = code;
    answered = Clock::now();
    boost::system::error_code ignored;
    socket.close(ignored);
  }
  tcp::socket socket;
  std::string request;
  std::array<char, 4096> buffer{};
  std::string answer;
  Clock::time_point sent{};
  Clock::time_point answered{};
  int status = -1;
};

int run_waiting(const tcp::endpoint& endpoint) {
  asio::io_context ioc;
  const std::string json = R"({"model_id":"test/sleep","prompt":"w","sleep_ms":)" + std::to_string(FLAGS_sleepMs) + "}";
  const std::string request = "POST /text-to-image HTTP/1.1\r\nHost: o\r\nContent-Type: application/json\r\n"
                              "Connection: close\r\nContent-Length: " + std::to_string(json.size()) + "\r\n\r\n" + json;
  const std::int64_t rss_before = FLAGS_orchPid > 0 ? rss_kib(FLAGS_orchPid) : 0;
  std::atomic<std::int64_t> rss_peak{rss_before};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done && FLAGS_orchPid > 0) {
      rss_peak = std::max<std::int64_t>(rss_peak, rss_kib(FLAGS_orchPid));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<std::shared_ptr<Waiter>> waiters;
  const auto start = Clock::now();
  for (int i = 0; i < FLAGS_waiting; ++i) {
    waiters.push_back(std::make_shared<Waiter>(ioc, request));
    waiters.back()->start(endpoint);
  }
  ioc.run();
  done = true;
  sampler.join();
  int ok = 0;
  double worst_ms = 0;
  std::vector<double> late_ms;
  for (const auto& w : waiters) {
    if (w->status == 200) ++ok;
    if (w->status == 200) {
      const double ms = std::chrono::duration<double, std::milli>(w->answered - w->sent).count() - FLAGS_sleepMs;
      late_ms.push_back(ms);
      worst_ms = std::max(worst_ms, ms);
    }
  }
  std::sort(late_ms.begin(), late_ms.end());
  const auto pct = [&](int p) { return late_ms.empty() ? 0.0 : late_ms[late_ms.size() * p / 100]; };
  Clock::time_point last_sent = start;
  for (const auto& w : waiters) last_sent = std::max(last_sent, w->sent);
  std::printf("waiting clients: %d, answered 200: %d, others: %d; all sent within %.2f s\n", FLAGS_waiting, ok,
              FLAGS_waiting - ok, std::chrono::duration<double>(last_sent - start).count());
  std::printf("answer past the job's own %d ms: p50 %.0f ms, p99 %.0f ms, worst %.0f ms (goal: worst <= 1000); "
              "wall %.1f s\n",
              FLAGS_sleepMs, pct(50), pct(99), worst_ms, std::chrono::duration<double>(Clock::now() - start).count());
  if (FLAGS_orchPid > 0) {
    const double per_client = static_cast<double>(rss_peak - rss_before) / std::max(1, FLAGS_waiting);
    std::printf("orchestrator RSS: %lld KiB before, %lld KiB peak: %.2f KiB per waiting client (goal < 20)\n",
                static_cast<long long>(rss_before), static_cast<long long>(rss_peak.load()), per_client);
  }
  return ok == FLAGS_waiting ? 0 : 1;
}

int run_flood(const tcp::endpoint& endpoint) {
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  std::vector<std::unique_ptr<tcp::socket>> slow;
  int failed = 0;
  for (int i = 0; i < FLAGS_idle + FLAGS_slow; ++i) {
    auto s = std::make_unique<tcp::socket>(ioc);
    boost::system::error_code ec;
    s->connect(endpoint, ec);
    if (ec) {
      ++failed;
      continue;
    }
    (i < FLAGS_idle ? idle : slow).push_back(std::move(s));
  }
  std::printf("flood: %zu idle and %zu slow connections open (%d failed to connect)\n", idle.size(), slow.size(),
              failed);
  std::fflush(stdout);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: o\r\nX-Slow: ";
  const auto until = Clock::now() + std::chrono::duration<double>(FLAGS_seconds);
  std::size_t at = 0;
  while (Clock::now() < until) {
    for (auto& s : slow) {
      boost::system::error_code ec;
      asio::write(*s, asio::buffer(at < head.size() ? &head[at] : "a", 1), ec);
    }
    ++at;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const auto closed = [](std::vector<std::unique_ptr<tcp::socket>>& sockets) {
    int n = 0;
    for (auto& s : sockets) {
      s->non_blocking(true);
      char byte;
      boost::system::error_code ec;
      const std::size_t got = s->read_some(asio::buffer(&byte, 1), ec);
      n += got > 0 || (ec && ec != asio::error::would_block);  // an answer (408) or the close
    }
    return n;
  };
  std::printf("flood: after %.0f s the server had answered or closed %d of %zu idle and %d of %zu slow connections\n",
              FLAGS_seconds, closed(idle), idle.size(), closed(slow), slow.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("holds many HTTP connections against an aipool orchestrator (bench/README.md)");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  raise_file_limit();
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(FLAGS_port));
  if (FLAGS_waiting > 0) return run_waiting(endpoint);
  if (FLAGS_idle > 0 || FLAGS_slow > 0) return run_flood(endpoint);
  std::fprintf(stderr, "aipool-flood: give -waiting N, or -idle N and/or -slow M\n");
  return 2;
}
