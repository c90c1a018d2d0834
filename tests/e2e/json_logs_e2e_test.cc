// End-to-end: -logFormat json (spec/api.md LOG-2) on real orchestrator and worker
// processes: every line they log is one JSON object, and the job and attempt lines
// carry their fields by name.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <sstream>

#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// Every line of `output` parsed; a line that is not a JSON object fails the test.
std::vector<Poco::JSON::Object::Ptr> lines_of(const std::string& output) {
  std::vector<Poco::JSON::Object::Ptr> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      Poco::JSON::Parser parser;
      out.push_back(parser.parse(line).extract<Poco::JSON::Object::Ptr>());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a JSON object: " << line << " (" << e.what() << ")";
    }
  }
  return out;
}

Poco::JSON::Object::Ptr first_event(const std::vector<Poco::JSON::Object::Ptr>& lines, const std::string& event,
                                    const std::string& model) {
  for (const auto& l : lines) {
    if (l->optValue<std::string>("event", "") == event && l->optValue<std::string>("model", "") == model) return l;
  }
  return nullptr;
}

// LOG-2: both programs log JSON lines; a job's and an attempt's fields are there by
// name, a worker error's reason too, and a hostile model id stays inside its string.
TEST(JsonLogs, EveryLineIsJsonWithTheJobAndAttemptFields) {
  Orchestrator orch = start_orchestrator({"-logFormat", "json"});
  ASSERT_GT(orch.http_port, 0);
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:2,text-to-image:test/fail:true:1",
                             {"-logFormat", "json"});
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << orch.process->output();
  const auto post = [&](const std::string& model) {
    return http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                        R"({"model_id":")" + model + R"(","prompt":"p"})");
  };
  ASSERT_EQ(post("test/echo").status, 200);
  ASSERT_EQ(post("test/fail").status, 502);
  ASSERT_EQ(post(R"(evil\n{\"event\":\"forged\"})").status, 503);
  ASSERT_EQ(orch.process->wait_for_count("\"event\":\"job\"", 3, 10s), 3u) << orch.process->output();
  ASSERT_EQ(worker->wait_for_count("\"event\":\"job\"", 2, 10s), 2u) << worker->output();

  const auto orch_lines = lines_of(orch.process->output());
  auto job = first_event(orch_lines, "job", "test/echo");
  ASSERT_TRUE(job) << orch.process->output();
  EXPECT_EQ(job->getValue<std::string>("level"), "info");
  EXPECT_EQ(job->getValue<std::string>("pipeline"), "text-to-image");
  EXPECT_EQ(job->getValue<std::string>("outcome"), "ok");
  EXPECT_EQ(job->getValue<int>("attempts"), 1);
  EXPECT_FALSE(job->getValue<std::string>("worker").empty());
  EXPECT_GT(job->getValue<std::string>("ts").size(), 20u);
  auto attempt = first_event(orch_lines, "attempt", "test/fail");
  ASSERT_TRUE(attempt) << orch.process->output();
  EXPECT_EQ(attempt->getValue<std::string>("outcome"), "worker error");
  EXPECT_NE(attempt->getValue<std::string>("reason").find("test/fail"), std::string::npos);
  auto evil = first_event(orch_lines, "job", "evil\n{\"event\":\"forged\"}");
  ASSERT_TRUE(evil) << orch.process->output();
  EXPECT_EQ(evil->getValue<std::string>("outcome"), "no worker");
  for (const auto& l : orch_lines) EXPECT_NE(l->optValue<std::string>("event", ""), "forged");

  auto worker_job = first_event(lines_of(worker->output()), "job", "test/echo");
  ASSERT_TRUE(worker_job) << worker->output();
  EXPECT_EQ(worker_job->getValue<int>("post"), 200);
  EXPECT_EQ(worker_job->getValue<std::string>("outcome"), "ok");
}

}  // namespace
}  // namespace aipool::e2e
