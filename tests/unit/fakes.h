// File: fakes.h
// Deterministic fakes of the seams (src/seams) and a small harness around one
// Broker, shared by the core unit tests.
//
// Contract:
//  - FakeClock never calls into the Broker on its own: timers are only fired by
//    the test, through advance_to() (DET-2 forbids re-entry from arm_timer).
//  - FakeTransport copies every notice (the model string included: a JobNotice's
//    string_view is valid only during send()). It records TaskIDs as sent.
//  - TaskIDs (TASK-1) are a keyed permutation of the attempts' numbers. Tests name
//    an attempt by its number (1 for the first attempt made) and the Harness turns
//    numbers into TaskIDs and back through the Broker's own permutation
//    (Broker::task_ids()), so that no test depends on the key or on a TaskID's value.
//  - Harness is neither copyable nor movable: the completion callbacks it hands
//    to the Broker point at it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/attempt_observer.h"
#include "core/broker.h"
#include "seams/clock.h"
#include "seams/random.h"
#include "seams/transport.h"
#include "seams/types.h"

namespace aipool::testing {

constexpr Micros kSecond = kMicrosPerSecond;
inline constexpr std::string_view kSecret = "s3cret";

inline Key key_of(std::string model = "m", Pipeline pipeline = Pipeline::kTextToImage) {
  return Key{pipeline, std::move(model)};
}

// prefix followed by n, e.g. tagged("job", 3) == "job3". (Spelled out instead of
// "literal" + std::to_string(n), which trips GCC 12's -Wrestrict false positive
// at -O3.)
inline std::string tagged(std::string_view prefix, std::int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

inline Payload payload_of(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// A tiny xorshift64 generator for seeded randomized tests (no std:: distributions,
// so a seed replays identically on every compiler).
struct XorShift {
  std::uint64_t state;
  explicit XorShift(std::uint64_t seed) : state(seed == 0 ? 0x9E3779B97F4A7C15ULL : seed) {}
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  // Uniform enough for tests; bound > 0.
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }
  bool chance(std::uint64_t percent) { return below(100) < percent; }
};

// ---------------------------------------------------------------- clock

class FakeClock : public Clock {
 public:
  Micros now() const override { return now_; }
  void arm_timer(TimerId id, Micros at) override {
    armed_[id] = at;
    arm_log_.emplace_back(id, at);
  }
  void cancel_timer(TimerId id) override {
    armed_.erase(id);
    cancel_log_.push_back(id);
  }

  // Moves time forward without firing anything.
  void set_now(Micros t) {
    EXPECT_GE(t, now_) << "FakeClock: time never goes backwards";
    now_ = t;
  }
  // Fires every timer due at or before `t`, earliest (deadline, id) first, with the
  // clock set to each timer's deadline; timers armed while firing are honoured if
  // due. Ends with now() == t.
  void advance_to(Broker& broker, Micros t) {
    for (;;) {
      std::optional<std::pair<Micros, TimerId>> due;
      for (const auto& [id, at] : armed_) {
        if (at > t) continue;
        if (!due || std::make_pair(at, id) < *due) due = std::make_pair(at, id);
      }
      if (!due) break;
      armed_.erase(due->second);
      if (due->first > now_) now_ = due->first;
      fired_.push_back(due->second);
      broker.timer_fired(due->second);
    }
    if (t > now_) now_ = t;
  }

  const std::map<TimerId, Micros>& armed() const { return armed_; }
  const std::vector<std::pair<TimerId, Micros>>& arm_log() const { return arm_log_; }
  const std::vector<TimerId>& cancel_log() const { return cancel_log_; }
  const std::vector<TimerId>& fired() const { return fired_; }
  // The ids ever armed for deadline `at` (a test picks distinct deadlines per kind).
  std::vector<TimerId> ids_armed_at(Micros at) const {
    std::vector<TimerId> out;
    for (const auto& [id, when] : arm_log_) {
      if (when == at) out.push_back(id);
    }
    return out;
  }
  bool is_armed_at(Micros at) const {
    for (const auto& [id, when] : armed_) {
      if (when == at) return true;
    }
    return false;
  }

 private:
  Micros now_ = 1'000 * kSecond;  // an arbitrary epoch: only differences matter
  std::map<TimerId, Micros> armed_;
  std::vector<std::pair<TimerId, Micros>> arm_log_;
  std::vector<TimerId> cancel_log_;
  std::vector<TimerId> fired_;
};

// ---------------------------------------------------------------- transport

struct SentNotice {
  WorkerId worker = 0;
  TaskId task = 0;
  Pipeline pipeline = Pipeline::kTextToImage;
  std::string model;
  Payload payload;
  bool delivered = false;  // false: send() returned false
};

using Dispatches = std::vector<std::pair<WorkerId, TaskId>>;

class FakeTransport : public WorkerTransport {
 public:
  bool send(const JobNotice& notice) override {
    const bool ok = !fail_for.contains(notice.worker);
    sends.push_back(SentNotice{notice.worker, notice.task, notice.pipeline,
                               std::string(notice.model), notice.payload, ok});
    return ok;
  }
  void close(WorkerId worker, std::string_view reason) override {
    closes.emplace_back(worker, std::string(reason));
  }

  // Every send, delivered or not, in order, as (worker, task).
  Dispatches dispatches() const {
    Dispatches out;
    for (const SentNotice& s : sends) out.emplace_back(s.worker, s.task);
    return out;
  }
  // The dispatches since index `from`.
  Dispatches dispatches_since(std::size_t from) const {
    Dispatches out;
    for (std::size_t i = from; i < sends.size(); ++i) out.emplace_back(sends[i].worker, sends[i].task);
    return out;
  }
  std::optional<WorkerId> worker_of(TaskId task) const {
    for (const SentNotice& s : sends) {
      if (s.task == task) return s.worker;
    }
    return std::nullopt;
  }
  // The newest send; a test failure (and an empty notice) if there is none.
  const SentNotice& last() const {
    static const SentNotice kNone{0, 0, Pipeline::kTextToImage, "", payload_of("<no send>"), false};
    if (sends.empty()) {
      ADD_FAILURE() << "nothing was sent";
      return kNone;
    }
    return sends.back();
  }
  // The request bytes of send `i`, or a marker if there is no such send.
  std::string payload_at(std::size_t i) const {
    if (i >= sends.size()) return tagged("<no send ", i) + ">";
    return sends[i].payload ? *sends[i].payload : "<null payload>";
  }
  std::string last_payload() const { return sends.empty() ? "<no send>" : payload_at(sends.size() - 1); }

  std::set<WorkerId> fail_for;  // send() to these workers returns false
  std::vector<SentNotice> sends;
  std::vector<std::pair<WorkerId, std::string>> closes;
};

// ---------------------------------------------------------------- random

// Returns scripted values first, then a fixed xorshift sequence.
class FakeRandom : public Random {
 public:
  explicit FakeRandom(std::uint64_t seed = 1) : fallback_(seed) {}
  std::uint64_t next_u64() override {
    ++draws;
    if (!script.empty()) {
      const std::uint64_t v = script.front();
      script.pop_front();
      return v;
    }
    return fallback_.next();
  }
  std::deque<std::uint64_t> script;
  std::size_t draws = 0;

 private:
  XorShift fallback_;
};

// ---------------------------------------------------------------- attempt observer

// One attempt event, copied (the event's key pointer and detail are valid only
// during the call).
struct AttemptRecord {
  TaskId task = 0;
  JobId job = 0;
  WorkerId worker = 0;
  Key key;
  Micros sent_at = 0;
  Micros ended_at = 0;
  AttemptEnd end = AttemptEnd::kResult;
  std::string detail;
};

class RecordingObserver : public AttemptObserver {
 public:
  void attempt_started(const AttemptEvent& e) override { started.push_back(copy(e)); }
  void attempt_ended(const AttemptEvent& e) override { ended.push_back(copy(e)); }

  // The end events of `task` (exactly one once it ended, TASK-3).
  std::vector<AttemptRecord> ends_of(TaskId task) const {
    std::vector<AttemptRecord> out;
    for (const AttemptRecord& r : ended) {
      if (r.task == task) out.push_back(r);
    }
    return out;
  }

  std::vector<AttemptRecord> started;
  std::vector<AttemptRecord> ended;

 private:
  static AttemptRecord copy(const AttemptEvent& e) {
    return AttemptRecord{e.task, e.job, e.worker, e.key != nullptr ? *e.key : Key{}, e.sent_at, e.ended_at, e.end,
                         std::string(e.detail)};
  }
};

// ---------------------------------------------------------------- views

inline std::string dump_broker(const Broker& broker, JobId max_job) {
  std::ostringstream os;
  for (const WorkerView& w : broker.workers()) {
    os << "worker " << w.id << " addr=" << w.address << " joined=" << w.joined_at
       << " open=" << w.open_attempts << " abandoned=" << w.abandoned_attempts;
    for (const SeatView& s : w.seats) os << " [" << key_name(s.key) << " " << s.in_use << "/" << s.capacity << "]";
    os << "\n";
  }
  for (const KeyView& k : broker.keys()) {
    os << "key " << key_name(k.key) << " cap=" << k.capacity << " in_use=" << k.in_use
       << " waiting=" << k.waiting << " workers=" << k.workers << " offer=" << (k.offer != nullptr)
       << " rotation:";
    for (WorkerId id : broker.rotation(k.key)) os << " " << id;
    os << "\n";
  }
  os << "open_jobs=" << broker.open_jobs() << " live_attempts=" << broker.live_attempts()
     << " attempts_made=" << broker.attempts_made() << "\n";
  for (JobId j = 1; j <= max_job; ++j) {
    if (auto v = broker.job(j)) {
      os << "job " << j << " state=" << (v->state == JobState::kWaiting ? "waiting" : "running")
         << " key=" << key_name(v->key) << " running=" << v->running_task << " tried:";
      for (WorkerId id : v->tried) os << " " << id;
      os << "\n";
    }
  }
  for (std::uint64_t n = 1; n <= broker.attempts_made(); ++n) {
    if (auto v = broker.task(static_cast<TaskId>(broker.task_ids().encode(n)))) {
      os << "task #" << n << " job=" << v->job << " worker=" << v->worker << " key=" << key_name(v->key)
         << " abandoned=" << v->abandoned << "\n";
    }
  }
  return os.str();
}

// CAP-1, CAP-2, CAP-5 as an invariant: every key's ledger totals equal the sums
// over the live workers' seats, and no seat is over capacity.
inline void expect_ledger_matches_workers(const Broker& broker) {
  std::map<Key, std::pair<std::uint64_t, std::uint64_t>> sums;  // capacity, in_use
  std::map<Key, std::size_t> seats;
  for (const WorkerView& w : broker.workers()) {
    for (const SeatView& s : w.seats) {
      EXPECT_LE(s.in_use, s.capacity) << "worker " << w.id << " " << key_name(s.key);
      sums[s.key].first += s.capacity;
      sums[s.key].second += s.in_use;
      ++seats[s.key];
    }
  }
  for (const KeyView& k : broker.keys()) {
    EXPECT_EQ(k.capacity, sums[k.key].first) << key_name(k.key);
    EXPECT_EQ(k.in_use, sums[k.key].second) << key_name(k.key);
    EXPECT_EQ(k.workers, seats[k.key]) << key_name(k.key);
    EXPECT_EQ(broker.rotation(k.key).size(), seats[k.key]) << key_name(k.key);
  }
}

// ---------------------------------------------------------------- harness

// The unit tests' TaskID key (TASK-1), drawn from a fixed FakeRandom.
inline SipKey test_task_id_key(std::uint64_t seed = 0x7A5CULL) {
  FakeRandom random(seed);
  return draw_id_key(random);
}

inline BrokerConfig default_config() {
  BrokerConfig config;
  config.secret = std::string(kSecret);
  config.task_id_key = test_task_id_key();
  return config;
}

// The default config with the three timeouts of TIME-1 set.
inline BrokerConfig timed_config(Micros attempt, Micros deadline, Micros reclaim) {
  BrokerConfig config = default_config();
  config.attempt_timeout = attempt;
  config.job_deadline = deadline;
  config.slot_reclaim = reclaim;
  return config;
}

class Harness {
 public:
  explicit Harness(BrokerConfig config = default_config()) : broker(std::move(config), clock, transport) {
    broker.set_observer(&observer);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  FakeClock clock;
  FakeTransport transport;
  RecordingObserver observer;  // outlives the broker
  Broker broker;

  // Every outcome, in delivery order, and per job.
  std::vector<JobOutcome> outcome_log;
  std::map<JobId, std::vector<JobOutcome>> outcomes;
  JobId last_job = 0;

  JoinResult join(WorkerId id, std::vector<Advert> adverts, std::string address = "",
                  std::string_view secret = kSecret) {
    JoinRequest request;
    request.id = id;
    request.secret = secret;
    request.address = address.empty() ? tagged("10.0.0.", id) + ":8935" : std::move(address);
    request.adverts = std::move(adverts);
    return broker.worker_joined(request);
  }
  // Joins and expects acceptance.
  void join_ok(WorkerId id, const Key& key, std::uint32_t capacity, std::string address = "") {
    const JoinResult r = join(id, {Advert{key, capacity}}, std::move(address));
    ASSERT_EQ(r.verdict, JoinVerdict::kAccepted) << r.message;
  }
  // Joins workers first..first+n-1, each advertising `key` with `capacity`.
  void join_n(WorkerId first, std::size_t n, const Key& key, std::uint32_t capacity) {
    for (std::size_t i = 0; i < n; ++i) join_ok(first + i, key, capacity);
  }

  JobId submit(const Key& key, std::string body = "{}") {
    const JobId id = broker.submit(key, payload_of(std::move(body)), [this](const JobOutcome& o) {
      outcome_log.push_back(o);
      outcomes[o.job].push_back(o);
    });
    EXPECT_EQ(id, last_job + 1) << "JobIds grow by one";
    last_job = id;
    return id;
  }

  // The one outcome of `job`, or nullptr if it has none yet; fails the test if it
  // got more than one (TASK-5).
  const JobOutcome* outcome(JobId job) const {
    auto it = outcomes.find(job);
    if (it == outcomes.end()) return nullptr;
    EXPECT_EQ(it->second.size(), 1U) << "job " << job << " got several outcomes";
    return &it->second.front();
  }

  // The one outcome of `job`; a test failure (and an empty outcome) if it has none,
  // so that a missing outcome fails the test instead of crashing it.
  const JobOutcome& done(JobId job) const {
    static const JobOutcome kMissing{};
    const JobOutcome* o = outcome(job);
    if (o == nullptr) {
      ADD_FAILURE() << "job " << job << " has no outcome";
      return kMissing;
    }
    return *o;
  }
  // The response JSON of the job's successful outcome, or a marker saying why not.
  std::string result_json(JobId job) const {
    const JobOutcome& o = done(job);
    if (o.result == nullptr || o.result->json == nullptr) return "<no result>";
    return *o.result->json;
  }

  // TASK-1: the TaskID of attempt number `n` (1 for the first attempt made); a
  // number not above 0 is passed through as the TaskID itself.
  TaskId task_id(std::int64_t n) const {
    return n <= 0 ? n : static_cast<TaskId>(broker.task_ids().encode(static_cast<std::uint64_t>(n)));
  }
  // The attempt number of a TaskID (0 for an id outside [1, 2^63)).
  std::int64_t number_of(TaskId id) const {
    return id <= 0 ? 0 : static_cast<std::int64_t>(broker.task_ids().decode(static_cast<std::uint64_t>(id)));
  }
  // `text` with every "task #N" written as "task <the TaskID of attempt N>", for
  // expected messages that name TaskIDs.
  std::string task_ids_in(std::string text) const {
    for (std::size_t at = text.find("task #"); at != std::string::npos; at = text.find("task #", at)) {
      std::size_t end = at + 6;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      const std::string id = std::to_string(task_id(std::stoll(text.substr(at + 6, end - at - 6))));
      text.replace(at + 5, end - at - 5, id);
      at += 5 + id.size();
    }
    return text;
  }
  // The attempt of number `n`, as the Broker shows it.
  std::optional<TaskView> task(std::int64_t n) const { return broker.task(task_id(n)); }
  // Every send, as (worker, attempt number), in order; and those since index `from`.
  Dispatches dispatches(std::size_t from = 0) const {
    Dispatches out;
    for (const auto& [worker, task] : transport.dispatches_since(from)) out.emplace_back(worker, number_of(task));
    return out;
  }
  Dispatches dispatches_since(std::size_t from) const { return dispatches(from); }

  // A report for attempt number `n` (task_id(n)), from the worker it was sent to.
  Report report_for(std::int64_t n, bool ok, std::string error = "") const {
    const TaskId task = task_id(n);
    Report r;
    r.credentials = kSecret;
    r.task = task;
    r.from = transport.worker_of(task);
    r.ok = ok;
    r.error = std::move(error);
    if (ok) {
      auto body = std::make_shared<ResultBody>();
      body->json = payload_of(tagged("{\"task\":", n) + "}");
      r.result = body;
    }
    return r;
  }
  // Reports for attempt number `n`: its result, or a worker error.
  ReportVerdict ok(std::int64_t n) { return broker.report(report_for(n, true)); }
  ReportVerdict fail(std::int64_t n, std::string error = "boom") {
    return broker.report(report_for(n, false, std::move(error)));
  }

  void advance_to(Micros t) { clock.advance_to(broker, t); }
  void advance_by(Micros d) { clock.advance_to(broker, clock.now() + d); }

  std::optional<KeyView> view(const Key& key) const { return broker.key_view(key); }
  std::uint32_t in_use(WorkerId worker, const Key& key) const {
    for (const WorkerView& w : broker.workers()) {
      if (w.id != worker) continue;
      for (const SeatView& s : w.seats) {
        if (s.key == key) return s.in_use;
      }
    }
    return 0;
  }
  bool live(WorkerId worker) const {
    for (const WorkerView& w : broker.workers()) {
      if (w.id == worker) return true;
    }
    return false;
  }

  // Everything observable: the broker's views, armed timers, effects so far.
  std::string dump() const {
    std::ostringstream os;
    os << dump_broker(broker, last_job + 4);
    os << "timers:";
    for (const auto& [id, at] : clock.armed()) os << " " << id << "@" << at;
    os << "\nsends=" << transport.sends.size() << " closes=" << transport.closes.size()
       << " outcomes=" << outcome_log.size() << "\n";
    return os.str();
  }
};

}  // namespace aipool::testing
