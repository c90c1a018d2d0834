// End-to-end: the dashboard (spec/api.md API-14) on real processes: the page is
// self-contained, its JSON follows the pool and the jobs, and the data needs the
// admin key where one is set. (tests/browser/ drives the page in a real browser.)
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// API-14: the page references nothing outside itself; the JSON has the worker, the
// model with its last minute, and the jobs in the per-second series.
TEST(Dashboard, PageIsSelfContainedAndItsJsonFollowsThePool) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:2");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << orch.process->output();
  HttpReply page = http_request(orch.http_port, "GET", "/dashboard");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<!doctype html>"), std::string::npos);
  EXPECT_NE(page.body.find("fetch(\"/dashboard.json\""), std::string::npos);
  for (const char* outside : {"<script src", "<link", "@import", "url(", "<img"}) {
    EXPECT_EQ(page.body.find(outside), std::string::npos) << outside;
  }
  // Worker addresses and error texts come from workers: the page writes them as
  // text only, never as markup.
  for (const char* markup : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"}) {
    EXPECT_EQ(page.body.find(markup), std::string::npos) << markup;
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                           R"({"model_id":"test/echo","prompt":"p"})")
                  .status,
              200);
  }
  HttpReply reply = http_request(orch.http_port, "GET", "/dashboard.json");
  ASSERT_EQ(reply.status, 200) << reply.body;
  Poco::JSON::Parser parser;
  auto data = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>();
  auto workers = data->getObject("pool")->getArray("workers");
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ(workers->getObject(0)->getValue<int>("jobs_ok"), 3);
  auto series = data->getObject("history")->getArray("series");
  int ok = 0;
  for (unsigned i = 0; i < series->size(); ++i) ok += series->getObject(i)->getValue<int>("ok");
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(series->getObject(series->size() - 1)->getValue<std::int64_t>("t"), data->getValue<std::int64_t>("now"));
  auto per_key = data->getObject("history")->getArray("per_key");
  ASSERT_EQ(per_key->size(), 1u);
  EXPECT_EQ(per_key->getObject(0)->getValue<int>("jobs_last_minute"), 3);
}

// API-14, SEC-6: the page is for anyone, its data for the admin key only.
TEST(Dashboard, DataNeedsTheAdminKeyThePageDoesNot) {
  ::setenv("AIPOOL_ADMIN_KEY", "admin-key-for-the-dashboard", 1);
  Orchestrator orch = start_orchestrator();
  ::unsetenv("AIPOOL_ADMIN_KEY");
  EXPECT_EQ(http_request(orch.http_port, "GET", "/dashboard").status, 200);
  EXPECT_EQ(http_request(orch.http_port, "GET", "/dashboard.json").status, 401);
  EXPECT_EQ(http_request(orch.http_port, "GET", "/dashboard.json", "", "",
                         {{"Authorization", "Bearer admin-key-for-the-dashboard"}})
                .status,
            200);
}

}  // namespace
}  // namespace aipool::e2e
