// Broker: connection, capacity, selection order and task rules (spec/core.md).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// ---------------------------------------------------------------- CONN

// CONN-1: joins with a wrong, empty, truncated, longer or differently cased secret are refused with `invalid secret` and change nothing.
TEST(BrokerConn, WrongSecretRefusedAndChangesNothing) {
  Harness h;
  h.join_ok(1, key_of(), 1);
  const std::string before = h.dump();
  for (std::string_view bad : {"wrong", "", "s3cre", "s3cret!", "S3CRET"}) {
    const JoinResult r = h.join(2, {Advert{key_of("other"), 4}}, "", bad);
    EXPECT_EQ(r.verdict, JoinVerdict::kInvalidSecret) << bad;
    EXPECT_EQ(r.message, "invalid secret");
    EXPECT_TRUE(r.offered_keys.empty());
    EXPECT_EQ(h.dump(), before);
  }
  EXPECT_FALSE(h.view(key_of("other")).has_value());
  // The refused join did not use up id 2.
  EXPECT_EQ(h.join(2, {Advert{key_of("other"), 4}}).verdict, JoinVerdict::kAccepted);
}

// CONN-2: a join with no advert, or only zero capacities, is refused with a message naming what to fix, and changes nothing (its keys are not even known).
TEST(BrokerConn, NothingOfferedRefusedAndChangesNothing) {
  Harness h;
  h.join_ok(1, key_of(), 1);
  const std::string before = h.dump();
  const std::vector<std::vector<Advert>> cases = {
      {},
      {Advert{key_of("x"), 0}, Advert{key_of("y", Pipeline::kUpscale), 0}},
  };
  for (const auto& adverts : cases) {
    const JoinResult r = h.join(2, adverts);
    EXPECT_EQ(r.verdict, JoinVerdict::kNothingOffered);
    EXPECT_EQ(r.message,
              "advertise at least one pipeline and model with a capacity above 0 "
              "(constraints.PerCapability[capability].models[model_id].capacity)");
    EXPECT_TRUE(r.offered_keys.empty());
    EXPECT_EQ(h.dump(), before);
  }
  EXPECT_FALSE(h.view(key_of("x")).has_value());
  EXPECT_FALSE(h.view(key_of("y", Pipeline::kUpscale)).has_value());
  EXPECT_EQ(h.join(2, {Advert{key_of("x"), 1}}).verdict, JoinVerdict::kAccepted);
}

// CONN-2, LIST-1: with a model list, a join whose keys are all outside it is refused with a message naming the advertised and the offered keys, and changes nothing.
TEST(BrokerConn, NothingInModelListRefusedWithBothLists) {
  BrokerConfig config = default_config();
  config.model_list = std::vector<ModelOffer>{ModelOffer{key_of("m"), 0.5, 1, "USD"}};
  Harness h(config);
  const std::string before = h.dump();
  const JoinResult r =
      h.join(1, {Advert{key_of("x"), 2}, Advert{key_of("y", Pipeline::kUpscale), 1}, Advert{key_of("x"), 3}});
  EXPECT_EQ(r.verdict, JoinVerdict::kNothingOffered);
  EXPECT_EQ(r.message,
            "none of the advertised models is in the orchestrator's model list "
            "(advertised: text-to-image/x upscale/y; offered: text-to-image/m)");
  EXPECT_EQ(r.ignored_keys, (std::vector<Key>{key_of("x"), key_of("y", Pipeline::kUpscale)}));
  EXPECT_EQ(h.dump(), before);
}

// CONN-3: a worker id that was ever accepted is refused forever (live or departed), with a message naming it, and the refusal changes nothing.
TEST(BrokerConn, IdNeverReused) {
  Harness h;
  h.join_ok(1, key_of(), 1);
  std::string before = h.dump();
  JoinResult r = h.join(1, {Advert{key_of(), 3}});
  EXPECT_EQ(r.verdict, JoinVerdict::kIdReused);
  EXPECT_EQ(r.message, "worker id 1 was already used");
  EXPECT_EQ(h.dump(), before);

  h.broker.worker_left(1, "eof");
  before = h.dump();
  r = h.join(1, {Advert{key_of(), 3}});
  EXPECT_EQ(r.verdict, JoinVerdict::kIdReused);
  EXPECT_EQ(r.message, "worker id 1 was already used");
  EXPECT_EQ(h.dump(), before);
  EXPECT_FALSE(h.view(key_of()).has_value());  // CAP-6: the refused join brought nothing back
}

// CONN-4: a worker leaves exactly once: a second report of its end, or an end for an unknown id, changes nothing.
TEST(BrokerConn, LeavesExactlyOnce) {
  Harness h;
  h.join_n(1, 2, key_of(), 1);
  h.submit(key_of());
  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}}));
  const std::string before = h.dump();
  h.broker.worker_left(1, "eof again");
  h.broker.worker_left(99, "never joined");
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(1).status, JobStatus::kOk);
}

// CONN-4, RETRY-1: a failed send ends the worker (its stream closed once with `send failed`, gone from views and queues), the job moves on, and the driver's later report of that end changes nothing.
TEST(BrokerConn, SendFailureMakesWorkerLeave) {
  Harness h;
  h.join_n(1, 3, key_of(), 2);
  h.transport.fail_for = {1};
  const JobId job = h.submit(key_of());
  ASSERT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}}));
  EXPECT_FALSE(h.transport.sends[0].delivered);
  EXPECT_EQ(h.transport.closes, (std::vector<std::pair<WorkerId, std::string>>{{1, "send failed"}}));
  EXPECT_FALSE(h.live(1));
  EXPECT_EQ(h.broker.rotation(key_of()), (std::vector<WorkerId>{3, 2}));
  EXPECT_EQ(h.view(key_of())->capacity, 4U);
  EXPECT_EQ(h.view(key_of())->in_use, 1U);
  expect_ledger_matches_workers(h.broker);

  const std::string before = h.dump();
  h.broker.worker_left(1, "stream ended");
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.transport.closes.size(), 1U);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).attempts, 2U);
}

// CONN-5, CAP-5, SEL-4: a leaving worker's capacity and slots leave the ledger, it leaves every queue, its open attempts end as disconnect and are retried in TaskID order, and its abandoned slots vanish (their reclaim timers cancelled, late reports refused as ended).
TEST(BrokerConn, LeaveCleansEverything) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 50 * kSecond));
  const Key a = key_of("a");
  const Key b = key_of("b", Pipeline::kImageToText);
  ASSERT_EQ(h.join(1, {Advert{a, 2}, Advert{b, 1}}).verdict, JoinVerdict::kAccepted);
  ASSERT_EQ(h.join(2, {Advert{a, 2}, Advert{b, 1}}).verdict, JoinVerdict::kAccepted);
  const JobId j1 = h.submit(a);  // w1 t1
  h.submit(a);                   // w2 t2
  const JobId j3 = h.submit(b);  // w1 t3
  const JobId j4 = h.submit(a);  // w1 t4
  ASSERT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}, {1, 4}}));
  const Micros cancelled_at = h.clock.now();
  h.broker.cancel(j4);  // t4 abandoned, its slot held
  EXPECT_TRUE(h.clock.is_armed_at(cancelled_at + 50 * kSecond));
  EXPECT_EQ(h.view(a)->in_use, 3U);
  EXPECT_EQ(h.view(b)->in_use, 1U);

  h.broker.worker_left(1, "stream ended");
  // j1 (t1) then j3 (t3) are retried, on the only worker left.
  EXPECT_EQ(h.dispatches_since(4), (Dispatches{{2, 5}, {2, 6}}));
  EXPECT_EQ(h.view(a)->capacity, 2U);
  EXPECT_EQ(h.view(a)->in_use, 2U);
  EXPECT_EQ(h.view(b)->capacity, 1U);
  EXPECT_EQ(h.view(b)->in_use, 1U);
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{2}));
  EXPECT_EQ(h.broker.rotation(b), (std::vector<WorkerId>{2}));
  EXPECT_FALSE(h.task(1).has_value());
  EXPECT_FALSE(h.task(3).has_value());
  EXPECT_FALSE(h.task(4).has_value());
  EXPECT_FALSE(h.clock.is_armed_at(cancelled_at + 50 * kSecond));
  expect_ledger_matches_workers(h.broker);

  const std::string before = h.dump();
  Report late = h.report_for(4, true);
  EXPECT_EQ(h.broker.report(late), ReportVerdict::kEnded);
  EXPECT_EQ(h.fail(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.dump(), before);

  EXPECT_EQ(h.ok(5), ReportVerdict::kAccepted);
  EXPECT_EQ(h.ok(6), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(j1).status, JobStatus::kOk);
  EXPECT_EQ(h.done(j1).attempts, 2U);
  EXPECT_EQ(h.done(j1).last_worker, 2U);
  EXPECT_EQ(h.done(j3).status, JobStatus::kOk);
  EXPECT_EQ(h.view(a)->in_use, 1U);  // t2 still open
  EXPECT_EQ(h.view(b)->in_use, 0U);
}

// CONN-5, RETRY-2: an open attempt of a leaving worker ends as `disconnect`, and that is the error the job fails with when no worker is left.
TEST(BrokerConn, DisconnectIsTheLastError) {
  Harness h;
  h.join_ok(1, key_of(), 1);
  const JobId job = h.submit(key_of());
  h.broker.worker_left(1, "stream ended");
  const JobOutcome* o = h.outcome(job);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kAllFailed);
  EXPECT_EQ(o->message, "all workers failed; last error: worker 1 disconnected (stream ended)");
  EXPECT_EQ(o->attempts, 1U);
  EXPECT_EQ(h.number_of(o->last_task), 1);
  EXPECT_EQ(o->last_worker, 1U);
  EXPECT_EQ(h.broker.open_jobs(), 0U);
  EXPECT_EQ(h.broker.live_attempts(), 0U);
  EXPECT_TRUE(h.clock.armed().empty());
}

// ---------------------------------------------------------------- CAP

// CAP-1, CAP-5: a key's capacity is the sum over live workers of what each advertised (repeated adverts of a key add up, zero adverts are dropped), added once at join and removed once at leave.
TEST(BrokerCap, CapacityIsSumOverLiveWorkers) {
  Harness h;
  const Key a = key_of("a");
  const Key b = key_of("b");
  const Key c = key_of("c", Pipeline::kAudioToText);
  JoinResult r = h.join(1, {Advert{a, 2}, Advert{a, 3}, Advert{b, 1}});
  ASSERT_EQ(r.verdict, JoinVerdict::kAccepted);
  EXPECT_EQ(r.offered_keys, (std::vector<Key>{a, b}));
  h.join_ok(2, a, 4);
  r = h.join(3, {Advert{b, 0}, Advert{c, 7}});
  ASSERT_EQ(r.verdict, JoinVerdict::kAccepted);
  EXPECT_EQ(r.offered_keys, (std::vector<Key>{c}));
  EXPECT_EQ(h.view(a)->capacity, 9U);
  EXPECT_EQ(h.view(b)->capacity, 1U);
  EXPECT_EQ(h.view(c)->capacity, 7U);
  EXPECT_EQ(h.view(a)->workers, 2U);
  EXPECT_EQ(h.view(b)->workers, 1U);  // worker 3's zero advert does not seat it
  expect_ledger_matches_workers(h.broker);

  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.view(a)->capacity, 4U);
  EXPECT_FALSE(h.view(b).has_value());  // CAP-6: gone with its last worker
  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.view(a)->capacity, 4U);
  expect_ledger_matches_workers(h.broker);
  h.broker.worker_left(2, "eof");
  h.broker.worker_left(3, "eof");
  EXPECT_TRUE(h.broker.keys().empty());  // CAP-6
}

// CAP-2, SLOT-1: in_use counts open attempts plus slots held by abandoned ones and never exceeds capacity: a worker whose slots are held by an abandoned attempt gets no new attempt.
TEST(BrokerCap, InUseCountsAbandonedAndStaysWithinCapacity) {
  Harness h;
  h.join_ok(1, key_of(), 2);
  const JobId j1 = h.submit(key_of());  // t1
  h.submit(key_of());                   // t2
  h.broker.cancel(j1);
  const JobId j3 = h.submit(key_of());
  EXPECT_EQ(h.transport.sends.size(), 2U);
  EXPECT_EQ(h.broker.job(j3).value().state, JobState::kWaiting);
  const auto workers = h.broker.workers();
  ASSERT_EQ(workers.size(), 1U);
  EXPECT_EQ(workers[0].open_attempts, 1U);
  EXPECT_EQ(workers[0].abandoned_attempts, 1U);
  EXPECT_EQ(workers[0].seats[0].in_use, 2U);
  EXPECT_EQ(h.view(key_of())->in_use, 2U);
  EXPECT_EQ(h.view(key_of())->waiting, 1U);
  // The open attempt ends: its slot (not the abandoned one) goes to j3.
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches_since(2), (Dispatches{{1, 3}}));
  EXPECT_EQ(h.view(key_of())->in_use, 2U);
  expect_ledger_matches_workers(h.broker);
}

// CAP-3, ADM-1: a key is offered exactly while its capacity is above 0: jobs are refused before the first join and after the last leave, and accepted in between.
TEST(BrokerCap, OfferedIffCapacityAboveZero) {
  Harness h;
  h.submit(key_of());
  EXPECT_EQ(h.done(1).status, JobStatus::kNoWorker);
  h.join_ok(1, key_of(), 1);
  h.submit(key_of());
  EXPECT_EQ(h.outcome(2), nullptr);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}}));
  h.ok(1);
  h.broker.worker_left(1, "eof");
  EXPECT_FALSE(h.view(key_of()).has_value());  // CAP-6: no capacity, no key
  h.submit(key_of());
  EXPECT_EQ(h.done(3).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(3).message, "no worker offers pipeline text-to-image with model m");
}

// CAP-4, TASK-4, SLOT-2: each way an attempt ends gives its one slot back exactly once (result, worker error, send failure, late report of an abandoned attempt); duplicate reports give nothing back.
TEST(BrokerCap, SlotGivenBackExactlyOnce) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  h.submit(k);  // w1 t1
  EXPECT_EQ(h.view(k)->in_use, 1U);
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.view(k)->in_use, 0U);
  EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.view(k)->in_use, 0U);

  h.submit(k);  // w2 t2
  EXPECT_EQ(h.in_use(2, k), 1U);
  EXPECT_EQ(h.fail(2), ReportVerdict::kAccepted);  // retried on w1 as t3
  EXPECT_EQ(h.dispatches_since(1), (Dispatches{{2, 2}, {1, 3}}));
  EXPECT_EQ(h.in_use(2, k), 0U);
  EXPECT_EQ(h.in_use(1, k), 1U);
  EXPECT_EQ(h.fail(2), ReportVerdict::kEnded);
  EXPECT_EQ(h.view(k)->in_use, 1U);
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);
  EXPECT_EQ(h.view(k)->in_use, 0U);

  h.transport.fail_for = {2};
  const JobId j3 = h.submit(k);  // w2 t4 fails, then w1 t5
  EXPECT_EQ(h.dispatches_since(3), (Dispatches{{2, 4}, {1, 5}}));
  EXPECT_EQ(h.view(k)->capacity, 1U);
  EXPECT_EQ(h.view(k)->in_use, 1U);

  h.broker.cancel(j3);
  EXPECT_EQ(h.view(k)->in_use, 1U);  // held (SLOT-1)
  EXPECT_EQ(h.ok(5), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.view(k)->in_use, 0U);
  EXPECT_EQ(h.ok(5), ReportVerdict::kEnded);
  EXPECT_EQ(h.fail(5), ReportVerdict::kEnded);
  EXPECT_EQ(h.view(k)->in_use, 0U);
  expect_ledger_matches_workers(h.broker);
}

// ---------------------------------------------------------------- SEL (order)

// SEL-1: each key's queue holds exactly the live workers advertising it, in registration order (not id order), and a joining worker enters at the back even after the queue has rotated.
TEST(BrokerSel, QueueInRegistrationOrderJoinAtBack) {
  Harness h;
  const Key a = key_of("a");
  const Key b = key_of("b");
  ASSERT_EQ(h.join(42, {Advert{a, 1}, Advert{b, 1}}).verdict, JoinVerdict::kAccepted);
  h.join_ok(7, a, 1);
  h.join_ok(1000003, b, 1);
  ASSERT_EQ(h.join(5, {Advert{a, 1}, Advert{b, 1}}).verdict, JoinVerdict::kAccepted);
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{42, 7, 5}));
  EXPECT_EQ(h.broker.rotation(b), (std::vector<WorkerId>{42, 1000003, 5}));

  h.submit(a);
  EXPECT_EQ(h.dispatches(), (Dispatches{{42, 1}}));
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{7, 5, 42}));
  EXPECT_EQ(h.broker.rotation(b), (std::vector<WorkerId>{42, 1000003, 5}));  // other keys untouched
  h.join_ok(9, a, 1);
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{7, 5, 42, 9}));
  h.submit(a);
  EXPECT_EQ(h.transport.last().worker, 7U);
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{5, 42, 9, 7}));
}

// SEL-2: a worker with no free slot is skipped and goes to the back, ahead of the chosen one; a scan that finds no one leaves the order unchanged.
TEST(BrokerSel, FullWorkerSkippedAndSentToBack) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  h.join_ok(2, k, 2);
  h.join_ok(3, k, 2);
  for (int i = 0; i < 5; ++i) h.submit(k);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {2, 4}, {3, 5}}));
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{1, 2, 3}));
  // Everyone full: the job waits and the scan changes nothing.
  const JobId waiting = h.submit(k);
  EXPECT_EQ(h.transport.sends.size(), 5U);
  EXPECT_EQ(h.broker.job(waiting).value().state, JobState::kWaiting);
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{1, 2, 3}));
  // Worker 2 frees a slot: worker 1 (full) is skipped to the back, then worker 2.
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches_since(5), (Dispatches{{2, 6}}));
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{3, 1, 2}));
}

// SEL-2, RETRY-1: a worker already tried for the job is skipped to the back, and the first untried free worker takes the retry.
TEST(BrokerSel, TriedWorkerSkippedAndSentToBack) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 2);
  h.submit(k);  // w1 t1
  h.submit(k);  // w2 t2
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{3, 1, 2}));
  EXPECT_EQ(h.fail(1), ReportVerdict::kAccepted);  // job 1 -> w3 t3
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{1, 2, 3}));
  EXPECT_EQ(h.fail(3), ReportVerdict::kAccepted);  // w1 tried: skipped; job 1 -> w2 t4
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {2, 4}}));
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{3, 1, 2}));
  EXPECT_EQ(h.broker.job(1).value().tried, (std::vector<WorkerId>{1, 3, 2}));
}

// SEL-4: a leaving worker (head, middle or back) is removed and the others keep their relative order.
TEST(BrokerSel, LeaveKeepsOthersInOrder) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 5, k, 1);
  h.submit(k);
  h.ok(1);
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{2, 3, 4, 5, 1}));
  h.broker.worker_left(3, "eof");
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{2, 4, 5, 1}));
  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{2, 4, 5}));
  h.broker.worker_left(2, "eof");
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{4, 5}));
  h.join_ok(6, k, 1);
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{4, 5, 6}));
  h.submit(k);
  h.submit(k);
  EXPECT_EQ(h.dispatches_since(1), (Dispatches{{4, 2}, {5, 3}}));
}

// SEL-6: a leaving worker's open attempts are retried in TaskID order, not in the order its bookkeeping happens to hold them.
TEST(BrokerSel, RetriesAfterLeaveInTaskIdOrder) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 3);
  for (int i = 1; i <= 5; ++i) h.submit(k, tagged("j", i));
  ASSERT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}, {2, 4}, {1, 5}}));
  h.ok(1);                 // worker 1 now holds t3 and t5
  h.submit(k, "j6");       // w2 t6: worker 2 is full
  ASSERT_EQ(h.number_of(h.transport.last().task), 6);
  ASSERT_EQ(h.transport.last().worker, 2U);
  h.broker.worker_left(1, "eof");  // j3 then j5 wait, retrying
  EXPECT_EQ(h.transport.sends.size(), 6U);
  h.ok(2);
  h.ok(4);
  ASSERT_EQ(h.dispatches_since(6), (Dispatches{{2, 7}, {2, 8}}));
  EXPECT_EQ(h.transport.payload_at(6), "j3");
  EXPECT_EQ(h.transport.payload_at(7), "j5");
}

// Runs one scripted scenario with the given worker ids; returns every observable effect.
std::string scripted_run(const std::vector<WorkerId>& ids) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 50 * kSecond));
  const Key a = key_of("a");
  const Key b = key_of("b", Pipeline::kUpscale);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(h.join(ids[i], {Advert{a, static_cast<std::uint32_t>(1 + i % 2)}, Advert{b, 1}}).verdict,
              JoinVerdict::kAccepted);
  }
  for (int i = 0; i < 12; ++i) h.submit(i % 3 == 0 ? b : a, tagged("job", i));
  h.fail(2, "e2");
  h.ok(3);
  h.broker.cancel(5);
  h.broker.worker_left(ids[1], "eof");
  h.advance_by(120 * kSecond);
  for (TaskId t = 1; t <= static_cast<TaskId>(h.broker.attempts_made()); ++t) {
    if (t % 2 == 0) h.ok(t);
  }
  h.advance_by(2000 * kSecond);
  std::string out = h.dump();
  for (const SentNotice& s : h.transport.sends) {
    out += std::to_string(s.worker) + tagged(":", h.number_of(s.task)) + ":" + *s.payload + " ";
  }
  for (const JobOutcome& o : h.outcome_log) {
    out += tagged("\n", o.job) + " " + std::string(job_status_name(o.status)) + " " + o.message +
           tagged(" ", o.attempts) + tagged(" ", o.last_task);
  }
  for (const auto& [id, at] : h.clock.arm_log()) out += tagged(" A", id) + tagged("@", at);
  for (TimerId id : h.clock.cancel_log()) out += tagged(" C", id);
  return out;
}

// SEL-6, TIME-1: the same sequence of events gives the same effects in the same order (sends, outcomes, timers, views), run after run, with worker ids that hash in no particular order.
TEST(BrokerSel, SameEventsSameEffects) {
  const std::vector<WorkerId> ids = {900000007, 3, 77, 1ULL << 40, 12};
  const std::string first = scripted_run(ids);
  EXPECT_EQ(scripted_run(ids), first);
  EXPECT_EQ(scripted_run(ids), first);
  EXPECT_NE(first.find("900000007:1:job0"), std::string::npos) << first;  // registration order, not id order
}

// ---------------------------------------------------------------- TASK

// TASK-1: every attempt (first tries, retries, failed sends) gets the next number from one counter starting at 1, and its TaskID is that number under the Broker's permutation.
TEST(BrokerTask, TaskIdsCountFromOneAcrossRetries) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 1);
  h.join_ok(4, key_of("other"), 1);
  h.transport.fail_for = {1};
  h.submit(k);                   // w1 t1 (send fails) -> w2 t2
  h.fail(2);                     // -> w3 t3
  h.submit(key_of("other"));     // w4 t4
  h.ok(3);
  h.submit(k);                   // w2 t5 (w3 was picked last)
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {2, 5}}));
  for (std::size_t i = 0; i < h.transport.sends.size(); ++i) {
    EXPECT_EQ(h.transport.sends[i].task, h.task_id(static_cast<std::int64_t>(i + 1)));
  }
  EXPECT_EQ(h.broker.attempts_made(), 5U);
  EXPECT_EQ(h.broker.last_task_id(), h.task_id(5));
  EXPECT_EQ(h.done(1).last_task, h.task_id(3));
  EXPECT_EQ(h.done(1).attempts, 3U);
}

// TASK-2: a report naming a worker other than the attempt's is refused as kWrongWorker and changes nothing, for an open and for an abandoned attempt; a report whose poster is unknown is judged on the TaskID.
TEST(BrokerTask, ReportFromAnotherWorkerRefused) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId j1 = h.submit(k);  // w1 t1
  h.submit(k);                   // w2 t2
  std::string before = h.dump();
  for (WorkerId from : {WorkerId{2}, WorkerId{99}}) {
    Report r = h.report_for(1, true);
    r.from = from;
    EXPECT_EQ(h.broker.report(r), ReportVerdict::kWrongWorker);
    r.ok = false;
    r.error = "forged";
    EXPECT_EQ(h.broker.report(r), ReportVerdict::kWrongWorker);
    EXPECT_EQ(h.dump(), before);
  }
  h.broker.cancel(j1);  // t1 abandoned, slot held
  before = h.dump();
  Report r = h.report_for(1, true);
  r.from = 2;
  EXPECT_EQ(h.broker.report(r), ReportVerdict::kWrongWorker);
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.in_use(1, k), 1U);
  r.from = 1;
  EXPECT_EQ(h.broker.report(r), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.in_use(1, k), 0U);

  Report anonymous = h.report_for(2, true);
  anonymous.from.reset();
  EXPECT_EQ(h.broker.report(anonymous), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(2).status, JobStatus::kOk);
}

enum class End { kResult, kWorkerError, kSendFailure, kDisconnect, kAttemptTimeout, kCancelled, kDeadline };

// TASK-3, TASK-4, RETRY-2, TIME-2, TIME-3: each of the seven endings ends the attempt exactly once, as that kind (observer), with the right job outcome and message; the three abandoning ones keep it as abandoned until one late report, and every further report is refused as ended without a change.
TEST(BrokerTask, EachEndingEndsTheAttemptOnce) {
  struct Case {
    End end;
    bool abandoned;
    JobStatus status;
    std::string message;
    AttemptEnd attempt_end;
    std::string_view attempt_end_name;
  };
  const std::vector<Case> cases = {
      {End::kResult, false, JobStatus::kOk, "", AttemptEnd::kResult, "result"},
      {End::kWorkerError, false, JobStatus::kAllFailed, "all workers failed; last error: boom",
       AttemptEnd::kWorkerError, "worker error"},
      {End::kSendFailure, false, JobStatus::kAllFailed,
       "all workers failed; last error: sending task #1 to worker 1 failed", AttemptEnd::kSendFailure,
       "send failure"},
      {End::kDisconnect, false, JobStatus::kAllFailed,
       "all workers failed; last error: worker 1 disconnected (stream ended)", AttemptEnd::kDisconnect,
       "disconnect"},
      {End::kAttemptTimeout, true, JobStatus::kAllFailed,
       "all workers failed; last error: attempt timeout: task #1 on worker 1 took longer than 100 s",
       AttemptEnd::kTimeout, "attempt timeout"},
      {End::kCancelled, true, JobStatus::kCancelled, "cancelled by the client", AttemptEnd::kCancelled,
       "job cancelled"},
      {End::kDeadline, true, JobStatus::kDeadline, "job deadline exceeded after 60 s", AttemptEnd::kDeadline,
       "job deadline"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    Harness h(timed_config(100 * kSecond, c.end == End::kDeadline ? 60 * kSecond : 1000 * kSecond,
                           500 * kSecond));
    const Key k = key_of();
    h.join_ok(1, k, 1);
    if (c.end == End::kSendFailure) h.transport.fail_for = {1};
    const JobId job = h.submit(k);
    ASSERT_EQ(h.dispatches(), (Dispatches{{1, 1}}));
    switch (c.end) {
      case End::kResult: EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted); break;
      case End::kWorkerError: EXPECT_EQ(h.fail(1, "boom"), ReportVerdict::kAccepted); break;
      case End::kSendFailure: break;
      case End::kDisconnect: h.broker.worker_left(1, "stream ended"); break;
      case End::kAttemptTimeout: h.advance_by(100 * kSecond); break;
      case End::kCancelled: h.broker.cancel(job); break;
      case End::kDeadline: h.advance_by(60 * kSecond); break;
    }
    const JobOutcome* o = h.outcome(job);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->status, c.status);
    EXPECT_EQ(o->message, h.task_ids_in(c.message));
    EXPECT_EQ(o->attempts, 1U);
    EXPECT_EQ(h.number_of(o->last_task), 1);
    EXPECT_EQ(o->result != nullptr, c.end == End::kResult);
    ASSERT_EQ(h.observer.started.size(), 1U);
    std::vector<AttemptRecord> ends = h.observer.ends_of(h.task_id(1));
    ASSERT_EQ(ends.size(), 1U);
    EXPECT_EQ(ends[0].end, c.attempt_end);
    EXPECT_EQ(attempt_end_name(ends[0].end), c.attempt_end_name);
    EXPECT_EQ(ends[0].job, job);
    EXPECT_EQ(ends[0].worker, 1U);
    const std::optional<TaskView> task = h.task(1);
    EXPECT_EQ(task.has_value(), c.abandoned);
    if (c.abandoned) {
      EXPECT_TRUE(task->abandoned);
      EXPECT_EQ(h.in_use(1, k), 1U);
      EXPECT_EQ(h.ok(1), ReportVerdict::kLateReleased);
      EXPECT_EQ(h.in_use(1, k), 0U);
    }
    const std::string before = h.dump();
    EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
    EXPECT_EQ(h.fail(1), ReportVerdict::kEnded);
    h.broker.cancel(job);
    h.advance_by(2000 * kSecond);  // every timer of the job and the attempt is spent
    EXPECT_EQ(h.dump(), before);
    EXPECT_EQ(h.outcome_log.size(), 1U);
    EXPECT_EQ(h.observer.ends_of(h.task_id(1)).size(), 1U);  // the late report and the rest ended nothing
    EXPECT_EQ(h.observer.ended.size(), 1U);
  }
}

// TASK-4, RES-5: a report for an attempt that already ended (by result or worker error) is refused as kEnded and changes nothing, whatever it carries.
TEST(BrokerTask, ReportForEndedAttemptChangesNothing) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  h.submit(k);  // w1 t1
  h.submit(k);  // w2 t2
  h.submit(k);  // waits
  h.ok(1);      // job 3 -> w1 t3
  h.fail(2);    // job 2 -> waits for w1 (busy)
  const std::string before = h.dump();
  for (TaskId t : {TaskId{1}, TaskId{2}}) {
    EXPECT_EQ(h.ok(t), ReportVerdict::kEnded);
    EXPECT_EQ(h.fail(t, "late error"), ReportVerdict::kEnded);
    Report anonymous = h.report_for(t, true);
    anonymous.from.reset();
    EXPECT_EQ(h.broker.report(anonymous), ReportVerdict::kEnded);
  }
  EXPECT_EQ(h.dump(), before);
}

// TASK-5: every job gets exactly one outcome: an immediate refusal arrives before submit() returns, and nothing after the outcome (cancel, reports, timers, leaves) produces another.
TEST(BrokerTask, ExactlyOneOutcomePerJob) {
  Harness h;
  const Key k = key_of();
  bool called_before_return = false;
  const JobId refused = h.broker.submit(key_of("none"), payload_of("{}"), [&](const JobOutcome& o) {
    called_before_return = true;
    EXPECT_EQ(o.job, 1U);
    EXPECT_EQ(o.status, JobStatus::kNoWorker);
  });
  EXPECT_TRUE(called_before_return);
  EXPECT_EQ(refused, 1U);
  h.last_job = 1;
  h.join_n(1, 2, k, 1);
  const JobId ok = h.submit(k);
  const JobId failed = h.submit(k);
  h.ok(1);
  h.fail(2);  // -> w1 t3
  h.fail(3);  // all failed
  ASSERT_EQ(h.outcome_log.size(), 2U);
  h.broker.cancel(ok);
  h.broker.cancel(failed);
  h.ok(1);
  h.ok(3);
  h.advance_by(10000 * kSecond);
  h.broker.worker_left(1, "eof");
  h.broker.worker_left(2, "eof");
  EXPECT_EQ(h.outcome_log.size(), 2U);
  EXPECT_EQ(h.done(ok).status, JobStatus::kOk);
  EXPECT_EQ(h.done(failed).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.broker.open_jobs(), 0U);
}

}  // namespace
}  // namespace aipool::testing
