// TaskIDs on the wire (TASK-1, TASK-6, RES-5): a keyed permutation of the attempts'
// numbers, so that no stale, forged or foreign TaskID matches a live attempt.
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "fakes.h"

namespace aipool::testing {
namespace {

BrokerConfig config_with_key(std::uint64_t seed) {
  BrokerConfig config = default_config();
  config.task_id_key = test_task_id_key(seed);
  config.queue_limit = 1 << 20;
  return config;
}

// Makes `n` attempts on one worker of capacity `n`, all left open.
void open_attempts(Harness& h, std::size_t n) {
  h.join_ok(1, key_of(), static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) h.submit(key_of());
  ASSERT_EQ(h.transport.sends.size(), n);
}

// TASK-1: the TaskIDs a Broker sends are neither its attempts' numbers nor sequential, and all differ; the n-th TaskID decodes to n.
TEST(BrokerTaskId, SentTaskIdsAreNotSequential) {
  Harness h(config_with_key(1));
  open_attempts(h, 2000);
  std::set<TaskId> ids;
  int steps_of_one = 0;
  for (std::size_t i = 0; i < h.transport.sends.size(); ++i) {
    const TaskId id = h.transport.sends[i].task;
    ASSERT_GT(id, 0);
    ASSERT_NE(id, static_cast<TaskId>(i + 1));
    ASSERT_TRUE(ids.insert(id).second) << "TaskID " << id << " sent twice";
    ASSERT_EQ(h.number_of(id), static_cast<std::int64_t>(i + 1));
    if (i > 0 && id == h.transport.sends[i - 1].task + 1) ++steps_of_one;
  }
  EXPECT_EQ(steps_of_one, 0);
  EXPECT_GT(*ids.begin(), 0);
  EXPECT_GT(*ids.rbegin() - *ids.begin(), std::numeric_limits<TaskId>::max() / 2);  // spread over the range
  EXPECT_EQ(h.broker.last_task_id(), h.transport.last().task);
}

// TASK-6, RES-5: the regression of issue 12. A worker's late result for a task of the orchestrator's previous run (a Broker with another key) reaches the new run, where a new client's job runs under the same attempt number on the same worker id: it is refused as an unknown task and the new job keeps waiting for its own result.
TEST(BrokerTaskId, LateResultFromAnEarlierRunIsUnknown) {
  Harness before(config_with_key(1));
  before.join_ok(1, key_of(), 1);
  before.submit(key_of(), "client A");
  const TaskId old_task = before.transport.last().task;
  Harness after(config_with_key(2));  // the restart: a new key, counters from 1 again
  after.join_ok(1, key_of(), 1);
  const JobId b = after.submit(key_of(), "client B");
  ASSERT_EQ(after.dispatches(), (Dispatches{{1, 1}}));
  Report late = before.report_for(1, true);
  late.from = 1;
  ASSERT_EQ(late.task, old_task);
  const std::string state = after.dump();
  EXPECT_EQ(after.broker.report(late), ReportVerdict::kUnknownTask);
  EXPECT_EQ(after.outcome(b), nullptr);
  EXPECT_EQ(after.dump(), state);
  EXPECT_EQ(after.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(after.result_json(b), "{\"task\":1}");
}

// TASK-6, RES-5: two Brokers with different keys and 20,000 open attempts each: none of the TaskIDs of one matches an attempt of the other, whichever worker posts it; each is refused as unknown and changes nothing.
TEST(BrokerTaskId, TwoRunsNeverMatchEachOthersTaskIds) {
  constexpr std::size_t kAttempts = 20'000;
  Harness a(config_with_key(1));
  Harness b(config_with_key(2));
  open_attempts(a, kAttempts);
  open_attempts(b, kAttempts);
  const std::size_t open_before = b.broker.live_attempts();
  for (const auto& [from, to] : {std::pair<Harness*, Harness*>{&a, &b}, {&b, &a}}) {
    for (const SentNotice& sent : from->transport.sends) {
      Report r = from->report_for(from->number_of(sent.task), true);
      ASSERT_EQ(r.task, sent.task);
      ASSERT_EQ(to->broker.report(r), ReportVerdict::kUnknownTask) << "TaskID " << sent.task;
    }
  }
  EXPECT_EQ(b.broker.live_attempts(), open_before);
  EXPECT_TRUE(a.outcome_log.empty());
  EXPECT_TRUE(b.outcome_log.empty());
}

// TASK-6, RES-5: forged TaskIDs (random 63-bit values, small counters as the old ids were, 0, negatives, the largest id) are refused as unknown while 1,000 attempts are open, and change nothing.
TEST(BrokerTaskId, ForgedTaskIdsAreUnknown) {
  Harness h(config_with_key(3));
  open_attempts(h, 1000);
  const std::string state = h.dump();
  std::vector<TaskId> forged = {0, -1, std::numeric_limits<TaskId>::min(), std::numeric_limits<TaskId>::max()};
  for (TaskId small = 1; small <= 1000; ++small) forged.push_back(small);
  XorShift random(99);
  for (int i = 0; i < 100'000; ++i) forged.push_back(static_cast<TaskId>(random.next() >> 1));
  std::size_t unknown = 0;
  for (TaskId id : forged) {
    Report r;
    r.credentials = kSecret;
    r.task = id;
    r.ok = true;
    unknown += h.broker.report(r) == ReportVerdict::kUnknownTask ? 1 : 0;
  }
  EXPECT_EQ(unknown, forged.size());
  EXPECT_EQ(h.dump(), state);
  EXPECT_TRUE(h.outcome_log.empty());
}

// TASK-6, TASK-4: an issued TaskID whose attempt ended is refused as ended (409), not unknown; the Broker's task view finds attempts by TaskID only.
TEST(BrokerTaskId, EndedIsToldFromUnknown) {
  Harness h(config_with_key(4));
  h.join_ok(1, key_of(), 2);
  h.submit(key_of());
  h.submit(key_of());
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.ok(3), ReportVerdict::kUnknownTask);  // the next number, not yet reached
  EXPECT_TRUE(h.broker.task(h.task_id(2)).has_value());
  EXPECT_FALSE(h.broker.task(2).has_value());  // the bare number is no TaskID of it
  EXPECT_FALSE(h.broker.task(0).has_value());
  EXPECT_FALSE(h.broker.task(-5).has_value());
}

// TASK-1: a Broker made without a TaskID key is a programming error and aborts at once.
TEST(BrokerTaskIdDeathTest, NoKeyAborts) {
  BrokerConfig config = default_config();
  config.task_id_key.reset();
  FakeClock clock;
  FakeTransport transport;
  EXPECT_DEATH(Broker(config, clock, transport), "task_id_key");
}

}  // namespace
}  // namespace aipool::testing
