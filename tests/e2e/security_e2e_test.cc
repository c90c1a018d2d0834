// End-to-end tests of spec/security.md with real processes on loopback: secrets kept
// off the command line, client keys on the public API, the per-key cap, and the admin
// key in front of /workers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "../support/raw_socket.h"
#include "../support/temp_dir.h"
#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

constexpr const char* kAliceKey = "alice-key-0123456789";
constexpr const char* kBobKey = "bob-key-abcdefghijklm";

// A file in a fresh folder of its own, removed with the object.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content) : path_(dir_.path() + "/" + name) {
    std::ofstream(path_) << content;
  }
  const std::string& path() const { return path_; }

 private:
  aipool::testing::TempDir dir_;
  std::string path_;
};

std::string cmdline_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::map<std::string, std::string> bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

HttpReply echo_job(int port, const std::map<std::string, std::string>& headers) {
  return http_request(port, "POST", "/text-to-image", "application/json",
                      R"({"model_id":"test/echo","prompt":"hello"})", headers);
}

// SEC-1: a literal -orchSecret works with a warning and is gone from the command line
// that ps reads; a worker takes the secret from AIPOOL_ORCH_SECRET instead; without
// either, the program stops naming both ways.
TEST(Security, SecretsStayOffTheCommandLine) {
  const std::string secret = "literal-secret-value-42";
  Orchestrator orch = start_orchestrator({"-orchSecret", secret});  // the later flag wins
  ASSERT_GT(orch.http_port, 0);
  EXPECT_NE(orch.process->output().find("-orchSecret: a literal value shows in `ps`"), std::string::npos)
      << orch.process->output();
  const std::string cmdline = cmdline_of(orch.process->pid());
  EXPECT_NE(cmdline.find("-orchSecret"), std::string::npos);
  EXPECT_EQ(cmdline.find(secret), std::string::npos);
  ::setenv("AIPOOL_ORCH_SECRET", secret.c_str(), 1);
  ChildProcess worker({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:" + std::to_string(orch.grpc_port),
                       "-insecure", "-aiModels", "text-to-image:test/echo"});
  ::unsetenv("AIPOOL_ORCH_SECRET");
  EXPECT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << worker.output();
  EXPECT_EQ(worker.output().find("literal value"), std::string::npos) << worker.output();
  EXPECT_EQ(orch.process->output().find(secret), std::string::npos);
  std::string out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-orchestrator"), "-serviceAddr", "127.0.0.1:0"}, out), 2);
  EXPECT_NE(out.find("AIPOOL_ORCH_SECRET"), std::string::npos) << out;
}

// SEC-2, SEC-3, SEC-4: with -apiKeys a job needs a valid Bearer key (401 with
// WWW-Authenticate otherwise, before the body is read); /healthz stays open; the
// job's log line names the key's name and no log line holds a key.
TEST(Security, ClientKeysGuardThePublicApi) {
  TempFile keys("keys", std::string("# clients\n") + kAliceKey + " alice\n" + kBobKey + "\n");
  Orchestrator orch = start_orchestrator({"-apiKeys", keys.path()});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << worker->output();
  HttpReply none = echo_job(orch.http_port, {});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, R"({"detail":{"msg":"missing API key: send Authorization: Bearer <key>"}})");
  EXPECT_EQ(none.headers["WWW-Authenticate"], "Bearer");
  EXPECT_EQ(echo_job(orch.http_port, bearer("alice-key-012345678X")).body, R"({"detail":{"msg":"invalid API key"}})");
  EXPECT_EQ(echo_job(orch.http_port, {{"Authorization", std::string("Basic ") + kAliceKey}}).status, 401);
  HttpReply ok = echo_job(orch.http_port, bearer(kAliceKey));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(echo_job(orch.http_port, {{"Authorization", std::string("bearer ") + kBobKey}}).status, 200);
  EXPECT_EQ(http_request(orch.http_port, "GET", "/healthz").status, 200);
  EXPECT_EQ(http_request(orch.http_port, "GET", "/no-such-path").status, 401);
  // A 50 MB upload without a key is refused from its head: nothing of it is sent.
  RawSocket s(orch.http_port);
  ASSERT_TRUE(s.send("POST /upscale HTTP/1.1\r\nHost: o\r\nContent-Length: 50000000\r\n\r\n"));
  EXPECT_EQ(s.read_response(5s).rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u);
  ASSERT_TRUE(orch.process->wait_for_line(" key=key3 ms=", 10s).has_value()) << orch.process->output();
  EXPECT_EQ(orch.process->count_lines(" key=alice ms="), 1u) << orch.process->output();
  EXPECT_EQ(orch.process->output().find(kAliceKey), std::string::npos);
  EXPECT_EQ(orch.process->output().find(kBobKey), std::string::npos);
}

// SEC-5: a key with maxInFlight=1 gets 503 with Retry-After while its job runs, and
// its count drops with each outcome: a success and a job that found no worker.
TEST(Security, KeyCapLimitsJobsInFlight) {
  TempFile keys("keys", std::string(kAliceKey) + " alice maxInFlight=1\n" + kBobKey + " bob\n");
  Orchestrator orch = start_orchestrator({"-apiKeys", keys.path()});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:4");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s)) << worker->output();
  const std::string job = R"({"model_id":"test/sleep","prompt":"x","sleep_ms":1500})";
  RawSocket first(orch.http_port);
  ASSERT_TRUE(first.send("POST /text-to-image HTTP/1.1\r\nHost: o\r\nAuthorization: Bearer " +
                         std::string(kAliceKey) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(job.size()) + "\r\n\r\n" + job));
  // The first job is in flight once the worker holds its slot.
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (http_request(orch.http_port, "GET", "/workers").body.find("\"in_use\":1") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  HttpReply refused = http_request(orch.http_port, "POST", "/text-to-image", "application/json", job, bearer(kAliceKey));
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body, R"({"detail":{"msg":"key alice has 1 jobs in flight, its limit"}})");
  EXPECT_EQ(refused.headers["Retry-After"], "1");
  EXPECT_EQ(http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                         R"({"model_id":"test/sleep","prompt":"y","sleep_ms":10})", bearer(kBobKey))
                .status,
            200);
  EXPECT_EQ(first.read_response(10s).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                         R"({"model_id":"no/such-model","prompt":"z"})", bearer(kAliceKey))
                .status,
            503);  // no worker offers it: an outcome too
  EXPECT_EQ(http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                         R"({"model_id":"test/sleep","prompt":"z","sleep_ms":10})", bearer(kAliceKey))
                .status,
            200);
}

// SEC-6: with -adminKey (from AIPOOL_ADMIN_KEY) /workers needs that key; a client
// key does not open it.
TEST(Security, AdminKeyGuardsWorkers) {
  TempFile keys("keys", std::string(kAliceKey) + " alice\n");
  ::setenv("AIPOOL_ADMIN_KEY", "admin-key-from-the-environment", 1);
  Orchestrator orch = start_orchestrator({"-apiKeys", keys.path()});
  ::unsetenv("AIPOOL_ADMIN_KEY");
  HttpReply none = http_request(orch.http_port, "GET", "/workers");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, R"({"detail":{"msg":"missing admin key: send Authorization: Bearer <adminKey>"}})");
  EXPECT_EQ(http_request(orch.http_port, "GET", "/workers", "", "", bearer(kAliceKey)).status, 401);
  HttpReply ok = http_request(orch.http_port, "GET", "/workers", "", "", bearer("admin-key-from-the-environment"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.rfind("{\"workers\":[", 0), 0u) << ok.body;
  EXPECT_EQ(echo_job(orch.http_port, bearer("admin-key-from-the-environment")).status, 401);
  EXPECT_EQ(orch.process->output().find("admin-key-from-the-environment"), std::string::npos);
}

// SEC-2, FLAG-2: a bad -apiKeys file stops the start naming the line, never the key.
TEST(Security, BadKeysFileStopsTheStart) {
  TempFile keys("keys", std::string(kAliceKey) + " alice\nshort-key bob\n");
  std::string out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-apiKeys", keys.path()}, out), 2);
  EXPECT_NE(out.find("-apiKeys: " + keys.path() + ": line 2: the key must be 16 to 256"), std::string::npos) << out;
  EXPECT_EQ(out.find("short-key"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-apiKeys", "/no/such/file"}, out),
            2);
  EXPECT_NE(out.find("-apiKeys: cannot read the file /no/such/file"), std::string::npos) << out;
}

}  // namespace
}  // namespace aipool::e2e
