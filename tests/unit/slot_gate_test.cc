// The worker's SlotGate, and one worker shared by two orchestrators
// (MULTI-1, MULTI-2 in spec/core.md).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "core/slot_gate.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// MULTI-2: the gate gives each key exactly its capacity (repeated entries add up), refuses keys it does not serve, and takes slots back one by one.
TEST(SlotGateTest, CapacityPerKey) {
  const Key a = key_of("a");
  const Key b = key_of("b", Pipeline::kUpscale);
  SlotGate gate({{a, 2}, {b, 1}, {a, 1}});
  EXPECT_EQ(SlotGate::kAtCapacity, "worker at capacity");
  EXPECT_TRUE(gate.serves(a));
  EXPECT_FALSE(gate.serves(key_of("c")));
  EXPECT_EQ(gate.capacity(a), 3U);
  EXPECT_EQ(gate.capacity(b), 1U);
  EXPECT_EQ(gate.capacity(key_of("c")), 0U);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(gate.try_acquire(a)) << i;
  EXPECT_FALSE(gate.try_acquire(a));
  EXPECT_EQ(gate.in_use(a), 3U);
  EXPECT_TRUE(gate.try_acquire(b));  // keys are independent
  EXPECT_FALSE(gate.try_acquire(b));
  EXPECT_FALSE(gate.try_acquire(key_of("c")));
  gate.release(a);
  EXPECT_EQ(gate.in_use(a), 2U);
  EXPECT_TRUE(gate.try_acquire(a));
  EXPECT_FALSE(gate.try_acquire(a));
  EXPECT_EQ(gate.in_use(key_of("c")), 0U);
}

// MULTI-2: a release without a matching acquire is a bug and aborts.
TEST(SlotGateDeathTest, ReleaseWithoutAcquireAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SlotGate gate({{key_of(), 1}});
        gate.release(key_of());
      },
      "slot gate: release without acquire");
  EXPECT_DEATH(
      {
        SlotGate gate({{key_of(), 1}});
        gate.release(key_of("unknown"));
      },
      "slot gate: release without acquire");
}

// A worker process serving several orchestrators through one SlotGate: every job
// notice either takes a slot or is answered at once with `worker at capacity`.
struct SharedWorker {
  SlotGate gate;
  std::vector<std::pair<Harness*, TaskId>> running;

  explicit SharedWorker(std::vector<SlotGate::Entry> entries) : gate(entries) {}

  // Handles the newest notice `o` sent to this worker; returns true if it runs.
  bool take(Harness& o) {
    const SentNotice& notice = o.transport.last();
    const Key key{notice.pipeline, notice.model};
    if (gate.try_acquire(key)) {
      running.emplace_back(&o, o.number_of(notice.task));
      return true;
    }
    EXPECT_EQ(o.fail(o.number_of(notice.task), std::string(SlotGate::kAtCapacity)), ReportVerdict::kAccepted);
    return false;
  }
  void finish(Harness& o, TaskId task, const Key& key) {
    gate.release(key);
    EXPECT_EQ(o.ok(task), ReportVerdict::kAccepted);
  }
};

// MULTI-1, MULTI-2: one worker registered with two orchestrators is a separate worker in each (its own id, queue place, slots and TaskIDs, under each one's key); its one capacity is shared, so the orchestrator that finds it full gets `worker at capacity` and retries the job on another worker.
TEST(MultiOrchestrator, SharedWorkerSeparateAccountingSharedCapacity) {
  const Key k = key_of();
  Harness o1;
  BrokerConfig other = default_config();
  other.task_id_key = test_task_id_key(2);
  Harness o2(other);
  SharedWorker shared({{k, 1}});
  o1.join_ok(1, k, 1);  // the shared worker, as o1 knows it
  o2.join_ok(9, k, 1);  // the shared worker, as o2 knows it (first in o2's queue)
  o2.join_ok(5, k, 1);  // another worker of o2

  const JobId j1 = o1.submit(k);
  ASSERT_EQ(o1.dispatches(), (Dispatches{{1, 1}}));
  EXPECT_TRUE(shared.take(o1));

  const JobId j2 = o2.submit(k);
  ASSERT_EQ(o2.dispatches(), (Dispatches{{9, 1}}));  // o2 counts its own attempts from 1
  EXPECT_NE(o2.transport.last().task, o1.transport.last().task);  // under its own key
  EXPECT_FALSE(shared.take(o2));                                // full: answered at once
  EXPECT_EQ(o2.dispatches(), (Dispatches{{9, 1}, {5, 2}}));
  EXPECT_EQ(o2.in_use(9, k), 0U);
  EXPECT_EQ(o2.in_use(5, k), 1U);
  EXPECT_EQ(o1.in_use(1, k), 1U);  // o1 is unaffected
  EXPECT_EQ(o2.broker.job(j2).value().tried, (std::vector<WorkerId>{9, 5}));

  shared.finish(o1, 1, k);
  EXPECT_EQ(o1.done(j1).status, JobStatus::kOk);
  EXPECT_EQ(o2.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(o2.done(j2).status, JobStatus::kOk);

  // Now free, the shared worker takes o2's next job (o2's rotation: 9 is next).
  o2.submit(k);
  EXPECT_EQ(o2.transport.last().worker, 9U);
  EXPECT_TRUE(shared.take(o2));
  EXPECT_EQ(shared.gate.in_use(k), 1U);
  // o1's worker 1 leaving says nothing about o2's worker 9.
  o1.broker.worker_left(1, "eof");
  EXPECT_TRUE(o2.live(9));
  EXPECT_EQ(o2.in_use(9, k), 1U);
}

// MULTI-2, RETRY-2: when the only other worker is also full, `worker at capacity` from every worker ends the job `all workers failed` with that error.
TEST(MultiOrchestrator, AtCapacityEverywhereFailsJob) {
  const Key k = key_of();
  Harness o;
  o.join_n(1, 2, k, 1);
  const JobId job = o.submit(k);
  o.fail(1, std::string(SlotGate::kAtCapacity));
  o.fail(2, std::string(SlotGate::kAtCapacity));
  ASSERT_NE(o.outcome(job), nullptr);
  EXPECT_EQ(o.done(job).status, JobStatus::kAllFailed);
  EXPECT_EQ(o.done(job).message, "all workers failed; last error: worker at capacity");
  EXPECT_EQ(o.view(k)->in_use, 0U);
}

}  // namespace
}  // namespace aipool::testing
