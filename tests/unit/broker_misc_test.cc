// Broker: model list, time, re-entry and the core side of the result post
// (spec/core.md, spec/wire.md).
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

BrokerConfig listed_config() {
  BrokerConfig config = default_config();
  config.model_list = std::vector<ModelOffer>{
      ModelOffer{key_of("m"), 4.5, 1'000'000, "USD"},
      ModelOffer{key_of("whisper", Pipeline::kAudioToText), 12, 1, "ETH"},
  };
  return config;
}

// ---------------------------------------------------------------- LIST

// LIST-1: with a model list only listed keys are offered; the other advertised keys are ignored (not seated, not offered) and named in the join's answer.
TEST(BrokerList, OnlyListedKeysOffered) {
  Harness h(listed_config());
  const JoinResult r = h.join(1, {Advert{key_of("m"), 2}, Advert{key_of("x"), 1},
                                  Advert{key_of("m", Pipeline::kUpscale), 3}, Advert{key_of("x"), 2}});
  ASSERT_EQ(r.verdict, JoinVerdict::kAccepted);
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(r.offered_keys, (std::vector<Key>{key_of("m")}));
  EXPECT_EQ(r.ignored_keys, (std::vector<Key>{key_of("x"), key_of("m", Pipeline::kUpscale)}));
  ASSERT_EQ(h.broker.workers().size(), 1U);
  EXPECT_EQ(h.broker.workers()[0].seats.size(), 1U);
  EXPECT_FALSE(h.view(key_of("x")).has_value());
  EXPECT_EQ(h.view(key_of("m"))->capacity, 2U);
  h.submit(key_of("x"));
  EXPECT_EQ(h.done(1).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(1).message, "no worker offers pipeline text-to-image with model x");
  EXPECT_TRUE(h.transport.sends.empty());
}

// LIST-2: without a model list whatever the workers advertise is offered, with no price attached.
TEST(BrokerList, NoListOffersEverything) {
  Harness h;
  const Key odd = key_of("some/org-model:v2", Pipeline::kImageToText);
  const JoinResult r = h.join(1, {Advert{odd, 1}, Advert{key_of("x"), 1}});
  ASSERT_EQ(r.verdict, JoinVerdict::kAccepted);
  EXPECT_TRUE(r.ignored_keys.empty());
  EXPECT_EQ(r.offered_keys, (std::vector<Key>{key_of("x"), odd}));
  h.submit(odd);
  EXPECT_EQ(h.transport.sends.size(), 1U);
  EXPECT_EQ(h.transport.last().model, "some/org-model:v2");
  EXPECT_EQ(h.transport.last().pipeline, Pipeline::kImageToText);
  EXPECT_EQ(h.view(odd)->offer, nullptr);
}

// LIST-3: the list's prices are recorded and reported with each listed key, even while no worker offers it.
TEST(BrokerList, PricesReportedWithKeys) {
  Harness h(listed_config());
  const std::vector<KeyView> keys = h.broker.keys();
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[0].key, key_of("m"));
  ASSERT_NE(keys[0].offer, nullptr);
  EXPECT_EQ(keys[0].offer->price_per_unit, 4.5);
  EXPECT_EQ(keys[0].offer->pixels_per_unit, 1'000'000);
  EXPECT_EQ(keys[0].offer->currency, "USD");
  EXPECT_EQ(keys[0].capacity, 0U);
  EXPECT_EQ(keys[1].key, key_of("whisper", Pipeline::kAudioToText));
  ASSERT_NE(keys[1].offer, nullptr);
  EXPECT_EQ(keys[1].offer->price_per_unit, 12);
  EXPECT_EQ(keys[1].offer->currency, "ETH");
  h.join_ok(1, key_of("whisper", Pipeline::kAudioToText), 3);
  const std::optional<KeyView> whisper = h.view(key_of("whisper", Pipeline::kAudioToText));
  ASSERT_TRUE(whisper.has_value());
  EXPECT_EQ(whisper->capacity, 3U);
  ASSERT_NE(whisper->offer, nullptr);
  EXPECT_EQ(whisper->offer->currency, "ETH");
}

// ---------------------------------------------------------------- TIME

// TIME-1: the defaults are 300 s, 900 s, 300 s and 256 jobs, and every timer is armed on the injected clock at now + the configured value.
TEST(BrokerTime, DefaultsAndTimersOnInjectedClock) {
  const BrokerConfig defaults;
  EXPECT_EQ(defaults.attempt_timeout, 300 * kSecond);
  EXPECT_EQ(defaults.job_deadline, 900 * kSecond);
  EXPECT_EQ(defaults.slot_reclaim, 300 * kSecond);
  EXPECT_EQ(defaults.queue_limit, 256U);

  Harness h(timed_config(7 * kSecond, 11 * kSecond, 13 * kSecond));
  h.join_ok(1, key_of(), 1);
  h.clock.set_now(5'000 * kSecond + 17);
  const Micros t0 = h.clock.now();
  const JobId job = h.submit(key_of());
  EXPECT_EQ(h.clock.ids_armed_at(t0 + 11 * kSecond).size(), 1U);  // job deadline
  EXPECT_EQ(h.clock.ids_armed_at(t0 + 7 * kSecond).size(), 1U);   // attempt timeout
  EXPECT_EQ(h.clock.armed().size(), 2U);
  h.clock.set_now(t0 + 3 * kSecond);
  h.broker.cancel(job);
  EXPECT_EQ(h.clock.ids_armed_at(t0 + 16 * kSecond).size(), 1U);  // slot reclaim
  EXPECT_EQ(h.clock.armed().size(), 1U);
  // Workers' join times come from the same clock.
  EXPECT_EQ(h.broker.workers()[0].joined_at, 1'000 * kSecond);
}

// TIME-2: the attempt timeout message names the task, the worker and the configured timeout, in seconds with up to millisecond precision.
TEST(BrokerTime, AttemptTimeoutMessage) {
  const std::vector<std::pair<Micros, std::string>> cases = {
      {1'500'000, "1.5 s"}, {2'250'000, "2.25 s"}, {1'000, "0.001 s"}, {61 * kSecond, "61 s"}};
  for (const auto& [timeout, text] : cases) {
    Harness h(timed_config(timeout, 100000 * kSecond, 100000 * kSecond));
    h.join_ok(7, key_of(), 1);
    const JobId job = h.submit(key_of());
    h.advance_by(timeout);
    ASSERT_NE(h.outcome(job), nullptr) << text;
    EXPECT_EQ(h.done(job).message,
              h.task_ids_in("all workers failed; last error: attempt timeout: task #1 on worker 7 took longer than " + text));
  }
}

// TIME-2, SLOT-1: an attempt timeout leaves the worker live: it keeps serving its other attempt, whose result is accepted, and it gets new work once a slot frees.
TEST(BrokerTime, TimeoutKeepsWorkerServing) {
  Harness h(timed_config(100 * kSecond, 10000 * kSecond, 5000 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 2);
  const Micros t0 = h.clock.now();
  const JobId slow = h.submit(k);  // t1
  h.clock.set_now(t0 + 50 * kSecond);
  const JobId fast = h.submit(k);  // t2, due at t0 + 150 s
  h.advance_to(t0 + 100 * kSecond);
  EXPECT_EQ(h.done(slow).status, JobStatus::kAllFailed);
  EXPECT_TRUE(h.live(1));
  EXPECT_EQ(h.broker.rotation(k), (std::vector<WorkerId>{1}));
  EXPECT_TRUE(h.task(1).value().abandoned);
  EXPECT_FALSE(h.task(2).value().abandoned);
  EXPECT_EQ(h.ok(2), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(fast).status, JobStatus::kOk);
  h.submit(k);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {1, 2}, {1, 3}}));
  EXPECT_TRUE(h.transport.closes.empty());
}

// TIME-3: a job without an outcome job_deadline after submission fails `job deadline exceeded`, whether it was waiting (nothing to abandon) or running (its attempt abandoned, the slot held).
TEST(BrokerTime, JobDeadline) {
  Harness h(timed_config(1000 * kSecond, 100 * kSecond, 50 * kSecond));
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const Micros t0 = h.clock.now();
  const JobId running = h.submit(k);
  h.clock.set_now(t0 + 10 * kSecond);
  const JobId waiting = h.submit(k);
  h.advance_to(t0 + 100 * kSecond);
  ASSERT_NE(h.outcome(running), nullptr);
  EXPECT_EQ(h.done(running).status, JobStatus::kDeadline);
  EXPECT_EQ(h.done(running).message, "job deadline exceeded after 100 s");
  EXPECT_TRUE(h.task(1).value().abandoned);
  EXPECT_EQ(h.outcome(waiting), nullptr);  // its deadline is 10 s later
  EXPECT_EQ(h.broker.job(waiting).value().state, JobState::kWaiting);
  h.advance_to(t0 + 110 * kSecond);
  ASSERT_NE(h.outcome(waiting), nullptr);
  EXPECT_EQ(h.done(waiting).status, JobStatus::kDeadline);
  EXPECT_EQ(h.done(waiting).attempts, 0U);
  EXPECT_EQ(h.view(k)->waiting, 0U);
  EXPECT_EQ(h.transport.sends.size(), 1U);
}

// TIME-4: firings of timers whose attempt, job or slot already ended (as a driver may deliver after a cancel), and of ids the core never armed, change nothing.
TEST(BrokerTime, StaleTimersChangeNothing) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 50 * kSecond));
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const Micros t0 = h.clock.now();
  const JobId job = h.submit(k);  // w1 t1
  h.ok(1);
  const std::vector<TimerId> ended_job = h.clock.ids_armed_at(t0 + 1000 * kSecond);
  const std::vector<TimerId> ended_attempt = h.clock.ids_armed_at(t0 + 100 * kSecond);
  ASSERT_EQ(ended_job.size(), 1U);
  ASSERT_EQ(ended_attempt.size(), 1U);
  ASSERT_EQ(h.done(job).status, JobStatus::kOk);

  // A second job whose attempt is abandoned by cancel, then released by a late report.
  h.clock.set_now(t0 + 1 * kSecond);
  const JobId cancelled = h.submit(k);  // w2 t2
  h.broker.cancel(cancelled);
  h.ok(2);
  const std::vector<TimerId> released_slot = h.clock.ids_armed_at(t0 + 51 * kSecond);
  const std::vector<TimerId> abandoned_attempt = h.clock.ids_armed_at(t0 + 101 * kSecond);
  ASSERT_EQ(released_slot.size(), 1U);
  ASSERT_EQ(abandoned_attempt.size(), 1U);

  // A third job, still running, and a fourth whose cancelled attempt still holds its
  // slot, so that the firings have something they could wrongly touch.
  h.clock.set_now(t0 + 2 * kSecond);
  h.submit(k);  // w1 t3
  const JobId holding = h.submit(k);  // w2 t4
  h.broker.cancel(holding);
  const std::vector<TimerId> held_attempt = h.clock.ids_armed_at(t0 + 102 * kSecond);
  ASSERT_EQ(held_attempt.size(), 2U);  // t3's (live) and t4's (disarmed by the cancel)
  const TimerId stale_held = h.clock.armed().contains(held_attempt[0]) ? held_attempt[1] : held_attempt[0];
  ASSERT_TRUE(h.task(4).value().abandoned);
  const std::string before = h.dump();
  for (TimerId id : {ended_job[0], ended_attempt[0], released_slot[0], abandoned_attempt[0], stale_held,
                     TimerId{0}, TimerId{12345}, std::numeric_limits<TimerId>::max()}) {
    h.broker.timer_fired(id);
    EXPECT_EQ(h.dump(), before) << "timer " << id;
  }
}

// TIME-4, SLOT-3: a reclaim timer that fires after its worker left (the driver had it queued) changes nothing.
TEST(BrokerTime, ReclaimAfterWorkerLeftChangesNothing) {
  Harness h(timed_config(100 * kSecond, 1000 * kSecond, 50 * kSecond));
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const Micros t0 = h.clock.now();
  const JobId job = h.submit(k);
  h.broker.cancel(job);
  const std::vector<TimerId> reclaim = h.clock.ids_armed_at(t0 + 50 * kSecond);
  ASSERT_EQ(reclaim.size(), 1U);
  h.broker.worker_left(1, "eof");
  h.submit(k);
  const std::string before = h.dump();
  h.broker.timer_fired(reclaim[0]);
  EXPECT_EQ(h.dump(), before);
}

// ---------------------------------------------------------------- DET-2

class ReenteringTransport : public FakeTransport {
 public:
  Broker* broker = nullptr;
  bool send(const JobNotice& notice) override {
    if (broker != nullptr) broker->cancel(1);
    return FakeTransport::send(notice);
  }
};

class ReenteringClock : public FakeClock {
 public:
  Broker* broker = nullptr;
  void arm_timer(TimerId id, Micros at) override {
    if (broker != nullptr) broker->timer_fired(id);
    FakeClock::arm_timer(id, at);
  }
};

void submit_from_refusal_callback() {
  FakeClock clock;
  FakeTransport transport;
  Broker broker(default_config(), clock, transport);
  broker.submit(key_of(), payload_of("{}"), [&](const JobOutcome&) {
    broker.submit(key_of(), payload_of("{}"), [](const JobOutcome&) {});
  });
}

void leave_from_result_callback() {
  Harness h;
  h.join_ok(1, key_of(), 1);
  h.broker.submit(key_of(), payload_of("{}"), [&](const JobOutcome&) { h.broker.worker_left(1, "x"); });
  h.ok(1);
}

void cancel_from_send() {
  FakeClock clock;
  ReenteringTransport transport;
  Broker broker(default_config(), clock, transport);
  transport.broker = &broker;
  JoinRequest join;
  join.id = 1;
  join.secret = kSecret;
  join.adverts = {Advert{key_of(), 1}};
  broker.worker_joined(join);
  broker.submit(key_of(), payload_of("{}"), [](const JobOutcome&) {});
}

void fire_from_arm_timer() {
  ReenteringClock clock;
  FakeTransport transport;
  Broker broker(default_config(), clock, transport);
  clock.broker = &broker;
  JoinRequest join;
  join.id = 1;
  join.secret = kSecret;
  join.adverts = {Advert{key_of(), 1}};
  broker.worker_joined(join);
  broker.submit(key_of(), payload_of("{}"), [](const JobOutcome&) {});
}

constexpr const char* kReentryMessage = "Broker re-entered from a seam or a callback \\(DET-2\\)";

// DET-2: a completion callback that calls back into the Broker (submit from an immediate refusal, worker_left from a result) aborts with the re-entry message.
TEST(BrokerDeathTest, CallbackReentryAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(submit_from_refusal_callback(), kReentryMessage);
  EXPECT_DEATH(leave_from_result_callback(), kReentryMessage);
}

// DET-2: a seam (transport send, clock arm) that calls back into the Broker aborts with the re-entry message.
TEST(BrokerDeathTest, SeamReentryAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(cancel_from_send(), kReentryMessage);
  EXPECT_DEATH(fire_from_arm_timer(), kReentryMessage);
}

// DET-2: a callback that does not call back into the Broker is fine, and the Broker is usable again once the call returns (the guard is released).
TEST(BrokerDet, GuardReleasedAfterEachCall) {
  Harness h;
  h.submit(key_of());  // refused inside submit: the guard must still be released
  h.join_ok(1, key_of(), 1);
  h.submit(key_of());
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.outcome_log.size(), 2U);
}

// ---------------------------------------------------------------- result posts (core side)

// RES-4: a report with wrong or missing Credentials is refused as kUnauthorized before anything else is looked at, and changes nothing (not even for a valid task, nor a held slot).
TEST(BrokerReport, WrongCredentialsChangeNothing) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  h.submit(k);                        // w1 t1
  const JobId cancelled = h.submit(k);  // w2 t2
  h.broker.cancel(cancelled);
  const std::string before = h.dump();
  for (std::string_view bad : {"", "wrong", "s3cre", "s3cret ", "S3CRET"}) {
    for (TaskId task : {TaskId{1}, TaskId{2}, TaskId{0}, TaskId{99}}) {
      for (bool ok : {true, false}) {
        Report r = h.report_for(task, ok, "e");
        r.credentials = bad;
        EXPECT_EQ(h.broker.report(r), ReportVerdict::kUnauthorized) << bad << " " << task;
      }
    }
  }
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.ok(2), ReportVerdict::kLateReleased);
}

// RES-5: a TaskID the core never issued (0, negative, the next one, huge) is refused as kUnknownTask and changes nothing; one whose attempt ended is refused as ended (409), releasing only a held slot.
TEST(BrokerReport, UnknownAndEndedTasks) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 2);
  const JobId done = h.submit(k);  // t1
  h.ok(1);
  const JobId cancelled = h.submit(k);  // t2
  h.broker.cancel(cancelled);
  h.submit(k);  // t3, open
  const std::string before = h.dump();
  for (TaskId task : {TaskId{0}, TaskId{-1}, TaskId{4}, TaskId{5}, std::numeric_limits<TaskId>::max(),
                      std::numeric_limits<TaskId>::min()}) {
    Report r = h.report_for(task, true);
    r.from = 1;
    EXPECT_EQ(h.broker.report(r), ReportVerdict::kUnknownTask) << task;
  }
  EXPECT_EQ(h.ok(1), ReportVerdict::kEnded);
  EXPECT_EQ(h.dump(), before);
  EXPECT_EQ(h.ok(2), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.in_use(1, k), 1U);
  EXPECT_EQ(h.ok(2), ReportVerdict::kEnded);
  EXPECT_EQ(h.in_use(1, k), 1U);
  EXPECT_EQ(h.done(done).status, JobStatus::kOk);
}

// RES-6, RETRY-1: a post the HTTP layer could not parse but whose task it identified reaches the core as a worker error: the attempt ends (slot back) and the job fails over instead of hanging.
TEST(BrokerReport, MalformedPostEndsAttemptAsWorkerError) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId job = h.submit(k);
  Report r = h.report_for(1, false, "malformed result: multipart body without its JSON part");
  EXPECT_EQ(h.broker.report(r), ReportVerdict::kAccepted);
  EXPECT_EQ(h.in_use(1, k), 0U);
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}, {2, 2}}));
  h.fail(2, "malformed result: bad JSON");
  EXPECT_EQ(h.done(job).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(job).message, "all workers failed; last error: malformed result: bad JSON");
  EXPECT_EQ(h.view(k)->in_use, 0U);
}

}  // namespace
}  // namespace aipool::testing
