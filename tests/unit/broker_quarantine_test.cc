// Broker: quarantine of failing workers (spec/core.md QUAR-1..QUAR-7).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "core/timer_id.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;

BrokerConfig quarantine_config(std::uint32_t after = 3, Micros cooldown = 30 * kSecond,
                               Micros max_cooldown = 600 * kSecond) {
  BrokerConfig config = default_config();
  config.quarantine = QuarantineConfig{after, cooldown, max_cooldown};
  return config;
}

SeatView seat(const Harness& h, WorkerId worker, const Key& k = key_of()) {
  const std::optional<SeatView> view = h.broker.seat_view(worker, k);
  EXPECT_TRUE(view.has_value()) << "worker " << worker << " has no seat";
  return view.value_or(SeatView{});
}

// The last send, as (worker, attempt number).
std::pair<WorkerId, TaskId> last_send(const Harness& h) {
  const Dispatches d = h.dispatches();
  EXPECT_FALSE(d.empty());
  return d.empty() ? std::pair<WorkerId, TaskId>{0, 0} : d.back();
}

bool cooldown_armed(const Harness& h) {
  for (const auto& [id, at] : h.clock.armed()) {
    if ((id >> kTimerKindShift) == static_cast<std::uint64_t>(TimerKind::kCooldown)) return true;
  }
  return false;
}

// Workers 1 and 2 serve key_of(); worker 1 fails three jobs in a row (each then
// succeeds on worker 2), so worker 1 is quarantined at the current time.
void quarantine_worker_1(Harness& h) {
  for (int i = 0; i < 3; ++i) {
    h.submit(key_of());
    const auto [worker, n] = last_send(h);
    ASSERT_EQ(worker, 1U);
    h.fail(n);
    const auto [retry_worker, retry] = last_send(h);
    ASSERT_EQ(retry_worker, 2U);
    h.ok(retry);
  }
}

// Proves three counted failures in a row quarantine a seat for the base cool-down, the view shows it, and new jobs then skip it for the healthy worker (QUAR-1, QUAR-2, QUAR-4, QUAR-6).
TEST(BrokerQuarantine, ThreeFailuresQuarantineTheSeat) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 2);
  quarantine_worker_1(h);
  const Micros t0 = h.clock.now();
  const SeatView s = seat(h, 1);
  EXPECT_EQ(s.state, SeatState::kQuarantined);
  EXPECT_EQ(s.consecutive_failures, 3U);
  EXPECT_EQ(s.strikes, 1U);
  EXPECT_EQ(s.quarantined_until, t0 + 30 * kSecond);
  EXPECT_EQ(seat(h, 2).state, SeatState::kHealthy);
  EXPECT_TRUE(cooldown_armed(h));
  for (int i = 0; i < 4; ++i) {
    h.submit(key_of());
    EXPECT_EQ(last_send(h).first, 2U) << "job " << i;
    h.ok(last_send(h).second);
  }
}

// Proves rejected input, cancellation and the job deadline neither count nor clear, a worker error counts and a result clears (QUAR-1).
TEST(BrokerQuarantine, OnlyCountedFailuresCount) {
  BrokerConfig config = quarantine_config();
  config.attempt_timeout = 1000 * kSecond;  // past the job deadline
  Harness h(std::move(config));
  const Key k = key_of();
  h.join_ok(1, k, 4);
  h.submit(k);
  h.fail(1);  // counted; the job ends: no other worker
  EXPECT_EQ(seat(h, 1).consecutive_failures, 1U);
  h.submit(k);
  Report rejected = h.report_for(2, false, "bad image");
  rejected.rejected_input = true;
  EXPECT_EQ(h.broker.report(rejected), ReportVerdict::kAccepted);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 1U);
  const JobId cancelled = h.submit(k);
  h.broker.cancel(cancelled);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 1U);
  h.submit(k);
  h.advance_by(900 * kSecond);  // the job deadline (TIME-3) of attempt 4
  EXPECT_EQ(h.done(h.last_job).status, JobStatus::kDeadline);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 1U);
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
  h.submit(k);
  h.fail(last_send(h).second);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 2U);
  h.submit(k);
  h.ok(last_send(h).second);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 0U);
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
}

// Proves `worker at capacity` (a worker full of other orchestrators' jobs) never counts, however often: the seat stays healthy and takes jobs (QUAR-1, MULTI-2).
TEST(BrokerQuarantine, AtCapacityIsNotAFailure) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 2);
  for (int i = 0; i < 5; ++i) {
    h.submit(key_of());
    const auto [worker, n] = last_send(h);
    ASSERT_EQ(worker, 1U);
    h.fail(n, "worker at capacity");
    const auto [retry_worker, retry] = last_send(h);
    ASSERT_EQ(retry_worker, 2U);
    h.ok(retry);
  }
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 0U);
  EXPECT_FALSE(cooldown_armed(h));
  h.submit(key_of());
  ASSERT_EQ(last_send(h).first, 1U);
  h.fail(last_send(h).second);  // a real failure still counts
  EXPECT_EQ(seat(h, 1).consecutive_failures, 1U);
}

// Proves attempt timeouts are counted failures that quarantine the seat (QUAR-1, QUAR-2).
TEST(BrokerQuarantine, AttemptTimeoutsCount) {
  BrokerConfig config = quarantine_config();
  config.attempt_timeout = 10 * kSecond;
  Harness h(std::move(config));
  const Micros t0 = h.clock.now();
  h.join_ok(1, key_of(), 3);
  for (int i = 0; i < 3; ++i) {
    h.submit(key_of());
    h.advance_by(10 * kSecond);
    EXPECT_EQ(h.done(h.last_job).status, JobStatus::kAllFailed);
  }
  EXPECT_EQ(seat(h, 1).state, SeatState::kQuarantined);
  EXPECT_EQ(seat(h, 1).quarantined_until, t0 + 60 * kSecond);
}

// Proves the cool-down's end allows exactly one probe, jobs skip the probing seat (waiting for the busy healthy one rather than take it), and the probe's result clears the seat and frees it for the waiting job (QUAR-3, QUAR-4, QUAR-5, ADM-2).
TEST(BrokerQuarantine, OneProbeAfterTheCooldown) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 1);
  quarantine_worker_1(h);
  h.advance_by(30 * kSecond);
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbeReady);
  h.submit(key_of());
  const auto [probe_worker, probe] = last_send(h);
  ASSERT_EQ(probe_worker, 1U);
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbing);
  EXPECT_EQ(seat(h, 1).probe_task, h.task_id(probe));
  h.submit(key_of());
  EXPECT_EQ(last_send(h).first, 2U);  // worker 1 has a free slot but is probing
  const std::size_t sends = h.transport.sends.size();
  const JobId waiting = h.submit(key_of());
  EXPECT_EQ(h.transport.sends.size(), sends);  // waits for worker 2
  EXPECT_EQ(h.view(key_of())->waiting, 1U);
  h.ok(probe);
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
  EXPECT_EQ(seat(h, 1).strikes, 0U);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 0U);
  EXPECT_EQ(last_send(h).first, 1U);  // the waiting job, now that worker 1 is healthy
  EXPECT_EQ(h.broker.job(waiting)->tried, (std::vector<WorkerId>{1}));
}

// Proves a failed probe quarantines the seat again with the cool-down doubled, up to the cap (QUAR-2, QUAR-5).
TEST(BrokerQuarantine, FailedProbeDoublesTheCooldownUpToTheCap) {
  Harness h(quarantine_config(3, 30 * kSecond, 100 * kSecond));
  const Micros t0 = h.clock.now();
  h.join_ok(1, key_of(), 1);
  for (int i = 0; i < 3; ++i) {
    h.submit(key_of());
    h.fail(last_send(h).second);
  }
  EXPECT_EQ(seat(h, 1).quarantined_until, t0 + 30 * kSecond);
  const Micros expected_until[] = {t0 + 30 * kSecond + 60 * kSecond, t0 + 90 * kSecond + 100 * kSecond,
                                   t0 + 190 * kSecond + 100 * kSecond};
  for (std::size_t strike = 0; strike < 3; ++strike) {
    h.advance_to(seat(h, 1).quarantined_until);
    ASSERT_EQ(seat(h, 1).state, SeatState::kProbeReady);
    h.submit(key_of());
    ASSERT_EQ(seat(h, 1).state, SeatState::kProbing);
    h.fail(last_send(h).second);
    EXPECT_EQ(seat(h, 1).state, SeatState::kQuarantined);
    EXPECT_EQ(seat(h, 1).strikes, strike + 2);
    EXPECT_EQ(seat(h, 1).quarantined_until, expected_until[strike]);
  }
}

// Proves a job whose untried seats are all quarantined still runs there (no refusal), not as a probe: its failure only counts, its result clears the seat and cancels the cool-down (QUAR-4, QUAR-1).
TEST(BrokerQuarantine, OnlyQuarantinedSeatsLeftStillServe) {
  Harness h(quarantine_config());
  const Micros t0 = h.clock.now();
  h.join_ok(1, key_of(), 1);
  for (int i = 0; i < 3; ++i) {
    h.submit(key_of());
    h.fail(last_send(h).second);
  }
  h.advance_by(5 * kSecond);
  h.submit(key_of());
  EXPECT_EQ(last_send(h).first, 1U);
  EXPECT_EQ(seat(h, 1).state, SeatState::kQuarantined);
  h.fail(last_send(h).second);
  EXPECT_EQ(h.done(h.last_job).status, JobStatus::kAllFailed);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 4U);
  EXPECT_EQ(seat(h, 1).strikes, 1U);
  EXPECT_EQ(seat(h, 1).quarantined_until, t0 + 30 * kSecond);
  h.submit(key_of());
  h.ok(last_send(h).second);
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
  EXPECT_FALSE(cooldown_armed(h));
}

// Proves a probe that ends without proving anything (cancelled) leaves the seat probe ready and its next job is a new probe (QUAR-5).
TEST(BrokerQuarantine, CancelledProbeIsReadyAgain) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  for (int i = 0; i < 3; ++i) {
    h.submit(key_of());
    h.fail(last_send(h).second);
  }
  h.advance_by(30 * kSecond);
  const JobId probe_job = h.submit(key_of());
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbing);
  h.broker.cancel(probe_job);
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbeReady);
  EXPECT_EQ(seat(h, 1).strikes, 1U);
  h.submit(key_of());
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbing);
  EXPECT_EQ(seat(h, 1).probe_task, h.task_id(last_send(h).second));
}

// Proves a job waits for a busy healthy seat rather than take a free quarantined one, and when that worker leaves the waiting jobs go to the quarantined seat (QUAR-4, ADM-2, ADM-4).
TEST(BrokerQuarantine, LeavingHealthyWorkerHandsWaitingJobsToQuarantinedSeat) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 1);
  quarantine_worker_1(h);
  const JobId running = h.submit(key_of());
  EXPECT_EQ(last_send(h).first, 2U);
  const std::size_t sends = h.transport.sends.size();
  const JobId waiting = h.submit(key_of());
  EXPECT_EQ(h.transport.sends.size(), sends);
  h.broker.worker_left(2, "gone");
  EXPECT_EQ(h.broker.job(running)->tried, (std::vector<WorkerId>{2, 1}));
  EXPECT_EQ(h.broker.job(waiting)->tried, (std::vector<WorkerId>{1}));
  EXPECT_EQ(seat(h, 1).state, SeatState::kQuarantined);
  EXPECT_EQ(seat(h, 1).in_use, 2U);
}

// Proves the end of a cool-down dispatches a job that waited, as the seat's probe (QUAR-3, ADM-2).
TEST(BrokerQuarantine, CooldownEndDispatchesWaitingJob) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 1);
  quarantine_worker_1(h);
  h.submit(key_of());
  const JobId waiting = h.submit(key_of());
  EXPECT_EQ(h.view(key_of())->waiting, 1U);
  h.advance_by(30 * kSecond);
  EXPECT_EQ(h.view(key_of())->waiting, 0U);
  EXPECT_EQ(h.broker.job(waiting)->tried, (std::vector<WorkerId>{1}));
  EXPECT_EQ(seat(h, 1).state, SeatState::kProbing);
  EXPECT_EQ(seat(h, 1).probe_task, h.broker.job(waiting)->running_task);
}

// Proves quarantine_after 0 turns quarantine off: failures are counted and shown, the rotation is the plain one, no cool-down is armed (QUAR-2, QUAR-7, SEL-2).
TEST(BrokerQuarantine, ZeroTurnsItOff) {
  Harness h(quarantine_config(0));
  h.join_ok(1, key_of(), 1);
  h.join_ok(2, key_of(), 1);
  for (int i = 0; i < 5; ++i) {
    h.submit(key_of());
    const auto [worker, n] = last_send(h);
    EXPECT_EQ(worker, 1U) << "job " << i;
    h.fail(n);
    h.ok(last_send(h).second);
  }
  EXPECT_EQ(seat(h, 1).state, SeatState::kHealthy);
  EXPECT_EQ(seat(h, 1).consecutive_failures, 5U);
  EXPECT_FALSE(cooldown_armed(h));
}

// Proves the state goes with the worker: leaving cancels the cool-down, a stale cool-down timer changes nothing, and the worker back under a new id is healthy (QUAR-1, TIME-4).
TEST(BrokerQuarantine, StateGoesWithTheWorker) {
  Harness h(quarantine_config());
  h.join_ok(1, key_of(), 2);
  h.join_ok(2, key_of(), 2);
  quarantine_worker_1(h);
  h.broker.worker_left(1, "gone");
  EXPECT_FALSE(cooldown_armed(h));
  h.broker.timer_fired(timer_id(TimerKind::kCooldown, 1));  // stale
  h.join_ok(3, key_of(), 2);
  EXPECT_EQ(seat(h, 3).state, SeatState::kHealthy);
  EXPECT_EQ(seat(h, 3).consecutive_failures, 0U);
}

}  // namespace
}  // namespace aipool::testing
