// go-livepeer's remote-worker bugs (livepeer-protocol.md 5.9, numbered as there)
// and the manager checks of its own test list (section 8): one test per
// applicable bug, proving aipool's core does not have it.
//
// Not applicable to the core: 3, 4, 13-21 (HTTP parsing, streaming, the worker
// process, versions, unlocked reads: aipool's core is single-threaded).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// Bug 1, RES-4: a result post with a wrong Credentials value is refused (kUnauthorized) and is not processed further: the job keeps waiting for its real result, nothing changes.
TEST(LivepeerBugs, Bug01WrongCredentialsStopProcessing) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId job = h.submit(k);
  const std::string before = h.dump();
  for (bool ok : {true, false}) {
    Report r = h.report_for(1, ok, "forged error");
    r.credentials = "not-the-secret";
    EXPECT_EQ(h.broker.report(r), ReportVerdict::kUnauthorized);
  }
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.outcome(job), nullptr);
  EXPECT_EQ(h.number_of(h.broker.job(job).value().running_task), 1);
  EXPECT_FALSE(h.task(1).value().abandoned);
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).status, JobStatus::kOk);
}

// Bug 2, TASK-2, RES-5: a worker cannot complete another worker's task (kWrongWorker), nor pre-empt a TaskID not yet issued even if it knew it (kUnknownTask, and the later attempt under that id is unaffected); TaskIDs are not predictable anyway (TASK-1).
TEST(LivepeerBugs, Bug02NoCompletingOtherWorkersTasks) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId victim = h.submit(k);  // w1 t1
  Report guess = h.report_for(1, true);
  guess.from = 2;
  EXPECT_EQ(h.broker.report(guess), ReportVerdict::kWrongWorker);
  guess.task = h.task_id(2);  // the next TaskID, not yet issued
  EXPECT_EQ(h.broker.report(guess), ReportVerdict::kUnknownTask);
  EXPECT_EQ(h.outcome(victim), nullptr);
  const JobId next = h.submit(k);  // w2 t2
  EXPECT_EQ(h.number_of(h.transport.last().task), 2);
  EXPECT_EQ(h.outcome(next), nullptr);
  EXPECT_EQ(h.number_of(h.broker.job(next).value().running_task), 2);
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.result_json(victim), "{\"task\":1}");
  EXPECT_EQ(h.result_json(next), "{\"task\":2}");
}

// Bug 5, CONN-5, DET-2: two jobs with identical request bytes (go-livepeer's colliding request ids) on a worker that dies are two separate jobs: each is retried and completed once, with no completion re-entering the core and no stale session left for the dead worker.
TEST(LivepeerBugs, Bug05NoSharedSessionNoReentry) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 2);
  h.join_ok(2, k, 2);
  const JobId a = h.submit(k, "{\"request_id\":\"0001\"}");  // w1 t1
  h.ok(1);
  const JobId b = h.submit(k, "{\"request_id\":\"0001\"}");  // w2 t2
  const JobId c = h.submit(k, "{\"request_id\":\"0001\"}");  // w1 t3
  ASSERT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}}));
  h.broker.worker_left(1, "eof");  // c moves to w2 as t4
  EXPECT_EQ(h.dispatches_since(3), (Dispatches{{2, 4}}));
  EXPECT_EQ(h.ok(3), ReportVerdict::kEnded);  // the dead worker's attempt is gone
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.ok(4), ReportVerdict::kAccepted);
  for (JobId job : {a, b, c}) {
    ASSERT_NE(h.outcome(job), nullptr) << job;
    EXPECT_EQ(h.done(job).status, JobStatus::kOk);
  }
  EXPECT_EQ(h.number_of(h.done(c).last_task), 4);
  EXPECT_EQ(h.outcome_log.size(), 3U);
  EXPECT_EQ(h.in_use(2, k), 0U);
}

// Bug 6, CAP-2, CAP-4: the slot is always taken on the worker the notice went to, and given back there: after every send, retry and leave, each worker's in_use equals the attempts the test saw it receive that are still open.
TEST(LivepeerBugs, Bug06CapacityOnTheChosenWorkerOnly) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 3, k, 2);
  std::map<TaskId, WorkerId> open;
  std::size_t seen = 0;
  const auto check = [&](const char* step) {
    for (; seen < h.transport.sends.size(); ++seen) open[h.number_of(h.transport.sends[seen].task)] = h.transport.sends[seen].worker;
    std::map<WorkerId, std::uint32_t> expected;
    for (const auto& [task, worker] : open) ++expected[worker];
    for (WorkerId w = 1; w <= 3; ++w) {
      if (h.live(w)) {
        EXPECT_EQ(h.in_use(w, k), expected[w]) << step << " worker " << w;
      }
    }
  };
  h.submit(k);  // w1 t1
  h.submit(k);  // w2 t2
  check("two sends");
  open.erase(1);
  h.fail(1);  // job 1 -> w3 t3
  check("retry after error");
  open.erase(3);
  h.fail(3);  // job 1 -> w2 t4 (w1 tried)
  check("second retry");
  h.submit(k);  // job 3: w3 t5
  h.submit(k);  // job 4: w1 t6
  check("more sends");
  std::erase_if(open, [](const auto& e) { return e.second == 2; });
  h.broker.worker_left(2, "eof");  // job 2 (t2) -> w3 t7; job 1 (t4) has tried every live worker
  check("after leave");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {2, 4}, {3, 5}, {1, 6}, {3, 7}}));
  ASSERT_NE(h.outcome(1), nullptr);
  EXPECT_EQ(h.done(1).message, "all workers failed; last error: worker 2 disconnected (eof)");
  EXPECT_EQ(h.in_use(1, k), 1U);
  EXPECT_EQ(h.in_use(3, k), 2U);
}

// Bug 7, CAP-1: two workers with the same address (one NAT, or a stale duplicate) keep separate accounting: a completion on one never frees a slot of the other and capacity is never inflated.
TEST(LivepeerBugs, Bug07SameAddressSeparateAccounting) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1, "192.168.1.5:9000");
  h.join_ok(2, k, 1, "192.168.1.5:9000");
  h.submit(k);  // w1 t1
  h.submit(k);  // w2 t2
  h.ok(1);
  EXPECT_EQ(h.in_use(1, k), 0U);
  EXPECT_EQ(h.in_use(2, k), 1U);
  EXPECT_EQ(h.view(k)->capacity, 2U);
  EXPECT_EQ(h.view(k)->in_use, 1U);
  h.submit(k);  // w1 t3
  h.submit(k);  // waits: w2 is still busy
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}}));
  h.broker.worker_left(1, "eof");  // job 3 waits for w2
  EXPECT_TRUE(h.live(2));
  EXPECT_EQ(h.in_use(2, k), 1U);
  EXPECT_EQ(h.view(k)->capacity, 1U);
  const auto workers = h.broker.workers();
  ASSERT_EQ(workers.size(), 1U);
  EXPECT_EQ(workers[0].address, "192.168.1.5:9000");
}

// Bug 8, CAP-1, CAP-4: capacity never grows with completed jobs: 1,000 jobs through a 2-slot worker, four at a time (results, errors, cancels with late results and late errors), leave capacity at 2 and in_use at 0, never more than 2 attempts in flight.
TEST(LivepeerBugs, Bug08CapacityNeverGrows) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 2);
  h.join_ok(2, key_of("other"), 1);
  for (int round = 0; round < 250; ++round) {
    std::vector<JobId> jobs;
    for (int i = 0; i < 4; ++i) jobs.push_back(h.submit(k));
    ASSERT_EQ(h.view(k)->in_use, 2U) << round;
    ASSERT_EQ(h.view(k)->waiting, 2U) << round;
    for (int i = 0; i < 4; ++i) {
      const std::optional<JobView> job = h.broker.job(jobs[static_cast<std::size_t>(i)]);
      ASSERT_TRUE(job.has_value());
      const TaskId task = h.number_of(job->running_task);
      ASSERT_NE(task, 0) << round << " " << i;
      switch (i) {
        case 0: ASSERT_EQ(h.ok(task), ReportVerdict::kAccepted); break;
        case 1: ASSERT_EQ(h.fail(task), ReportVerdict::kAccepted); break;  // no other worker: all failed
        case 2:
          h.broker.cancel(jobs[2]);
          ASSERT_EQ(h.ok(task), ReportVerdict::kLateReleased);
          break;
        default:
          h.broker.cancel(jobs[3]);
          ASSERT_EQ(h.fail(task), ReportVerdict::kLateReleased);
          break;
      }
      ASSERT_EQ(h.view(k)->capacity, 2U) << round;
      ASSERT_LE(h.view(k)->in_use, 2U) << round;
    }
    ASSERT_EQ(h.view(k)->in_use, 0U) << round;
  }
  EXPECT_EQ(h.transport.sends.size(), 1000U);
  EXPECT_EQ(h.outcome_log.size(), 1000U);
  EXPECT_EQ(h.view(k)->capacity, 2U);
}

// Bug 9, CONN-5, CAP-3: a disconnected worker is never selected nor counted: all later jobs go to the live worker, the key disappears when the live one leaves too (jobs refused at once), and a reconnect under a new id counts once.
TEST(LivepeerBugs, Bug09StaleWorkerNeverSelected) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 3);
  h.join_ok(2, k, 1);
  h.broker.worker_left(1, "eof");
  EXPECT_EQ(h.view(k)->capacity, 1U);
  for (int i = 0; i < 50; ++i) {
    h.submit(k);
    h.ok(h.number_of(h.transport.last().task));
  }
  for (const SentNotice& s : h.transport.sends) EXPECT_EQ(s.worker, 2U);
  h.broker.worker_left(2, "eof");
  const JobId refused = h.submit(k);
  EXPECT_EQ(h.done(refused).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(refused).message, "no worker offers pipeline text-to-image with model m");
  h.join_ok(3, k, 3);  // worker 1 reconnects under a new id
  EXPECT_EQ(h.view(k)->capacity, 3U);
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{3}));
}

// Bug 10, RETRY-4, RETRY-2: retries are bounded and iterative: with every worker failing (errors and failed sends mixed) a job makes exactly one attempt per worker and ends `all workers failed` with the last error; a cancel stops a job that is waiting to retry.
TEST(LivepeerBugs, Bug10BoundedRetries) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 6, k, 1);
  h.transport.fail_for = {2, 4};
  const JobId job = h.submit(k);  // w1 t1
  h.fail(1, "e1");                // w2 t2 fails to send, w3 t3
  h.fail(3, "e3");                // w4 t4 fails to send, w5 t5
  h.fail(5, "e5");                // w6 t6
  h.fail(6, "e6");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 6}}));
  ASSERT_NE(h.outcome(job), nullptr);
  EXPECT_EQ(h.done(job).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(job).attempts, 6U);
  EXPECT_EQ(h.done(job).message, "all workers failed; last error: e6");

  // A job waiting to retry stops when cancelled: no attempt after the cancel.
  const JobId first = h.submit(k);    // w1 t7
  const JobId retried = h.submit(k);  // w3 t8
  h.submit(k);                        // w5 t9
  h.submit(k);                        // w6 t10
  h.fail(8, "x");                     // every untried worker is busy: retried waits
  EXPECT_EQ(h.broker.job(retried).value().state, JobState::kWaiting);
  EXPECT_EQ(h.transport.sends.size(), 10U);
  h.broker.cancel(retried);
  h.ok(7);  // w1 frees: nothing left to send
  EXPECT_EQ(h.done(retried).status, JobStatus::kCancelled);
  EXPECT_EQ(h.done(retried).attempts, 1U);
  EXPECT_EQ(h.done(first).status, JobStatus::kOk);
  EXPECT_EQ(h.transport.sends.size(), 10U);
}

// Bug 11, TIME-2: an attempt timeout does not evict the worker: it stays registered and in rotation, its stream is not closed, its other attempt still completes, and it is chosen again once its slot frees.
TEST(LivepeerBugs, Bug11TimeoutDoesNotEvict) {
  Harness h(timed_config(100 * kSecond, 10000 * kSecond, 1000 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 2);
  h.join_ok(2, k, 1);
  const Micros t0 = h.clock.now();
  const JobId slow = h.submit(k);  // w1 t1
  h.clock.set_now(t0 + 60 * kSecond);
  const JobId other = h.submit(k);  // w2 t2
  const JobId third = h.submit(k);  // w1 t3
  h.advance_to(t0 + 100 * kSecond);  // t1 times out; slow waits for a free untried worker
  EXPECT_TRUE(h.live(1));
  EXPECT_TRUE(h.transport.closes.empty());
  EXPECT_EQ(h.broker.rotation(k).size(), 2U);
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);  // w1's other attempt completes
  EXPECT_EQ(h.done(third).status, JobStatus::kOk);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);  // w2 frees: slow goes there
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}, {1, 3}, {2, 4}}));
  h.ok(4);
  EXPECT_EQ(h.done(slow).status, JobStatus::kOk);
  EXPECT_EQ(h.done(other).status, JobStatus::kOk);
  h.submit(k);
  h.submit(k);
  EXPECT_EQ(h.dispatches_since(4), (Dispatches{{1, 5}, {2, 6}}));
}

// Bug 12, SLOT-1, SLOT-2, SLOT-3: a client's cancel ends the job at once (kCancelled), and the worker's slot stays held until that worker reports or the reclaim bound passes, never given to a new job early.
TEST(LivepeerBugs, Bug12CancelPropagates) {
  Harness h(timed_config(1000 * kSecond, 10000 * kSecond, 200 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const Micros t0 = h.clock.now();
  const JobId first = h.submit(k);
  h.broker.cancel(first);
  EXPECT_EQ(h.done(first).status, JobStatus::kCancelled);
  EXPECT_EQ(h.done(first).message, "cancelled by the client");
  const JobId second = h.submit(k);
  EXPECT_EQ(h.broker.job(second).value().state, JobState::kWaiting);
  EXPECT_EQ(h.fail(1, "aborted"), ReportVerdict::kLateReleased);  // the worker reports
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}}));

  h.broker.cancel(second);  // this time the worker never reports
  const JobId third = h.submit(k);
  h.advance_to(t0 + 200 * kSecond - 1);
  EXPECT_EQ(h.broker.job(third).value().state, JobState::kWaiting);
  h.advance_to(t0 + 200 * kSecond);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}, {1, 3}}));
}

// Bug 22, CAP-4, SLOT-3: no slot leaks on any failure path (worker error, failed send, disconnect, attempt timeout, cancel, deadline, queue full, no worker): once every abandoned slot is reported or reclaimed, every in_use is back to 0 and no attempt or job is left.
TEST(LivepeerBugs, Bug22NoSlotLeaks) {
  BrokerConfig config = timed_config(100 * kSecond, 150 * kSecond, 50 * kSecond);
  config.queue_limit = 1;
  Harness h(config);
  const Key k = key_of();
  h.join_n(1, 4, k, 1);
  h.transport.fail_for = {4};
  h.submit(k);                     // job 1: w1 t1
  h.fail(1, "worker error");       // job 1 -> w2 t2
  h.broker.worker_left(2, "eof");  // job 1 -> w3 t3
  h.advance_by(100 * kSecond);     // t3 times out (slot held); job 1 -> w4 t4, send fails: all failed
  const JobId cancelled = h.submit(k);  // job 2: w1 t5
  h.submit(k);                          // job 3: waits (w1 busy, w3 held)
  h.submit(k);                          // job 4: queue full
  h.broker.cancel(cancelled);           // t5 abandoned, slot held
  h.advance_by(200 * kSecond);          // reclaims; job 3 runs, times out, runs again, hits its deadline
  h.submit(key_of("nobody"));           // job 5: no worker
  EXPECT_EQ(h.done(1).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(1).message, h.task_ids_in("all workers failed; last error: sending task #4 to worker 4 failed"));
  EXPECT_EQ(h.done(2).status, JobStatus::kCancelled);
  EXPECT_EQ(h.done(3).status, JobStatus::kDeadline);
  EXPECT_EQ(h.done(4).status, JobStatus::kQueueFull);
  EXPECT_EQ(h.done(5).status, JobStatus::kNoWorker);
  h.advance_by(1000 * kSecond);
  for (TaskId t = 1; t <= static_cast<TaskId>(h.broker.attempts_made()); ++t) h.ok(t);  // whatever is still open or late
  h.advance_by(1000 * kSecond);
  EXPECT_EQ(h.broker.live_attempts(), 0U);
  EXPECT_EQ(h.broker.open_jobs(), 0U);
  for (const WorkerView& w : h.broker.workers()) {
    for (const SeatView& s : w.seats) EXPECT_EQ(s.in_use, 0U) << "worker " << w.id;
  }
  EXPECT_EQ(h.view(k)->in_use, 0U);
  EXPECT_EQ(h.view(k)->capacity, 2U);  // w2 left, w4 removed by its failed send
  EXPECT_EQ(h.outcome_log.size(), 5U);
  for (JobId job = 1; job <= 5; ++job) EXPECT_NE(h.outcome(job), nullptr) << job;
  expect_ledger_matches_workers(h.broker);
}

// ---------------------------------------------------------------- go-livepeer's own manager tests (section 8)

// TestSelectAIWorker, CAP-1, CAP-4, ADM-2, CAP-3: capacity 2+2 is taken four times and the fifth job waits (not an error); a completion returns a slot that serves it; a report for a task never issued returns nothing; a model only on a disconnected worker becomes unavailable and a reconnect restores it.
TEST(LivepeerTests, SelectAIWorkerBookkeeping) {
  Harness h;
  const Key t2i = key_of("model2");
  const Key i2i = key_of("model2", Pipeline::kImageToImage);
  ASSERT_EQ(h.join(1, {Advert{t2i, 2}, Advert{i2i, 1}}).verdict, JoinVerdict::kAccepted);
  h.join_ok(2, t2i, 2);
  h.submit(i2i);
  EXPECT_EQ(h.view(t2i)->in_use, 0U);  // another pipeline's model2 is untouched
  EXPECT_EQ(h.view(i2i)->in_use, 1U);
  for (int i = 0; i < 4; ++i) h.submit(t2i);
  const JobId fifth = h.submit(t2i);
  EXPECT_EQ(h.view(t2i)->in_use, 4U);
  EXPECT_EQ(h.broker.job(fifth).value().state, JobState::kWaiting);
  Report wrong = h.report_for(99, true);
  wrong.from = 1;
  EXPECT_EQ(h.broker.report(wrong), ReportVerdict::kUnknownTask);
  EXPECT_EQ(h.view(t2i)->in_use, 4U);
  h.ok(2);
  EXPECT_EQ(h.broker.job(fifth).value().state, JobState::kRunning);
  EXPECT_EQ(h.view(t2i)->in_use, 4U);
  h.broker.worker_left(1, "eof");
  EXPECT_FALSE(h.view(i2i).has_value());  // CAP-6
  h.submit(i2i);
  EXPECT_EQ(h.done(h.last_job).status, JobStatus::kNoWorker);
  ASSERT_EQ(h.join(3, {Advert{i2i, 1}}).verdict, JoinVerdict::kAccepted);
  h.submit(i2i);
  EXPECT_EQ(h.transport.last().worker, 3U);
}

// TestRemoteAIWorkerManager, RETRY-1, CONN-4: the happy path returns the worker's result; a worker-side job error is reported as an error and the worker stays; a send error removes the worker.
TEST(LivepeerTests, RemoteAIWorkerManager) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId good = h.submit(k);
  h.ok(1);
  ASSERT_EQ(h.done(good).status, JobStatus::kOk);
  EXPECT_EQ(h.result_json(good), "{\"task\":1}");
  const JobId bad = h.submit(k);
  h.fail(2, "Some error");
  EXPECT_EQ(h.done(bad).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(bad).message, "all workers failed; last error: Some error");
  EXPECT_TRUE(h.live(1));
  h.transport.fail_for = {1};
  const JobId unsent = h.submit(k);
  EXPECT_FALSE(h.live(1));
  EXPECT_EQ(h.done(unsent).message, h.task_ids_in("all workers failed; last error: sending task #3 to worker 1 failed"));
  EXPECT_TRUE(h.broker.workers().empty());
}

}  // namespace
}  // namespace aipool::testing
