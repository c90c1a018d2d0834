// End-to-end: a real Prometheus server (Debian's prometheus package, installed by
// scripts/setup.sh) scrapes a real orchestrator and a real worker (spec/metrics.md
// MET-8); the job count is read back through Prometheus's query API.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "../support/temp_dir.h"
#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// The value of a PromQL query that gives one sample, or -1 (none yet, or an error).
double query(int port, const std::string& promql) {
  const HttpReply reply = http_request(port, "GET", "/api/v1/query?query=" + promql);
  if (reply.status != 200) return -1;
  try {
    Poco::JSON::Parser parser;
    auto object = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>();
    auto result = object->getObject("data")->getArray("result");
    if (result->size() != 1) return -1;
    return std::stod(result->getObject(0)->getArray("value")->getElement<std::string>(1));
  } catch (const std::exception&) {
    return -1;
  }
}

// MET-8, MET-1, MET-7: Prometheus scrapes both programs and its query API returns
// the jobs the orchestrator counted and the results the worker uploaded.
TEST(Prometheus, ScrapesTheOrchestratorAndAWorker) {
  Orchestrator orch = start_orchestrator();
  const int worker_metrics = free_port();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:2",
                             {"-metricsAddr", "127.0.0.1:" + std::to_string(worker_metrics)});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << orch.process->output();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                           R"({"model_id":"test/echo","prompt":"p"})")
                  .status,
              200);
  }
  aipool::testing::TempDir dir;
  const int prom_port = free_port();
  std::ofstream(dir.path() + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: aipool\n    static_configs:\n      - targets: ['127.0.0.1:"
      << orch.http_port << "', '127.0.0.1:" << worker_metrics << "']\n";
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + dir.path() + "/prometheus.yml",
                           "--storage.tsdb.path=" + dir.path() + "/data",
                           "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});
  double jobs = -1;
  double uploaded = -1;
  for (int i = 0; i < 300 && (jobs != 3 || uploaded != 3); ++i) {
    std::this_thread::sleep_for(100ms);
    jobs = query(prom_port, "sum(aipool_jobs_total)");
    uploaded = query(prom_port, "sum(livepeer_ai_result_uploaded_total)");
  }
  EXPECT_EQ(jobs, 3) << prometheus.output();
  EXPECT_EQ(uploaded, 3) << worker->output();
  EXPECT_EQ(query(prom_port, "count(up==1)"), 2);  // both targets scraped
}

}  // namespace
}  // namespace aipool::e2e
