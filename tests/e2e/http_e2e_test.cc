// End-to-end tests of the orchestrator's HTTP server (spec/http.md) with real
// processes on loopback: many clients waiting on long jobs, idle and slow
// connections, strict framing, and results after a restart. Bounded waits only.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/raw_socket.h"
#include "codec/base64.h"
#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using aipool::testing::RawSocket;
using namespace std::chrono_literals;

std::string job_request(const std::string& json) {
  return "POST /text-to-image HTTP/1.1\r\nHost: o\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(json.size()) + "\r\n\r\n" + json;
}

int status_of(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(response.c_str() + 9) : 0;
}

// HTTP-1, HTTP-6, RES-8: 70 clients wait at once on 3-second jobs that one worker
// runs together. Every one is answered: the worker's result posts are never queued
// behind the waiting clients (a thread-per-connection server deadlocked here).
TEST(HttpEndToEnd, SeventyClientsWaitingOnLongJobsAreAllAnswered) {
  Orchestrator orch = start_orchestrator();
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:70");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  std::vector<std::unique_ptr<RawSocket>> clients;
  for (int i = 0; i < 70; ++i) {
    clients.push_back(std::make_unique<RawSocket>(orch.http_port));
    ASSERT_TRUE(clients.back()->send(
        job_request(R"({"model_id":"test/sleep","prompt":"client-)" + std::to_string(i) + R"(","sleep_ms":3000})")));
  }
  const auto until = std::chrono::steady_clock::now() + 40s;
  int answered = 0;
  for (int i = 0; i < 70; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    const std::string response = clients[static_cast<std::size_t>(i)]->read_response(std::max(left, 1ms));
    EXPECT_EQ(status_of(response), 200) << "client " << i << ": " << response.substr(0, 300);
    EXPECT_NE(response.find(codec::base64_encode("client-" + std::to_string(i))), std::string::npos) << i;
    answered += status_of(response) == 200;
  }
  EXPECT_EQ(answered, 70) << orch.process->output();
}

// HTTP-3, HTTP-4: 300 idle connections and 100 that send their headers a byte at a
// time do not stop /healthz or a job; the slow ones are cut with 408 at the header
// deadline.
TEST(HttpEndToEnd, IdleAndSlowConnectionsDoNotStopService) {
  Orchestrator orch = start_orchestrator({"-httpHeaderTimeout", "2s"});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/echo:true:4");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(std::make_unique<RawSocket>(orch.http_port));
  std::vector<std::unique_ptr<RawSocket>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawSocket>(orch.http_port));
    ASSERT_TRUE(slow.back()->send("POST /text-to-image HTTP/1.1\r\nHost: o\r\n"));
  }
  std::atomic<bool> stop{false};
  std::thread loris([&] {
    for (int round = 0; round < 20 && !stop; ++round) {
      for (auto& s : slow) s->send("X");
      std::this_thread::sleep_for(100ms);
    }
  });
  const HttpReply health = http_request(orch.http_port, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  const HttpReply job = http_request(orch.http_port, "POST", "/text-to-image", "application/json",
                                     R"({"model_id":"test/echo","prompt":"still served"})");
  EXPECT_EQ(job.status, 200) << job.body;
  stop = true;
  loris.join();
  int cut = 0;
  for (auto& s : slow) {
    const std::string response = s->read_response(6s);
    cut += response.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0;
  }
  EXPECT_EQ(cut, 100);
}

// HTTP-4, RES-8: beyond -maxClientConns new clients get 503 with Retry-After, while
// a job already waiting still gets its result through /aiResults.
TEST(HttpEndToEnd, BeyondTheConnectionCapResultsStillGetThrough) {
  Orchestrator orch = start_orchestrator({"-maxClientConns", "20"});
  auto worker = start_worker({orch.grpc_port}, "text-to-image:test/sleep:true:1");
  ASSERT_TRUE(wait_for_workers(orch.http_port, 1, 20s));
  RawSocket client(orch.http_port);
  ASSERT_TRUE(client.send(job_request(R"({"model_id":"test/sleep","prompt":"waiting","sleep_ms":1500})")));
  std::vector<std::unique_ptr<RawSocket>> flood;
  for (int i = 0; i < 60; ++i) flood.push_back(std::make_unique<RawSocket>(orch.http_port));
  RawSocket late(orch.http_port);
  ASSERT_TRUE(late.send("GET /healthz HTTP/1.1\r\nHost: o\r\n\r\n"));
  const std::string refused = late.read_response(5s);
  EXPECT_EQ(status_of(refused), 503) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  const std::string answer = client.read_response(20s);
  EXPECT_EQ(status_of(answer), 200) << answer.substr(0, 300) << orch.process->output();
}

// HTTP-2: conflicting framing gets 400 Bad Request and the connection is closed.
TEST(HttpEndToEnd, ConflictingFramingGets400) {
  Orchestrator orch = start_orchestrator();
  RawSocket s(orch.http_port);
  ASSERT_TRUE(s.send("POST /text-to-image HTTP/1.1\r\nHost: o\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"));
  const std::string response = s.read_response(5s);
  EXPECT_EQ(response.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << response;
  EXPECT_TRUE(s.closed_within(5s));
}

// TASK-1, RES-5, STOP-1: client A's job is running when the orchestrator restarts on
// the same ports; client A gets 503 `shutting down`; client B's job on the new
// orchestrator is running when the worker's late post for A's task arrives. That
// post must not match B's task: B gets its own output, never A's.
TEST(HttpEndToEnd, StaleResultAfterRestartNeverReachesAnotherClient) {
  const int grpc = free_port();
  const int http = free_port();
  Orchestrator orch = start_orchestrator({"-v", "4"}, grpc, http);
  auto worker = start_worker({grpc}, "text-to-image:test/sleep:true:4", {"-v", "4"});
  ASSERT_TRUE(wait_for_workers(http, 1, 20s));
  auto a = std::async(std::launch::async, [http] {
    return http_request(http, "POST", "/text-to-image", "application/json",
                        R"({"model_id":"test/sleep","prompt":"PRIVATE-PROMPT-OF-CLIENT-A","sleep_ms":4000})");
  });
  const std::optional<std::string> sent = orch.process->wait_for_line(" sent", 10s);
  ASSERT_TRUE(sent.has_value()) << orch.process->output();
  const std::size_t at = sent->find("task=") + 5;
  const std::string a_task = sent->substr(at, sent->find(' ', at) - at);
  // The restart comes once A's job is on the worker: "sent" is logged before the
  // message leaves, and a stop right then may keep it from ever leaving.
  ASSERT_TRUE(worker->wait_for_line("job task=" + a_task + " ", 10s).has_value()) << worker->output();
  orch.process->send_signal(SIGTERM);
  ASSERT_TRUE(orch.process->wait_exit(10s).has_value());
  const HttpReply a_reply = a.get();
  EXPECT_EQ(a_reply.status, 503) << a_reply.body;
  EXPECT_NE(a_reply.body.find("orchestrator is shutting down"), std::string::npos) << a_reply.body;
  orch = start_orchestrator({"-v", "4"}, grpc, http);
  ASSERT_TRUE(wait_for_workers(http, 1, 15s)) << worker->output();
  const HttpReply b = http_request(http, "POST", "/text-to-image", "application/json",
                                   R"({"model_id":"test/sleep","prompt":"CLIENT-B","sleep_ms":6000})");
  EXPECT_EQ(b.status, 200) << b.body;
  EXPECT_NE(b.body.find(codec::base64_encode("CLIENT-B")), std::string::npos) << b.body;
  EXPECT_EQ(b.body.find(codec::base64_encode("PRIVATE-PROMPT-OF-CLIENT-A")), std::string::npos)
      << "client B received client A's output";
  // The worker's late post for A's task: refused (404) by the new orchestrator, or
  // failed if it came while no orchestrator listened; never taken.
  const std::optional<std::string> late =
      worker->wait_for_line("job task=" + a_task + " orch=127.0.0.1:" + std::to_string(grpc) + " pipeline=", 15s);
  ASSERT_TRUE(late.has_value()) << worker->output();
  EXPECT_EQ(late->find("post=200"), std::string::npos) << *late;
}

}  // namespace
}  // namespace aipool::e2e
