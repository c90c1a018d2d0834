// Broker: retries, slots of abandoned attempts and admission (spec/core.md).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// ---------------------------------------------------------------- RETRY

// RETRY-1, RES-6: after a worker error (a malformed result post included) the job goes to the next untried worker in rotation with a new TaskID, until one succeeds.
TEST(BrokerRetry, WorkerErrorGoesToNextWorker) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 1);
  const JobId job = h.submit(k, "payload");
  EXPECT_EQ(h.fail(1, "cuda out of memory"), ReportVerdict::kAccepted);
  // What the HTTP layer reports for a post it cannot parse but whose task it knows.
  EXPECT_EQ(h.fail(2, "malformed result: bad base64 in Data"), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}}));
  for (const SentNotice& s : h.transport.sends) {
    EXPECT_EQ(*s.payload, "payload");
    EXPECT_EQ(s.model, "m");
    EXPECT_EQ(s.pipeline, Pipeline::kTextToImage);
  }
  EXPECT_EQ(h.broker.job(job).value().tried, (std::vector<WorkerId>{1, 2, 3}));
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);
  const JobOutcome* o = h.outcome(job);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kOk);
  EXPECT_EQ(o->message, "");
  ASSERT_NE(o->result, nullptr);
  EXPECT_EQ(*o->result->json, "{\"task\":3}");
  EXPECT_EQ(o->attempts, 3U);
  EXPECT_EQ(h.number_of(o->last_task), 3);
  EXPECT_EQ(o->last_worker, 3U);
  EXPECT_EQ(h.view(k)->in_use, 0U);
}

// RETRY-1, TIME-2: after an attempt timeout the job goes to the next untried worker; the timed-out worker stays live and keeps its slot held.
TEST(BrokerRetry, AttemptTimeoutGoesToNextWorker) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 500 * kSecond));
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId job = h.submit(k);
  h.advance_by(100 * kSecond - 1);
  EXPECT_EQ(h.transport.sends.size(), 1U);
  h.advance_by(1);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}}));
  EXPECT_TRUE(h.live(1));
  EXPECT_EQ(h.in_use(1, k), 1U);
  EXPECT_TRUE(h.task(1).value().abandoned);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).status, JobStatus::kOk);
}

// RETRY-1, CONN-5: after a disconnect the job goes to the next untried worker.
TEST(BrokerRetry, DisconnectGoesToNextWorker) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 1);
  const JobId job = h.submit(k);
  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}}));
  h.broker.worker_left(2, "eof");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).attempts, 3U);
}

// RETRY-6: a worker error that rejects the request itself ends the job at once with `rejected input` and the worker's error, untried workers left alone; the attempt's slot is freed like any worker error's, and a plain worker error after it still fails over.
TEST(BrokerRetry, RejectedInputIsNotRetried) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId job = h.submit(k);
  Report r = h.report_for(1, false, "invalid request: audio: cut short");
  r.rejected_input = true;
  EXPECT_EQ(h.broker.report(r), ReportVerdict::kAccepted);
  const JobOutcome* o = h.outcome(job);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kRejected);
  EXPECT_EQ(o->message, "invalid request: audio: cut short");
  EXPECT_EQ(o->attempts, 1U);
  EXPECT_EQ(o->last_worker, 1U);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}}));
  EXPECT_EQ(h.view(k)->in_use, 0U);
  EXPECT_EQ(h.broker.open_jobs(), 0U);
  EXPECT_EQ(h.broker.live_attempts(), 0U);
  EXPECT_EQ(h.broker.report(r), ReportVerdict::kEnded);  // TASK-4: once only

  // The same text without the mark is an ordinary worker error (RETRY-1).
  const JobId next = h.submit(k);  // w2 t2
  EXPECT_EQ(h.fail(2, "invalid request: audio: cut short"), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}}));
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(next).status, JobStatus::kOk);
}

// RETRY-2: when every live worker offering the key has been tried the job fails `all workers failed` with the last worker's error; workers of other keys do not count, and an empty error text reads `worker error`.
TEST(BrokerRetry, AllWorkersFailedCarriesLastError) {
  Harness h;
  const Key a = key_of("a");
  h.join_n(1, 2, a, 1);
  h.join_ok(3, key_of("b"), 1);
  const JobId j1 = h.submit(a);
  h.fail(1, "e1");
  h.fail(2, "e2");
  const JobOutcome* o = h.outcome(j1);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kAllFailed);
  EXPECT_EQ(o->message, "all workers failed; last error: e2");
  EXPECT_EQ(o->attempts, 2U);
  EXPECT_EQ(h.number_of(o->last_task), 2);
  EXPECT_EQ(o->last_worker, 2U);
  EXPECT_EQ(o->result, nullptr);

  const JobId j2 = h.submit(a);  // w1 t3
  h.fail(3, "");
  h.fail(4, "");
  EXPECT_EQ(h.done(j2).message, "all workers failed; last error: worker error");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}, {2, 4}}));
}

// RETRY-2, TASK-5: the job stops at success (no further attempt), at cancel and at the job deadline, even with untried workers left.
TEST(BrokerRetry, StopsAtSuccessCancelAndDeadline) {
  Harness h(timed_config(1000 * kSecond, 100 * kSecond, 500 * kSecond));
  const Key k = key_of();
  h.join_n(1, 4, k, 1);
  const JobId done = h.submit(k);  // w1 t1
  h.ok(1);
  const JobId cancelled = h.submit(k);  // w2 t2
  h.broker.cancel(cancelled);
  const JobId late = h.submit(k);  // w3 t3
  h.advance_by(100 * kSecond);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(h.done(done).status, JobStatus::kOk);
  EXPECT_EQ(h.done(cancelled).status, JobStatus::kCancelled);
  EXPECT_EQ(h.done(cancelled).message, "cancelled by the client");
  EXPECT_EQ(h.done(late).status, JobStatus::kDeadline);
  EXPECT_EQ(h.done(late).message, "job deadline exceeded after 100 s");
  EXPECT_EQ(h.broker.open_jobs(), 0U);
}

// RETRY-3: a retrying job whose untried workers are busy waits at the head of the wait queue, ahead of jobs that have not started, behind earlier retrying jobs, and takes the first slot that frees on an untried worker.
TEST(BrokerRetry, RetryingJobWaitsAtHead) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 1);
  const JobId a = h.submit(k, "A");  // w1 t1
  const JobId b = h.submit(k, "B");  // w2 t2
  h.submit(k, "C");                  // w3 t3
  const JobId d = h.submit(k, "D");  // waits
  const JobId e = h.submit(k, "E");  // waits
  EXPECT_EQ(h.view(k)->waiting, 2U);
  // A fails on w1: w2 and w3 are busy, so A waits ahead of D and E; w1 goes to D.
  h.fail(1);
  EXPECT_EQ(h.dispatches_since(3), (Dispatches{{1, 4}}));
  EXPECT_EQ(h.transport.last_payload(), "D");
  EXPECT_EQ(h.broker.job(a).value().state, JobState::kWaiting);
  EXPECT_EQ(h.broker.job(e).value().state, JobState::kWaiting);
  // B fails on w2: waits behind A (both retrying), still ahead of E.
  h.fail(2);  // w2 frees: A (untried on w2) takes it
  EXPECT_EQ(h.dispatches_since(4), (Dispatches{{2, 5}}));
  EXPECT_EQ(h.transport.last_payload(), "A");
  EXPECT_EQ(h.broker.job(b).value().state, JobState::kWaiting);
  // D finishes on w1: B has tried only w2, so B goes before E.
  h.ok(4);
  EXPECT_EQ(h.dispatches_since(5), (Dispatches{{1, 6}}));
  EXPECT_EQ(h.transport.last_payload(), "B");
  EXPECT_EQ(h.broker.job(e).value().state, JobState::kWaiting);
  h.ok(3);  // w3 frees: E at last
  EXPECT_EQ(h.transport.last_payload(), "E");
  EXPECT_EQ(h.broker.job(d), std::nullopt);
}

// RETRY-4: retries are bounded: with every worker failing, a job is sent to each worker exactly once and makes exactly as many attempts as there are workers.
TEST(BrokerRetry, EachWorkerAtMostOnce) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 5, k, 3);
  const JobId job = h.submit(k);
  for (TaskId t = 1; t <= 5; ++t) EXPECT_EQ(h.fail(t, tagged("e", t)), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}}));
  const JobOutcome* o = h.outcome(job);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kAllFailed);
  EXPECT_EQ(o->attempts, 5U);
  EXPECT_EQ(o->message, "all workers failed; last error: e5");
}

// RETRY-4, CONN-4: with 2,000 workers whose sends all fail, one submit makes exactly 2,000 attempts without recursion (the stack would not survive it), closes every stream once, and ends `all workers failed`.
TEST(BrokerRetry, ThousandsOfSendFailuresNoRecursion) {
  Harness h;
  const Key k = key_of();
  constexpr std::size_t kWorkers = 2000;
  h.join_n(1, kWorkers, k, 1);
  for (WorkerId id = 1; id <= kWorkers; ++id) h.transport.fail_for.insert(id);
  const JobId job = h.submit(k);
  ASSERT_EQ(h.transport.sends.size(), kWorkers);
  for (std::size_t i = 0; i < kWorkers; ++i) {
    EXPECT_EQ(h.transport.sends[i].worker, i + 1);
    EXPECT_EQ(h.number_of(h.transport.sends[i].task), static_cast<TaskId>(i + 1));
  }
  EXPECT_EQ(h.transport.closes.size(), kWorkers);
  const JobOutcome* o = h.outcome(job);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->status, JobStatus::kAllFailed);
  EXPECT_EQ(o->attempts, kWorkers);
  EXPECT_EQ(o->message, h.task_ids_in("all workers failed; last error: sending task #2000 to worker 2000 failed"));
  EXPECT_TRUE(h.broker.workers().empty());
  EXPECT_FALSE(h.view(k).has_value());  // CAP-6: the key went with its last worker
}

// ---------------------------------------------------------------- SLOT

// SLOT-1, SLOT-2, TIME-2: an attempt that timed out keeps its slot, so the slow worker gets no new job; its late report releases the slot (content discarded, the job's outcome unchanged) and a second late report changes nothing.
TEST(BrokerSlot, TimedOutAttemptHoldsSlotUntilLateReport) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 500 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId first = h.submit(k);
  h.advance_by(100 * kSecond);
  ASSERT_EQ(h.done(first).status, JobStatus::kAllFailed);
  const JobId second = h.submit(k);
  EXPECT_EQ(h.transport.sends.size(), 1U);
  EXPECT_EQ(h.broker.job(second).value().state, JobState::kWaiting);
  EXPECT_EQ(h.view(k)->in_use, 1U);

  EXPECT_EQ(h.ok(1), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}}));
  EXPECT_EQ(h.done(first).status, JobStatus::kAllFailed);  // the late result was discarded
  EXPECT_EQ(h.outcome_log.size(), 1U);
  const std::string before = h.dump();
  EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.fail(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.dump(), before);
}

// SLOT-1, SLOT-2: a cancelled job's attempt keeps its slot until the worker reports, which then serves the next waiting job.
TEST(BrokerSlot, CancelledAttemptHoldsSlotUntilReport) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId job = h.submit(k);
  h.broker.cancel(job);
  const JobId next = h.submit(k);
  EXPECT_EQ(h.broker.job(next).value().state, JobState::kWaiting);
  EXPECT_EQ(h.fail(1, "aborted"), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}}));
  EXPECT_EQ(h.done(job).status, JobStatus::kCancelled);
}

// SLOT-1, SLOT-3, TIME-3, TIME-4: a slot held by an attempt abandoned at the job deadline is reclaimed exactly slot_reclaim later (not a microsecond sooner), and the late report after that is refused as ended.
TEST(BrokerSlot, HeldSlotReclaimedAfterBound) {
  Harness h(timed_config(1000 * kSecond, 100 * kSecond, 50 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const Micros t0 = h.clock.now();
  const JobId job = h.submit(k);
  h.advance_to(t0 + 100 * kSecond);
  EXPECT_EQ(h.done(job).status, JobStatus::kDeadline);
  EXPECT_TRUE(h.task(1).value().abandoned);
  const JobId next = h.submit(k);
  h.advance_to(t0 + 150 * kSecond - 1);
  EXPECT_EQ(h.transport.sends.size(), 1U);
  EXPECT_EQ(h.in_use(1, k), 1U);
  h.advance_to(t0 + 150 * kSecond);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}}));
  EXPECT_FALSE(h.task(1).has_value());
  EXPECT_EQ(h.number_of(h.broker.job(next).value().running_task), 2);
  const std::string before = h.dump();
  EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.dump(), before);
}

// SLOT-3, TIME-2: a slot abandoned by attempt timeout is reclaimed slot_reclaim after the timeout, and a late report before that releases it instead (so the reclaim timer then changes nothing).
TEST(BrokerSlot, ReclaimCountsFromAbandonment) {
  Harness h(timed_config(100 * kSecond, 10000 * kSecond, 300 * kSecond));
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const Micros t0 = h.clock.now();
  h.submit(k);                       // w1 t1
  h.advance_to(t0 + 100 * kSecond);  // t1 abandoned; job -> w2 t2
  h.advance_to(t0 + 200 * kSecond);  // t2 abandoned; job fails
  EXPECT_EQ(h.view(k)->in_use, 2U);
  EXPECT_EQ(h.ok(2), ReportVerdict::kLateReleased);  // w2's slot comes back early
  EXPECT_EQ(h.view(k)->in_use, 1U);
  h.advance_to(t0 + 400 * kSecond - 1);
  EXPECT_EQ(h.in_use(1, k), 1U);
  h.advance_to(t0 + 400 * kSecond);  // t1 reclaimed
  EXPECT_EQ(h.in_use(1, k), 0U);
  const std::string before = h.dump();
  h.advance_to(t0 + 600 * kSecond);  // t2's reclaim would have been due: nothing left to do
  EXPECT_EQ(h.dump(), before);
}

// ---------------------------------------------------------------- ADM

// ADM-1: a job for a key no live worker offers is refused at once (before submit returns) with `no worker offers pipeline P with model M`, arming no timer and sending nothing; other pipelines and models name themselves.
TEST(BrokerAdm, NoWorkerRefusedAtOnce) {
  Harness h;
  h.join_ok(1, key_of("m"), 1);
  h.submit(key_of("sdxl", Pipeline::kImageToImage));
  h.submit(key_of("m", Pipeline::kAudioToText));
  h.submit(key_of("M"));
  ASSERT_EQ(h.outcome_log.size(), 3U);
  EXPECT_EQ(h.outcome_log[0].status, JobStatus::kNoWorker);
  EXPECT_EQ(h.outcome_log[0].message, "no worker offers pipeline image-to-image with model sdxl");
  EXPECT_EQ(h.outcome_log[1].message, "no worker offers pipeline audio-to-text with model m");
  EXPECT_EQ(h.outcome_log[2].message, "no worker offers pipeline text-to-image with model M");
  EXPECT_EQ(h.outcome_log[2].attempts, 0U);
  EXPECT_EQ(h.number_of(h.outcome_log[2].last_task), 0);
  EXPECT_TRUE(h.transport.sends.empty());
  EXPECT_TRUE(h.clock.arm_log().empty());
  EXPECT_EQ(h.broker.open_jobs(), 0U);
}

// ADM-2: when every worker is busy jobs wait in FIFO order and are dispatched in that order as slots free.
TEST(BrokerAdm, WaitingJobsDispatchedInOrder) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  for (int i = 0; i < 6; ++i) h.submit(k, tagged("job", i));
  EXPECT_EQ(h.view(k)->waiting, 4U);
  h.ok(2);
  h.ok(1);
  h.fail(3, "x");  // job2 retries: waits at the head for w2
  h.ok(4);  // w1 frees: job2 (untried there) before job5
  h.ok(5);  // w2 frees: job5
  std::vector<std::string> order;
  for (const SentNotice& s : h.transport.sends) order.push_back(*s.payload);
  EXPECT_EQ(order, (std::vector<std::string>{"job0", "job1", "job2", "job3", "job4", "job2", "job5"}));
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {2, 3}, {1, 4}, {2, 5}, {1, 6}, {2, 7}}));
}

// ADM-2, SEL-1: jobs that wait because no worker offers a free slot are dispatched, in order, as soon as a worker offering their key joins.
TEST(BrokerAdm, JoiningWorkerServesWaitingJobs) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  h.submit(k, "first");   // w1 t1
  h.submit(k, "second");  // waits
  h.submit(k, "third");   // waits
  h.join_ok(2, key_of("other"), 5);
  EXPECT_EQ(h.transport.sends.size(), 1U);
  h.join_ok(3, k, 2);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {3, 2}, {3, 3}}));
  EXPECT_EQ(h.transport.payload_at(1), "second");
  EXPECT_EQ(h.transport.payload_at(2), "third");
  EXPECT_EQ(h.view(k)->waiting, 0U);
}

// ADM-3, RETRY-3: with the wait queue full a new job is refused with `wait queue full` (its deadline timer disarmed), but retrying jobs are never refused for it and go to its head.
TEST(BrokerAdm, QueueFullRefusesNewJobsNotRetries) {
  BrokerConfig config = timed_config(100 * kSecond, 900 * kSecond, 500 * kSecond);
  config.queue_limit = 2;
  Harness h(config);
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const Micros t0 = h.clock.now();
  h.submit(k);  // w1 t1
  h.submit(k);  // w2 t2
  h.submit(k);  // waits
  h.submit(k);  // waits
  const JobId refused = h.submit(k);
  ASSERT_NE(h.outcome(refused), nullptr);
  EXPECT_EQ(h.done(refused).status, JobStatus::kQueueFull);
  EXPECT_EQ(h.done(refused).message, "wait queue full for text-to-image/m (2 jobs waiting, limit 2)");
  std::size_t deadlines_armed = 0;
  for (const auto& [id, at] : h.clock.armed()) deadlines_armed += at == t0 + 900 * kSecond ? 1 : 0;
  EXPECT_EQ(deadlines_armed, 4U);  // jobs 1-4; the refused job's was disarmed
  EXPECT_EQ(h.broker.open_jobs(), 4U);

  // Both attempts time out; their slots stay held, so jobs 1 and 2 must wait: they
  // join the full queue at its head instead of being refused.
  h.advance_to(t0 + 100 * kSecond);
  EXPECT_EQ(h.outcome_log.size(), 1U);
  EXPECT_EQ(h.view(k)->waiting, 4U);
  EXPECT_EQ(h.broker.job(1).value().state, JobState::kWaiting);
  EXPECT_EQ(h.broker.job(2).value().state, JobState::kWaiting);
  // w1's late report frees its slot: job 1 tried w1, so job 2 (next retrying) takes it.
  EXPECT_EQ(h.ok(1), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.dispatches_since(2), (Dispatches{{1, 3}}));
  EXPECT_EQ(h.number_of(h.broker.job(2).value().running_task), 3);
  h.submit(k);  // job 6: the queue (jobs 1, 3, 4) is over its limit
  EXPECT_EQ(h.done(6).status, JobStatus::kQueueFull);
  EXPECT_EQ(h.done(6).message, "wait queue full for text-to-image/m (3 jobs waiting, limit 2)");
}

// ADM-4, CAP-6: when the last worker of a key leaves, waiting jobs that made no attempt fail with ADM-1's refusal and those that did fail `all workers failed`; then the key is forgotten.
TEST(BrokerAdm, LastWorkerLeavingFailsWaitingJobs) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  h.join_ok(2, key_of("other"), 1);
  h.submit(k);  // w1 t1
  h.submit(k);  // waits, no attempt
  h.broker.worker_left(1, "eof");
  ASSERT_EQ(h.outcome_log.size(), 2U);
  EXPECT_EQ(h.done(1).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(1).message, "all workers failed; last error: worker 1 disconnected (eof)");
  EXPECT_EQ(h.done(2).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(2).message, "no worker offers pipeline text-to-image with model m");
  EXPECT_EQ(h.done(2).attempts, 0U);
  EXPECT_FALSE(h.view(k).has_value());
  EXPECT_TRUE(h.clock.armed().empty());
}

// ADM-4, RETRY-2: a waiting job that has tried every worker still live for its key fails `all workers failed` when the worker it waited for leaves, while the leaver's own job moves to a free worker.
TEST(BrokerAdm, WaitingJobFailsWhenOnlyTriedWorkersRemain) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId a = h.submit(k);  // w1 t1
  const JobId b = h.submit(k);  // w2 t2
  h.fail(1, "oom on w1");       // a waits for w2
  EXPECT_EQ(h.broker.job(a).value().state, JobState::kWaiting);
  h.broker.worker_left(2, "eof");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}}));
  EXPECT_EQ(h.number_of(h.broker.job(b).value().running_task), 3);
  ASSERT_NE(h.outcome(a), nullptr);
  EXPECT_EQ(h.done(a).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(a).message, "all workers failed; last error: oom on w1");
}

}  // namespace
}  // namespace aipool::testing
