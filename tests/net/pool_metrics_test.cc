// Tests of the orchestrator's metrics (src/net/pool_metrics.h, spec/metrics.md):
// what each event counts, the cap on per-model series, the pool's gauges, and the
// text checked by `promtool check metrics` (Debian's prometheus package, which
// scripts/setup.sh installs).
#include "net/pool_metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "../support/metrics_text.h"
#include "../support/temp_dir.h"

namespace aipool::net {
namespace {

const Key kEcho{Pipeline::kTextToImage, "test/echo"};
const Key kUpscale{Pipeline::kUpscale, "builtin/bicubic"};

using aipool::testing::metric_sample;
const auto sample = metric_sample;

JobOutcome outcome(JobStatus status, std::uint32_t attempts) {
  JobOutcome o;
  o.status = status;
  o.attempts = attempts;
  return o;
}

// MET-3: requests, outcomes, refusals for capacity, errors by status, retries and latency.
TEST(PoolMetrics, JobsAreCountedByOutcomeStatusAndRetries) {
  PoolMetrics m(16);
  for (int i = 0; i < 3; ++i) m.job_requested(kEcho);
  m.job_finished(kEcho, outcome(JobStatus::kOk, 1), 200, 0.004);
  m.job_finished(kEcho, outcome(JobStatus::kOk, 3), 200, 0.2);
  m.job_finished(kEcho, outcome(JobStatus::kAllFailed, 2), 502, 1.5);
  m.job_requested(kUpscale);
  m.job_finished(kUpscale, outcome(JobStatus::kNoWorker, 0), 503, 0.0001);
  const std::string text = m.render();
  const std::string echo = "model_name=\"test/echo\",pipeline=\"text-to-image\"";
  const std::string up = "model_name=\"builtin/bicubic\",pipeline=\"upscale\"";
  EXPECT_EQ(sample(text, "livepeer_ai_models_requested_total{" + echo + "}"), 3);
  EXPECT_EQ(sample(text, "aipool_jobs_total{model_name=\"test/echo\",outcome=\"ok\",pipeline=\"text-to-image\"}"), 2);
  EXPECT_EQ(sample(text, "aipool_jobs_total{model_name=\"test/echo\",outcome=\"all_workers_failed\","
                         "pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(sample(text, "aipool_retries_total{" + echo + "}"), 3);  // 0 + 2 + 1
  EXPECT_EQ(sample(text, "livepeer_ai_request_errors_total{error_code=\"502\"," + echo + "}"), 1);
  EXPECT_EQ(sample(text, "aipool_jobs_refused_capacity_total{" + echo + "}"), 0);
  EXPECT_EQ(sample(text, "aipool_jobs_refused_capacity_total{" + up + "}"), 1);
  EXPECT_EQ(sample(text, "livepeer_ai_request_errors_total{error_code=\"503\"," + up + "}"), 1);
  EXPECT_EQ(sample(text, "aipool_job_latency_seconds_count{" + echo + "}"), 3);
  EXPECT_EQ(sample(text, "aipool_job_latency_seconds_bucket{" + echo + ",le=\"0.005\"}"), 1);
  EXPECT_EQ(sample(text, "aipool_job_latency_seconds_bucket{" + echo + ",le=\"0.25\"}"), 2);
  EXPECT_EQ(sample(text, "aipool_job_latency_seconds_bucket{" + echo + ",le=\"+Inf\"}"), 3);
}

// MET-10: the latency score is the last ok job's seconds over its size.
TEST(PoolMetrics, LatencyScoreIsSecondsPerUnitOfTheLastOkJob) {
  PoolMetrics m(16);
  m.job_finished(kEcho, outcome(JobStatus::kOk, 1), 200, 2.0, 1000.0);
  m.job_finished(kEcho, outcome(JobStatus::kAllFailed, 1), 502, 9.0, 10.0);  // not ok: no score
  m.job_finished(kEcho, outcome(JobStatus::kOk, 1), 200, 3.0, 0);            // size unknown: no score
  const std::string text = m.render();
  EXPECT_DOUBLE_EQ(sample(text, "livepeer_ai_request_latency_score{model_name=\"test/echo\",pipeline=\"text-to-image\"}"),
                   0.002);
}

// MET-4: each attempt's end, by how it ended.
TEST(PoolMetrics, AttemptsAreCountedByHowTheyEnded) {
  PoolMetrics m(16);
  AttemptEvent e;
  e.key = &kEcho;
  e.end = AttemptEnd::kTimeout;
  m.attempt_ended(e);
  e.end = AttemptEnd::kResult;
  m.attempt_ended(e);
  m.attempt_ended(e);
  const std::string text = m.render();
  EXPECT_EQ(sample(text, "aipool_attempts_total{model_name=\"test/echo\",outcome=\"attempt_timeout\","
                         "pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(sample(text, "aipool_attempts_total{model_name=\"test/echo\",outcome=\"result\","
                         "pipeline=\"text-to-image\"}"),
            2);
}

// MET-3: a job's queue wait is from its submission to its first attempt; retries
// add nothing.
TEST(PoolMetrics, QueueWaitIsTheFirstAttemptsWait) {
  PoolMetrics m(16);
  AttemptEvent e;
  e.key = &kEcho;
  e.job_submitted_at = 1'000'000;
  e.sent_at = 1'000'000 + 30'000;  // 30 ms queued
  e.attempt = 1;
  m.attempt_started(e);
  e.sent_at = 1'000'000 + 4'000'000;  // a retry 4 s later
  e.attempt = 2;
  m.attempt_started(e);
  const std::string text = m.render();
  const std::string labels = "model_name=\"test/echo\",pipeline=\"text-to-image\"";
  EXPECT_EQ(sample(text, "aipool_queue_wait_seconds_count{" + labels + "}"), 1);
  EXPECT_NEAR(sample(text, "aipool_queue_wait_seconds_sum{" + labels + "}"), 0.03, 1e-9);
  EXPECT_EQ(sample(text, "aipool_queue_wait_seconds_bucket{" + labels + ",le=\"0.025\"}"), 0);
  EXPECT_EQ(sample(text, "aipool_queue_wait_seconds_bucket{" + labels + ",le=\"0.05\"}"), 1);
}

// MET-9: per worker, attempts by outcome and the last failure with its time; a
// worker's series leave with it.
TEST(PoolMetrics, WorkerSeriesFollowTheLiveWorkers) {
  PoolMetrics m(16);
  AttemptEvent e;
  e.key = &kEcho;
  e.worker = 42;
  e.end = AttemptEnd::kResult;
  m.attempt_ended(e, 1000);
  e.end = AttemptEnd::kWorkerError;
  e.detail = "CUDA out of memory";
  m.attempt_ended(e, 2000);
  e.end = AttemptEnd::kTimeout;
  e.detail = "";
  m.attempt_ended(e, 3000);
  std::string text = m.render();
  EXPECT_EQ(sample(text, "aipool_worker_attempts_total{outcome=\"result\",worker=\"42\"}"), 1);
  EXPECT_EQ(sample(text, "aipool_worker_attempts_total{outcome=\"worker_error\",worker=\"42\"}"), 1);
  EXPECT_EQ(sample(text, "aipool_worker_last_error_timestamp_seconds{error=\"attempt timeout\",worker=\"42\"}"), 3000);
  EXPECT_EQ(text.find("CUDA out of memory"), std::string::npos);  // replaced by the later failure
  m.worker_left(42);
  text = m.render();
  EXPECT_EQ(text.find("worker=\"42\""), std::string::npos) << text;
}

// MET-2: beyond the cap, new (pipeline, model) pairs share "_other" of their pipeline.
TEST(PoolMetrics, ModelsBeyondTheCapShareOneSeriesPerPipeline) {
  PoolMetrics m(2);
  m.job_requested(kEcho);
  m.job_requested(kUpscale);
  for (int i = 0; i < 50; ++i) m.job_requested(Key{Pipeline::kTextToImage, "made-up-" + std::to_string(i)});
  m.job_requested(Key{Pipeline::kUpscale, "another"});
  m.job_requested(kEcho);  // a pair seen before the cap keeps its series
  const std::string text = m.render();
  EXPECT_EQ(sample(text, "livepeer_ai_models_requested_total{model_name=\"_other\",pipeline=\"text-to-image\"}"), 50);
  EXPECT_EQ(sample(text, "livepeer_ai_models_requested_total{model_name=\"_other\",pipeline=\"upscale\"}"), 1);
  EXPECT_EQ(sample(text, "livepeer_ai_models_requested_total{model_name=\"test/echo\",pipeline=\"text-to-image\"}"),
            2);
  EXPECT_EQ(text.find("made-up-"), std::string::npos);
}

// MET-5: the pool's gauges are set at each scrape; a pair no longer offered reads 0.
TEST(PoolMetrics, PoolGaugesFollowTheCoreAtEachScrape) {
  PoolMetrics m(16);
  KeyView echo;
  echo.key = kEcho;
  echo.capacity = 8;
  echo.in_use = 3;
  echo.waiting = 5;
  m.set_pool({echo}, 2);
  std::string text = m.render();
  const std::string labels = "{model_name=\"test/echo\",pipeline=\"text-to-image\"}";
  EXPECT_EQ(sample(text, "aipool_workers_live"), 2);
  EXPECT_EQ(sample(text, "aipool_capacity_slots" + labels), 8);
  EXPECT_EQ(sample(text, "livepeer_ai_container_in_use" + labels), 3);
  EXPECT_EQ(sample(text, "livepeer_ai_container_idle" + labels), 5);
  EXPECT_EQ(sample(text, "aipool_queue_length" + labels), 5);
  m.set_pool({}, 0);
  text = m.render();
  EXPECT_EQ(sample(text, "aipool_workers_live"), 0);
  EXPECT_EQ(sample(text, "aipool_capacity_slots" + labels), 0);
  EXPECT_EQ(sample(text, "livepeer_ai_container_idle" + labels), 0);
}

// MET-1: promtool accepts the text, with every kind of series present and label
// values that need escaping.
TEST(PoolMetrics, PromtoolAcceptsTheText) {
  PoolMetrics m(16);
  const Key odd{Pipeline::kImageToText, "quote\"back\\slash\nnewline"};
  m.job_requested(odd);
  m.job_finished(odd, outcome(JobStatus::kRejected, 1), 400, 0.01);
  AttemptEvent e;
  e.key = &odd;
  e.worker = 5;
  e.end = AttemptEnd::kWorkerError;
  e.detail = "a \"quoted\" error\nover two lines";
  m.attempt_ended(e, 1700000000);
  KeyView view;
  view.key = kEcho;
  view.capacity = 1;
  m.set_pool({view}, 1);
  aipool::testing::TempDir dir;
  const std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << m.render();
  const std::string command = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(file + ".out");
  std::stringstream said;
  said << out.rdbuf();
  EXPECT_EQ(rc, 0) << "promtool (from Debian's prometheus package, installed by scripts/setup.sh): " << said.str();
}

}  // namespace
}  // namespace aipool::net
