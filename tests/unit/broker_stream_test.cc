// Broker: streamed results (spec/llm.md LLM-5) and the binding of an attempt to its
// job (spec/core.md RETRY-7).
#include <string>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// LLM-5: a stream's head is judged like any result post (secret, unknown task, wrong worker, ended) and changes nothing while the attempt is open: the job is still running and the slot still held; the stream's end is an ordinary report.
TEST(BrokerStream, HeadIsJudgedWithoutEndingTheAttempt) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId job = h.submit(k);
  Report head = h.report_for(1, false);
  JobId found = 0;
  EXPECT_EQ(h.broker.stream_head(head, found), ReportVerdict::kAccepted);
  EXPECT_EQ(found, job);
  EXPECT_EQ(h.view(k)->in_use, 1U);
  EXPECT_EQ(h.outcome(job), nullptr);

  Report wrong = head;
  wrong.credentials = "nope";
  EXPECT_EQ(h.broker.stream_head(wrong, found), ReportVerdict::kUnauthorized);
  wrong = head;
  wrong.from = 77;
  EXPECT_EQ(h.broker.stream_head(wrong, found), ReportVerdict::kWrongWorker);
  wrong = head;
  wrong.task = h.task_id(9);
  EXPECT_EQ(h.broker.stream_head(wrong, found), ReportVerdict::kUnknownTask);

  EXPECT_EQ(h.ok(1), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).status, JobStatus::kOk);
  EXPECT_EQ(h.broker.stream_head(head, found), ReportVerdict::kEnded);
}

// LLM-5, SLOT-2: the head of a stream for an abandoned attempt (its client gone) frees the slot the attempt still held, as a late report does.
TEST(BrokerStream, HeadOfAnAbandonedAttemptFreesItsSlot) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  const JobId job = h.submit(k);
  h.broker.cancel(job);
  EXPECT_EQ(h.view(k)->in_use, 1U);  // SLOT-1
  JobId found = 0;
  EXPECT_EQ(h.broker.stream_head(h.report_for(1, false), found), ReportVerdict::kLateReleased);
  EXPECT_EQ(h.view(k)->in_use, 0U);
}

// RETRY-7: once bound, a failing attempt ends the job at once with `stream failed` and the reason, although another worker is free; the slot is freed.
TEST(BrokerStream, BoundAttemptIsNeverRetried) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId job = h.submit(k);
  EXPECT_TRUE(h.broker.bind(h.task_id(1)));
  EXPECT_EQ(h.fail(1, "connection reset"), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(job).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(job).message, "stream failed: connection reset");
  EXPECT_EQ(h.dispatches(), (Dispatches{{1, 1}}));
  EXPECT_EQ(h.broker.live_attempts(), 0U);
  EXPECT_EQ(h.view(k)->in_use, 0U);

  // Unbound, the same failure fails over (RETRY-1).
  const JobId next = h.submit(k);
  EXPECT_EQ(h.fail(2, "connection reset"), ReportVerdict::kAccepted);
  EXPECT_EQ(h.dispatches().size(), 3U);
  EXPECT_EQ(h.ok(3), ReportVerdict::kAccepted);
  EXPECT_EQ(h.done(next).status, JobStatus::kOk);
}

// RETRY-7: a bound attempt that passes its attempt timeout, or whose worker leaves, ends the job too; binding an attempt that is not open changes nothing.
TEST(BrokerStream, BoundAttemptTimeoutAndDisconnectEndTheJob) {
  Harness h;
  const Key k = key_of();
  h.join_n(1, 2, k, 1);
  const JobId first = h.submit(k);
  ASSERT_TRUE(h.broker.bind(h.task_id(1)));
  h.advance_by(h.broker.config().attempt_timeout + 1);
  EXPECT_EQ(h.done(first).status, JobStatus::kAllFailed);
  EXPECT_NE(h.done(first).message.find("stream failed: attempt timeout"), std::string::npos);
  EXPECT_FALSE(h.broker.bind(h.task_id(1)));  // abandoned now
  EXPECT_FALSE(h.broker.bind(h.task_id(50)));  // never issued

  const JobId second = h.submit(k);  // goes to worker 2: worker 1's slot is held (SLOT-1)
  ASSERT_EQ(h.dispatches().size(), 2U);
  const WorkerId to = h.dispatches().back().first;
  ASSERT_TRUE(h.broker.bind(h.task_id(2)));
  h.broker.worker_left(to, "gone");
  EXPECT_EQ(h.done(second).status, JobStatus::kAllFailed);
  EXPECT_NE(h.done(second).message.find("stream failed: worker"), std::string::npos);
  EXPECT_EQ(h.dispatches().size(), 2U);
}

}  // namespace
}  // namespace aipool::testing
