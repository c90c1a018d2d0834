// aipool-quarantine-fraction: how fast quarantine (spec/core.md QUAR-1..QUAR-7) takes
// a broken worker out of the rotation. The real Broker, on a virtual clock of its
// own, serves N workers of one key under a steady load; F of them fail every job
// (after a short delay), the others succeed after a latency drawn from a seeded
// generator. Prints, per window, the attempts made, those sent to the failing
// workers and their fraction; with --max-fraction X --after T it exits 1 when a
// window that starts at or after T seconds exceeds X (the goal of issue 16: one of 8
// workers failing every job gets under 1 % of the attempts within a minute).
//
// Usage: aipool-quarantine-fraction [--workers 8] [--failing 1] [--capacity 4]
//          [--rate 20] [--seconds 300] [--window 10] [--quarantine-after 3]
//          [--cooldown 30] [--max-cooldown 600] [--max-fraction 0.01 --after 60]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "core/broker.h"

namespace {

using aipool::Micros;
constexpr Micros kSecond = aipool::kMicrosPerSecond;

struct Options {
  int workers = 8;
  int failing = 1;
  int capacity = 4;
  double rate = 20;  // jobs per second
  int seconds = 300;
  int window = 10;
  int quarantine_after = 3;
  int cooldown = 30;
  int max_cooldown = 600;
  double max_fraction = -1;  // < 0: report only
  int after = 60;
};

// One thing due at a time: a timer the Broker armed, or a worker's report.
struct Due {
  Micros at = 0;
  std::uint64_t seq = 0;
  bool timer = false;
  aipool::TimerId id = 0;      // timer
  aipool::TaskId task = 0;     // report
  aipool::WorkerId worker = 0;
  bool ok = false;
  bool operator>(const Due& other) const { return at != other.at ? at > other.at : seq > other.seq; }
};

class Clock final : public aipool::Clock {
 public:
  Micros now() const override { return now_; }
  void arm_timer(aipool::TimerId id, Micros at) override { armed_[id] = push(Due{at, 0, true, id, 0, 0, false}); }
  void cancel_timer(aipool::TimerId id) override { armed_.erase(id); }
  std::uint64_t push(Due due) {
    due.seq = next_seq_++;
    queue_.push(due);
    return due.seq;
  }
  // A timer still armed with this sequence (not cancelled or re-armed since).
  bool live(const Due& due) {
    const auto it = armed_.find(due.id);
    if (it == armed_.end() || it->second != due.seq) return false;
    armed_.erase(it);
    return true;
  }
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue_;
  Micros now_ = 0;

 private:
  std::map<aipool::TimerId, std::uint64_t> armed_;
  std::uint64_t next_seq_ = 1;
};

class Transport final : public aipool::WorkerTransport {
 public:
  bool send(const aipool::JobNotice& notice) override {
    sent.push_back({notice.worker, notice.task});
    return true;
  }
  void close(aipool::WorkerId, std::string_view) override {}
  std::vector<std::pair<aipool::WorkerId, aipool::TaskId>> sent;
};

std::uint64_t next_random(std::uint64_t& state) {  // splitmix64
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const double v = std::atof(argv[i + 1]);
    if (flag == "--workers") o.workers = static_cast<int>(v);
    else if (flag == "--failing") o.failing = static_cast<int>(v);
    else if (flag == "--capacity") o.capacity = static_cast<int>(v);
    else if (flag == "--rate") o.rate = v;
    else if (flag == "--seconds") o.seconds = static_cast<int>(v);
    else if (flag == "--window") o.window = static_cast<int>(v);
    else if (flag == "--quarantine-after") o.quarantine_after = static_cast<int>(v);
    else if (flag == "--cooldown") o.cooldown = static_cast<int>(v);
    else if (flag == "--max-cooldown") o.max_cooldown = static_cast<int>(v);
    else if (flag == "--max-fraction") o.max_fraction = v;
    else if (flag == "--after") o.after = static_cast<int>(v);
    else return false;
  }
  return (argc % 2) == 1 && o.workers > o.failing && o.failing >= 0 && o.rate > 0 && o.window > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: see the comment at the top of bench/quarantine_fraction.cc\n");
    return 2;
  }
  Clock clock;
  Transport transport;
  aipool::BrokerConfig config;
  config.secret = "bench";
  config.task_id_key = aipool::SipKey{1, 2};
  config.queue_limit = 1 << 20;
  config.quarantine = {static_cast<std::uint32_t>(o.quarantine_after), o.cooldown * kSecond, o.max_cooldown * kSecond};
  aipool::Broker broker(config, clock, transport);
  const aipool::Key key{aipool::Pipeline::kTextToImage, "m"};
  // Workers 1..failing fail every job; joined first, they head the rotation.
  for (int w = 1; w <= o.workers; ++w) {
    broker.worker_joined({static_cast<aipool::WorkerId>(w), "bench", "w", {{key, static_cast<std::uint32_t>(o.capacity)}}, 0});
  }
  std::uint64_t random = 42;
  const auto windows = static_cast<std::size_t>((o.seconds + o.window - 1) / o.window);
  std::vector<std::uint64_t> attempts(windows, 0), to_failing(windows, 0);
  const Micros gap = static_cast<Micros>(static_cast<double>(kSecond) / o.rate);
  const auto payload = std::make_shared<const std::string>("{}");
  Micros next_submit = 0;
  const Micros end = o.seconds * kSecond;
  const auto after_call = [&] {  // what the Broker sent during the last call
    for (const auto& [worker, task] : transport.sent) {
      const std::size_t window = static_cast<std::size_t>(clock.now_ / (o.window * kSecond));
      const bool failing = worker <= static_cast<aipool::WorkerId>(o.failing);
      if (window < windows) {
        ++attempts[window];
        if (failing) ++to_failing[window];
      }
      const Micros latency = failing ? kSecond / 5 : kSecond / 2 + static_cast<Micros>(next_random(random) % kSecond);
      clock.push(Due{clock.now_ + latency, 0, false, 0, task, worker, !failing});
    }
    transport.sent.clear();
  };
  while (next_submit < end || !clock.queue_.empty()) {
    const bool submit = next_submit < end && (clock.queue_.empty() || next_submit <= clock.queue_.top().at);
    if (submit) {
      clock.now_ = next_submit;
      next_submit += gap;
      broker.submit(key, payload, [](const aipool::JobOutcome&) {});
    } else {
      const Due due = clock.queue_.top();
      clock.queue_.pop();
      if (due.at > end + 60 * kSecond) break;  // only cool-down timers are left
      clock.now_ = due.at;
      if (due.timer) {
        if (clock.live(due)) broker.timer_fired(due.id);
      } else {
        aipool::Report report;
        report.credentials = "bench";
        report.task = due.task;
        report.from = due.worker;
        report.ok = due.ok;
        report.error = due.ok ? "" : "CUDA out of memory";
        if (due.ok) report.result = std::make_shared<const aipool::ResultBody>();
        broker.report(report);
      }
    }
    after_call();
  }
  int status = 0;
  std::printf("workers=%d failing=%d capacity=%d rate=%.1f/s quarantine_after=%d cooldown=%ds max_cooldown=%ds\n",
              o.workers, o.failing, o.capacity, o.rate, o.quarantine_after, o.cooldown, o.max_cooldown);
  std::printf("%-12s %9s %11s %9s\n", "window", "attempts", "to_failing", "fraction");
  for (std::size_t i = 0; i < windows; ++i) {
    const double fraction = attempts[i] == 0 ? 0 : static_cast<double>(to_failing[i]) / static_cast<double>(attempts[i]);
    const long start = static_cast<long>(i) * o.window;
    const bool over = o.max_fraction >= 0 && start >= o.after && fraction > o.max_fraction;
    std::printf("%4ld-%4lds %9llu %11llu %8.2f%%%s\n", start, start + o.window, static_cast<unsigned long long>(attempts[i]),
                static_cast<unsigned long long>(to_failing[i]), fraction * 100, over ? "  OVER" : "");
    if (over) status = 1;
  }
  return status;
}
