// Tests of the worker's metrics (src/net/worker_metrics.h, spec/metrics.md MET-7).
#include "net/worker_metrics.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "../support/metrics_text.h"
#include "../support/temp_dir.h"

namespace aipool::net {
namespace {

using aipool::testing::metric_sample;

const Key kEcho{Pipeline::kTextToImage, "test/echo"};

// MET-7: jobs by outcome, running and slot gauges, executor time and uploads per
// orchestrator; events for keys or orchestrators not served are ignored.
TEST(WorkerMetrics, JobsSlotsAndUploadsAreCounted) {
  WorkerMetrics m({Advert{kEcho, 3}}, {"orch-a:8935", "orch-b:8935"});
  const std::string labels = "model_name=\"test/echo\",pipeline=\"text-to-image\"";
  m.job_started(kEcho);
  m.job_started(kEcho);
  std::string t = m.render();
  EXPECT_EQ(metric_sample(t, "aipool_worker_jobs_running{" + labels + "}"), 2);
  EXPECT_EQ(metric_sample(t, "livepeer_ai_container_in_use{" + labels + "}"), 2);
  EXPECT_EQ(metric_sample(t, "livepeer_ai_container_idle{" + labels + "}"), 1);
  m.job_finished(kEcho, true, 0.002);
  m.job_finished(kEcho, false, 0.5);
  m.job_refused(kEcho);
  m.result_posted(kEcho, "orch-a:8935", true, 0.001);
  m.result_posted(kEcho, "orch-b:8935", false, 0.2);
  m.job_started(Key{Pipeline::kUpscale, "not/served"});
  m.result_posted(kEcho, "orch-c:8935", true, 0.001);
  t = m.render();
  EXPECT_EQ(metric_sample(t, "aipool_worker_jobs_running{" + labels + "}"), 0);
  EXPECT_EQ(metric_sample(t, "livepeer_ai_container_idle{" + labels + "}"), 3);
  EXPECT_EQ(metric_sample(t, "aipool_worker_jobs_total{model_name=\"test/echo\",outcome=\"ok\",pipeline=\"text-to-image\"}"), 1);
  EXPECT_EQ(metric_sample(t, "aipool_worker_jobs_total{model_name=\"test/echo\",outcome=\"error\",pipeline=\"text-to-image\"}"), 1);
  EXPECT_EQ(metric_sample(t, "aipool_worker_jobs_total{model_name=\"test/echo\",outcome=\"refused\",pipeline=\"text-to-image\"}"), 1);
  EXPECT_EQ(metric_sample(t, "aipool_worker_executor_seconds_count{" + labels + "}"), 2);
  EXPECT_EQ(metric_sample(t, "livepeer_ai_result_uploaded_total{model_name=\"test/echo\",orchestrator_uri=\"orch-a:8935\","
                             "pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(metric_sample(t, "aipool_worker_result_upload_failed_total{model_name=\"test/echo\",orchestrator_uri=\"orch-b:"
                             "8935\",pipeline=\"text-to-image\"}"),
            1);
  EXPECT_EQ(t.find("not/served"), std::string::npos);
  EXPECT_EQ(t.find("orch-c"), std::string::npos);

  m.set_gpu_memory("0", "NVIDIA H200", 3 << 20, 8 << 20);  // as the worker sets it at a scrape, where CUDA is
  m.set_gpu_memory("0", "NVIDIA H200", 5 << 20, 8 << 20);
  t = m.render();
  EXPECT_EQ(metric_sample(t, "aipool_worker_gpu_memory_used_bytes{gpu=\"0\",name=\"NVIDIA H200\"}"), 5 << 20);
  EXPECT_EQ(metric_sample(t, "aipool_worker_gpu_memory_total_bytes{gpu=\"0\",name=\"NVIDIA H200\"}"), 8 << 20);
  aipool::testing::TempDir dir;
  std::ofstream(dir.path() + "/m.txt") << t;
  EXPECT_EQ(std::system(("promtool check metrics < '" + dir.path() + "/m.txt'").c_str()), 0) << t;
}

}  // namespace
}  // namespace aipool::net
