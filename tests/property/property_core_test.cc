// Conformance of the real Broker with the reference model of spec/core.md
// (sim/reference_model.h), by rapidcheck's stateful testing (rc::state). Each
// command applies the rule it cites to the model, runs the same event on the
// Broker, and checks the answer, every effect in order, and the whole state
// (slots, rotation queues, waiting jobs, attempts, armed timers) against the
// model, with the simulator's own checks (sim/checker.h).
//
// A failure prints the shrunk command sequence; RC_PARAMS="seed=N" replays it
// (rapidcheck prints "Using configuration: seed=N").
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <ostream>
#include <set>

#include "property_harness.h"

namespace aipool::sim::test {
namespace {

const std::vector<Key>& pool_keys() {
  static const std::vector<Key> keys = {
      {Pipeline::kTextToImage, "a"}, {Pipeline::kImageToText, "b"}, {Pipeline::kUpscale, "c"}};
  return keys;
}
const Key kNobody{Pipeline::kAudioToText, "nobody"};
const char* const kErrors[] = {"out of memory", "worker at capacity", "bad input image", ""};

struct Model {
  explicit Model(const ModelConfig& config) : model(config) {}
  ReferenceModel model;
  WorkerId next_id = 1;
  std::vector<WorkerId> accepted;  // ids ever accepted
};

using Command = rc::state::Command<Model, Harness>;

std::vector<WorkerId> live_ids(const Model& m) {
  std::vector<WorkerId> ids;
  for (const auto& worker : m.model.workers()) {
    if (worker.live) ids.push_back(worker.id);
  }
  return ids;
}

// Records the rarer effects of a step for the coverage check.
void note_effects(Harness& sut) {
  for (const Effect& effect : sut.effects) {
    if (effect.kind == Effect::Kind::kClose) sut.seen.insert("send failed");
    if (effect.kind == Effect::Kind::kSend && !sut.sent_jobs.insert(effect.job).second) {
      sut.seen.insert("retry");
    }
  }
}

void expect_same(const Model& expected, Harness& sut) {
  note_effects(sut);
  const std::string problem = compare(expected.model, sut);
  if (!problem.empty()) RC_FAIL(problem);
}

// CONN-1, CONN-2, CONN-3, SEL-1, CAP-1, CAP-5: a registration, good or not.
struct WorkerJoin : Command {
  WorkerId id = 0;
  bool good_secret = true;
  std::vector<Advert> adverts;

  explicit WorkerJoin(const Model& m) {
    const bool reuse = !m.accepted.empty() && *rc::gen::inRange(0, 8) == 0;
    id = reuse ? *rc::gen::elementOf(m.accepted) : m.next_id;
    good_secret = *rc::gen::inRange(0, 12) != 0;
    const int n = *rc::gen::inRange(0, 10) == 0 ? 0 : *rc::gen::inRange(1, 4);
    for (int i = 0; i < n; ++i) {
      const Key& key = pool_keys()[static_cast<std::size_t>(*rc::gen::inRange(0, 3))];
      const int capacity = *rc::gen::inRange(0, 10) == 0 ? 0 : *rc::gen::inRange(1, 4);
      adverts.push_back(Advert{key, static_cast<std::uint32_t>(capacity)});
    }
  }
  JoinVerdict step(Model& m) const {
    const JoinVerdict verdict = m.model.join(id, good_secret ? kSecret : "wrong", adverts);
    if (verdict == JoinVerdict::kAccepted) m.accepted.push_back(id);
    if (id >= m.next_id) m.next_id = id + 1;
    return verdict;
  }
  void apply(Model& m) const override { step(m); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    const JoinVerdict verdict = step(expected);
    sut.effects.clear();
    const std::string secret = good_secret ? kSecret : "wrong";
    const JoinResult result = sut.broker.worker_joined(JoinRequest{id, secret, "test", adverts});
    RC_ASSERT(result.verdict == verdict);
    RC_ASSERT(result.ignored_keys == expected.model.join_ignored());  // LIST-1
    RC_ASSERT(result.offered_keys == expected.model.join_offered());
    sut.seen.insert("join " + std::to_string(static_cast<int>(verdict)));
    if (!sut.effects.empty()) sut.seen.insert("join dispatches a waiting job");
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override {
    os << "WorkerJoin(id=" << id << (good_secret ? "" : ", bad secret");
    for (const Advert& a : adverts) os << ", " << key_name(a.key) << " cap=" << a.capacity;
    os << ")";
  }
};

// CONN-4, CONN-5, SEL-4, RETRY-1, ADM-4: a stream ends (possibly a second time).
struct WorkerLeave : Command {
  WorkerId id = 0;
  explicit WorkerLeave(const Model& m) {
    RC_PRE(!m.accepted.empty());
    id = *rc::gen::elementOf(m.accepted);
  }
  void apply(Model& m) const override { m.model.leave(id); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    apply(expected);
    sut.effects.clear();
    sut.broker.worker_left(id, "test");
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override { os << "WorkerLeave(" << id << ")"; }
};

// CONN-4: the stream breaks unnoticed; the next send to it fails.
struct BreakStream : Command {
  WorkerId id = 0;
  explicit BreakStream(const Model& m) {
    const std::vector<WorkerId> live = live_ids(m);
    RC_PRE(!live.empty());
    id = *rc::gen::elementOf(live);
  }
  void apply(Model& m) const override { m.model.set_stream_broken(id, true); }
  void run(const Model& m, Harness& sut) const override {
    sut.broken.insert(id);
    (void)m;
  }
  void show(std::ostream& os) const override { os << "BreakStream(" << id << ")"; }
};

// ADM-1, ADM-2, ADM-3, SEL-2, TASK-1: a client submits a job.
struct Submit : Command {
  Key key;
  explicit Submit(const Model&) {
    const int pick = *rc::gen::inRange(0, 10);
    key = pick == 0 ? kNobody : pool_keys()[static_cast<std::size_t>(pick % 3)];
  }
  void apply(Model& m) const override { m.model.submit(key); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    const JobId id = expected.model.submit(key);
    sut.effects.clear();
    RC_ASSERT(sut.submit(key, id) == id);
    note_effects(sut);
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override { os << "Submit(" << key_name(key) << ")"; }
};

// TASK-2, TASK-3, TASK-4, SLOT-2, RETRY-1, RETRY-2, RETRY-6, MULTI-2: a worker posts a
// result or an error (sometimes one that rejects the input), for an open, abandoned
// or ended attempt.
struct Result : Command {
  TaskId task = 0;
  std::optional<WorkerId> from;
  bool ok = true;
  bool rejected = false;
  std::string error;

  explicit Result(const Model& m) {
    RC_PRE(m.model.last_task_id() > 0);
    const auto& tasks = m.model.tasks();
    if (!tasks.empty() && *rc::gen::inRange(0, 5) != 0) {
      std::vector<TaskId> live;
      for (const auto& [id, t] : tasks) live.push_back(id);
      task = *rc::gen::elementOf(live);
      from = tasks.at(task).worker;
    } else {
      task = *rc::gen::inRange<TaskId>(1, m.model.last_task_id() + 1);
      if (!m.accepted.empty()) from = *rc::gen::elementOf(m.accepted);
    }
    if (*rc::gen::inRange(0, 5) == 0) from.reset();  // the transport cannot tell (Report::from)
    ok = *rc::gen::inRange(0, 3) != 0;
    if (!ok) error = kErrors[*rc::gen::inRange(0, 4)];
    if (!ok) rejected = *rc::gen::inRange(0, 4) == 0;
  }
  ReportVerdict step(Model& m) const { return m.model.report(kSecret, task, from, ok, error, rejected); }
  void apply(Model& m) const override { step(m); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    const ReportVerdict verdict = step(expected);
    sut.effects.clear();
    Report report;
    report.credentials = kSecret;
    report.task = sut.id_of(task);
    report.from = from;
    report.ok = ok;
    report.error = error;
    report.rejected_input = rejected;
    if (ok) report.result = std::make_shared<const ResultBody>();
    RC_ASSERT(sut.broker.report(report) == verdict);
    sut.seen.insert("report " + std::string(report_verdict_name(verdict)));
    if (rejected && verdict == ReportVerdict::kAccepted) sut.seen.insert("rejected input");
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override {
    os << "Result(task=" << task << ", from=" << (from ? std::to_string(*from) : "?") << ", "
       << (ok ? "ok" : "error \"" + error + "\"") << (rejected ? " rejecting the input" : "") << ")";
  }
};

// CONN-1, TASK-1, TASK-2, TASK-6: a forged upload (a wrong secret, a TaskID never issued or of another run, another worker's task) is refused and changes nothing.
struct ForgedResult : Command {
  int kind = 0;
  TaskId task = 0;
  WorkerId from = 0;

  explicit ForgedResult(const Model& m) {
    kind = *rc::gen::inRange(0, 3);
    const TaskId last = m.model.last_task_id();
    if (kind == 0) task = *rc::gen::inRange<TaskId>(0, last + 2);
    if (kind == 1) task = *rc::gen::element<TaskId>(0, -1, last + 1, last + 50);
    if (kind == 2) {
      RC_PRE(!m.model.tasks().empty());
      std::vector<TaskId> live;
      for (const auto& [id, t] : m.model.tasks()) live.push_back(id);
      task = *rc::gen::elementOf(live);
      from = m.model.tasks().at(task).worker + *rc::gen::inRange<WorkerId>(1, 4);
    }
  }
  ReportVerdict step(Model& m) const {
    return m.model.report(kind == 0 ? "forged" : kSecret, task,
                          kind == 2 ? std::optional<WorkerId>(from) : std::nullopt, true, "");
  }
  void apply(Model& m) const override { step(m); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    const ReportVerdict verdict = step(expected);
    RC_ASSERT(verdict != ReportVerdict::kAccepted);
    RC_ASSERT(verdict != ReportVerdict::kLateReleased);
    sut.effects.clear();
    Report report;
    report.credentials = kind == 0 ? "forged" : kSecret;
    report.task = sut.id_of(task);
    if (kind == 1 && task > 1 && task == m.model.last_task_id() + 50) {  // TASK-6: an id of another run
      const SipKey& key = sut.task_ids.key();
      report.task = static_cast<TaskId>(IdCipher(SipKey{~key.k0, ~key.k1}).encode(1));
    }
    if (kind == 2) report.from = from;
    report.ok = true;
    report.result = std::make_shared<const ResultBody>();
    RC_ASSERT(sut.broker.report(report) == verdict);
    sut.seen.insert("report " + std::string(report_verdict_name(verdict)));
    RC_ASSERT(sut.effects.empty());
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override {
    os << "ForgedResult(" << (kind == 0 ? "bad secret" : kind == 1 ? "unknown task" : "wrong worker")
       << ", task=" << task << ")";
  }
};

// TIME-2, SLOT-1, RETRY-1: time runs to the next attempt timeout.
struct Timeout : Command {
  explicit Timeout(const Model& m) { RC_PRE(next_attempt_timeout(m).has_value()); }
  static std::optional<Micros> next_attempt_timeout(const Model& m) {
    std::optional<Micros> at;
    for (const auto& timer : m.model.timers()) {
      if (timer.name.kind == TimerKind::kAttempt && (!at || timer.at < *at)) at = timer.at;
    }
    return at;
  }
  void apply(Model& m) const override {
    if (const std::optional<Micros> at = next_attempt_timeout(m)) m.model.advance_to(*at);
  }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    apply(expected);
    sut.effects.clear();
    sut.advance_to(expected.model.now());
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override { os << "Timeout()"; }
};

// SLOT-1, TASK-5: the client goes away (maybe after the outcome).
struct Cancel : Command {
  JobId job = 0;
  explicit Cancel(const Model& m) {
    RC_PRE(m.model.last_job_id() > 0);
    job = *rc::gen::inRange<JobId>(1, m.model.last_job_id() + 1);
  }
  void apply(Model& m) const override { m.model.cancel(job); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    apply(expected);
    sut.effects.clear();
    sut.broker.cancel(job);
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override { os << "Cancel(" << job << ")"; }
};

// TIME-1, TIME-2, TIME-3, TIME-4, SLOT-3: time passes and timers fire in order.
struct Tick : Command {
  Micros by = 0;
  explicit Tick(const Model&) { by = *rc::gen::inRange(0, 41) * kMicrosPerSecond; }
  void apply(Model& m) const override { m.model.advance_to(m.model.now() + by); }
  void run(const Model& m, Harness& sut) const override {
    Model expected = m;
    apply(expected);
    sut.effects.clear();
    sut.advance_to(expected.model.now());
    expect_same(expected, sut);
  }
  void show(std::ostream& os) const override { os << "Tick(" << by / kMicrosPerSecond << "s)"; }
};

// Every path a batch of cases must reach at least once, or it is not testing
// what it claims to (the simulator's "sometimes" probes, for the property test).
const char* const kRequiredPaths[] = {
    "join 0", "join 1", "join 2", "join 3", "join dispatches a waiting job", "send failed",
    "outcome ok", "outcome no worker", "outcome queue full", "outcome all workers failed",
    "outcome deadline", "outcome cancelled", "outcome rejected input", "report accepted", "report unauthorized",
    "report unknown task", "report wrong worker", "report ended", "report late, slot released",
    "timer 1", "timer 2", "timer 3", "timer 4", "retry", "quarantine probe", "quarantined seat took a job"};

// Runs the conformance property (RC_PARAMS sets the number of cases, 1,000 in
// ctest) and returns the paths the cases reached.
std::set<std::string> check_conformance(const ModelConfig& config) {
  std::set<std::string> seen;
  const bool passed = rc::check("the Broker matches the reference model", [&seen, &config] {
    Model initial(config);
    Harness sut(config);
    rc::state::check(initial, sut,
                     rc::state::gen::execOneOfWithArgs<WorkerJoin, WorkerJoin, WorkerLeave, BreakStream,
                                                       Submit, Submit, Submit, Result, Result, Result,
                                                       ForgedResult, Timeout, Cancel, Tick, Tick>());
    seen.insert(sut.seen.begin(), sut.seen.end());
  });
  EXPECT_TRUE(passed);
  return seen;
}

// Proves the Broker makes the reference model's decision at every step: who
// gets each job (SEL-1, SEL-2, SEL-4), slots (CAP-1..CAP-5), retries
// (RETRY-1..RETRY-4, RETRY-6), attempts and reports (TASK-1..TASK-5), abandoned slots
// (SLOT-1..SLOT-3), admission (ADM-1..ADM-4), registrations (CONN-1..CONN-5),
// timers (TIME-1..TIME-4; TIME-5 with two pipelines' own timeouts), quarantine
// (QUAR-1..QUAR-5, seat by seat), without a
// model list (LIST-2); and that the cases
// reached every path of kRequiredPaths.
TEST(CoreConformance, BrokerMakesTheModelsDecisions) {
  const std::set<std::string> seen = check_conformance(property_config());
  for (const char* path : kRequiredPaths) {
    EXPECT_TRUE(seen.contains(path)) << "no case reached: " << path;
  }
}

// Proves that a quarantined or probing seat never gets a job other than its probe
// while the job has an untried seat of the key that is neither, checked from the
// Broker's own views at every attempt's start, with every failure quarantining at
// once (quarantine_after 1) and cool-downs short enough to expire often (QUAR-4,
// QUAR-3, QUAR-5).
TEST(CoreConformance, QuarantinedSeatGetsNoJobButItsProbe) {
  ModelConfig config = property_config();
  config.quarantine_after = 1;
  config.quarantine_cooldown = 5 * kMicrosPerSecond;
  config.quarantine_max_cooldown = 20 * kMicrosPerSecond;
  const std::set<std::string> seen = check_conformance(config);
  EXPECT_TRUE(seen.contains("quarantine probe"));
  EXPECT_TRUE(seen.contains("quarantined seat took a job"));
}

// Proves the same with a model list: keys outside it are ignored at join and a
// join that offers only such keys is refused (LIST-1, CONN-2); a listed key's own
// timeouts beat its pipeline's (TIME-5, LIST-4).
TEST(CoreConformance, BrokerWithAModelListMakesTheModelsDecisions) {
  ModelConfig config = property_config();
  config.model_list = std::vector<Key>{pool_keys()[0], pool_keys()[1], Key{Pipeline::kAudioToText, "listed-only"}};
  config.model_timeouts[pool_keys()[0]] = {4 * kMicrosPerSecond, 0};
  config.model_timeouts[pool_keys()[1]] = {0, 15 * kMicrosPerSecond};
  const std::set<std::string> seen = check_conformance(config);
  EXPECT_TRUE(seen.contains("outcome ok"));
  EXPECT_TRUE(seen.contains("join 2"));  // nothing offered, or only unlisted keys
}

// Proves the same with a limit of 2 adverts per registration: a join with more is
// refused whatever it offers, once its secret is right (CONN-7).
TEST(CoreConformance, BrokerWithAnAdvertLimitMakesTheModelsDecisions) {
  ModelConfig config = property_config();
  config.max_models_per_worker = 2;
  const std::set<std::string> seen = check_conformance(config);
  EXPECT_TRUE(seen.contains("outcome ok"));
  EXPECT_TRUE(seen.contains("join 4"));  // too many models
}

}  // namespace
}  // namespace aipool::sim::test
