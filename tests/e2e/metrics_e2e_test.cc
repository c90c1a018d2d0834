// End-to-end: the orchestrator's /metrics (spec/metrics.md) with real orchestrator
// and worker processes: real jobs counted, the pool's gauges, promtool on the served
// text, and the admin access it shares with /workers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../support/metrics_text.h"
#include "../support/temp_dir.h"
#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

using aipool::testing::metric_sample;
const auto sample = metric_sample;

HttpReply job(int port, const std::string& model) {
  return http_request(port, "POST", "/text-to-image", "application/json",
                      R"({"model_id":")" + model + R"(","prompt":"p"})");
}

// MET-1, MET-3, MET-4, MET-5, MET-10: jobs through real processes are counted, the pool is
// read at the scrape, and promtool accepts what the orchestrator serves; API-13: the
// worker's health in /workers agrees.
TEST(Metrics, RealJobsAreCountedAndPromtoolAcceptsTheScrape) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:3,text-to-image:test/fail:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << orch.process->output();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(job(orch.http_port, "test/echo").status, 200);
  EXPECT_EQ(job(orch.http_port, "test/fail").status, 502);
  EXPECT_EQ(job(orch.http_port, "not/served").status, 503);
  HttpReply scrape = http_request(orch.http_port, "GET", "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.body;
  const std::string& t = scrape.body;
  const std::string echo = "model_name=\"test/echo\",pipeline=\"text-to-image\"";
  EXPECT_EQ(sample(t, "livepeer_ai_models_requested_total{" + echo + "}"), 4) << t;
  EXPECT_EQ(sample(t, "aipool_jobs_total{model_name=\"test/echo\",outcome=\"ok\",pipeline=\"text-to-image\"}"), 4);
  EXPECT_EQ(sample(t, "aipool_attempts_total{model_name=\"test/fail\",outcome=\"worker_error\","
                      "pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(sample(t, "livepeer_ai_request_errors_total{error_code=\"502\",model_name=\"test/fail\","
                      "pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(sample(t, "aipool_jobs_refused_capacity_total{model_name=\"not/served\",pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(sample(t, "aipool_workers_live"), 1);
  EXPECT_EQ(sample(t, "aipool_capacity_slots{" + echo + "}"), 3);
  EXPECT_EQ(sample(t, "livepeer_ai_container_idle{" + echo + "}"), 3);
  EXPECT_EQ(sample(t, "aipool_job_latency_seconds_count{" + echo + "}"), 4);
  EXPECT_EQ(sample(t, "aipool_queue_wait_seconds_count{" + echo + "}"), 4);
  const double score = sample(t, "livepeer_ai_request_latency_score{" + echo + "}");  // MET-10
  EXPECT_GT(score, 0);
  EXPECT_LT(score, 1.0 / (1024.0 * 576 * 50));  // under 1 s over the default 1024x576, 50 steps

  aipool::testing::TempDir dir;
  const std::string file = dir.path() + "/scrape.txt";
  std::ofstream(file) << t;
  EXPECT_EQ(std::system(("promtool check metrics < '" + file + "'").c_str()), 0) << t;

  // API-13: the same attempts in the worker's health.
  const std::string workers = http_request(orch.http_port, "GET", "/workers").body;
  EXPECT_NE(workers.find(R"("jobs_ok":4,"jobs_failed":1,"rejected_input":0,"consecutive_failures":1,)"
                         R"("last_error":"worker error: )"),
            std::string::npos)
      << workers;
  EXPECT_NE(workers.find(R"("model_id":"test/fail","capacity":1,"in_use":0,"price":null,"latency_p50_ms":null,)"
                         R"("quarantine":{"state":"healthy",)"),
            std::string::npos)
      << workers;  // no result yet
  const std::string echo_seat = R"("model_id":"test/echo","capacity":3,"in_use":0,"price":null,"latency_p50_ms":)";
  ASSERT_NE(workers.find(echo_seat), std::string::npos) << workers;
  EXPECT_NE(workers.substr(workers.find(echo_seat) + echo_seat.size(), 4), "null") << workers;

  worker.reset();  // MET-5: the worker's slots leave with it
  for (int i = 0; i < 100 && live_workers(orch.http_port) > 0; ++i) std::this_thread::sleep_for(50ms);
  const std::string after = http_request(orch.http_port, "GET", "/metrics").body;
  EXPECT_EQ(sample(after, "aipool_workers_live"), 0);
  EXPECT_EQ(sample(after, "aipool_capacity_slots{" + echo + "}"), 0);
  EXPECT_EQ(sample(after, "livepeer_ai_models_requested_total{" + echo + "}"), 4);
}

// MET-1, SEC-6: /metrics has the access of /workers: with -adminKey only that key.
TEST(Metrics, AdminKeyGuardsMetrics) {
  ::setenv("AIPOOL_ADMIN_KEY", "admin-key-for-the-metrics", 1);
  Orchestrator orch = start_orchestrator();
  ::unsetenv("AIPOOL_ADMIN_KEY");
  EXPECT_EQ(http_request(orch.http_port, "GET", "/metrics").status, 401);
  HttpReply ok = http_request(orch.http_port, "GET", "/metrics", "", "",
                              {{"Authorization", "Bearer admin-key-for-the-metrics"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("# TYPE aipool_workers_live gauge"), std::string::npos) << ok.body;
}

}  // namespace
}  // namespace aipool::e2e
