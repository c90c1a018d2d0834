// End-to-end: the llm pipeline through real orchestrator and worker processes, whole
// and streamed (spec/llm.md), with the test model test/echo (LLM-7).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// A client that reads its answer as it arrives.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool post(const std::string& path, const std::string& json) {
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: " + std::to_string(json.size()) + "\r\n\r\n" + json;
    return connected_ && ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  }
  // Reads until `needle` is in what was received (true) or `timeout` passes / the peer closes.
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return received_.find(needle) != std::string::npos;
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

Poco::JSON::Object::Ptr parse(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

std::string chat(const std::string& content, bool stream, int sleep_ms = 0) {
  return R"({"model":"test/echo","messages":[{"role":"user","content":")" + content + R"("}],"stream":)" +
         (stream ? "true" : "false") + (sleep_ms > 0 ? ",\"sleep_ms\":" + std::to_string(sleep_ms) : "") + "}";
}

class Llm : public ::testing::Test {
 protected:
  void SetUp() override {
    orch_ = start_orchestrator({"-v", "4"});
    worker_ = start_worker({orch_.grpc_port}, "llm:test/echo:true:1", {"-v", "4"});
    ASSERT_TRUE(wait_for_workers(orch_.http_port, 1, 20s)) << worker_->output();
  }
  // The llm key's slots in use, from /workers.
  int in_use() {
    auto keys = parse(http_request(orch_.http_port, "GET", "/workers").body)->getArray("keys");
    return keys && keys->size() == 1 ? keys->getObject(0)->getValue<int>("in_use") : -1;
  }
  bool wait_in_use(int want) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (in_use() != want) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  Orchestrator orch_;
  std::unique_ptr<ChildProcess> worker_;
};

// LLM-1, LLM-2: a whole answer has id, model, created, usage and choices with the message; `model` names the model and the defaults are filled in.
TEST_F(Llm, WholeAnswer) {
  const HttpReply r = http_request(orch_.http_port, "POST", "/llm", "application/json", chat("hello pool", false));
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = parse(r.body);
  EXPECT_EQ(answer->getValue<std::string>("model"), "test/echo");
  EXPECT_TRUE(answer->has("id"));
  EXPECT_TRUE(answer->has("created"));
  EXPECT_EQ(answer->getObject("usage")->getValue<int>("completion_tokens"), 2);
  auto choice = answer->getArray("choices")->getObject(0);
  EXPECT_EQ(choice->getValue<std::string>("finish_reason"), "stop");
  EXPECT_EQ(choice->getObject("message")->getValue<std::string>("content"), "hello pool");
  EXPECT_EQ(choice->getObject("message")->getValue<std::string>("role"), "assistant");

  const HttpReply bad = http_request(orch_.http_port, "POST", "/llm", "application/json",
                                     R"({"model":"test/echo","messages":[{"role":"user"}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("messages[0].content"), std::string::npos) << bad.body;
}

// LLM-3, LLM-4: a streamed answer is an event stream, one data event per word, each reaching the client while the job still runs (its slot held, LLM-4), then data: [DONE]; afterwards the slot is free.
TEST_F(Llm, StreamedChunksArriveAsProduced) {
  RawClient client(orch_.http_port);
  ASSERT_TRUE(client.post("/llm", chat("one two three four", true, 300)));
  ASSERT_TRUE(client.read_until("\"one\"", 20s)) << client.received() << worker_->output();
  EXPECT_NE(client.received().find("Content-Type: text/event-stream"), std::string::npos) << client.received();
  EXPECT_NE(client.received().find("Transfer-Encoding: chunked"), std::string::npos);
  // The first word is here and the job is not over: it still holds its slot.
  EXPECT_EQ(client.received().find("[DONE]"), std::string::npos);
  EXPECT_EQ(in_use(), 1);
  ASSERT_TRUE(client.read_until("data: [DONE]\n\n", 20s)) << client.received();
  const std::string& all = client.received();
  std::size_t last = 0;
  for (const char* word : {"\"one\"", "\" two\"", "\" three\"", "\" four\""}) {
    const std::size_t at = all.find(word);
    ASSERT_NE(at, std::string::npos) << word << " in " << all;
    EXPECT_GT(at, last) << word;
    last = at;
  }
  EXPECT_NE(all.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_EQ(all.find("event: error"), std::string::npos);
  EXPECT_TRUE(wait_in_use(0));
}

// LLM-6: a client that leaves mid-stream cancels its job: the worker's post is stopped, the worker stops the job (its remaining words are never produced) and the slot is freed.
TEST_F(Llm, ClientLeavingStopsTheWorker) {
  {
    RawClient client(orch_.http_port);
    ASSERT_TRUE(client.post("/llm", chat("a b c d e f g h i j k l m n o p q r s t", true, 250)));
    ASSERT_TRUE(client.read_until("\"a\"", 20s)) << client.received();
  }
  ASSERT_TRUE(orch_.process->wait_for_line("outcome=cancelled", 20s)) << orch_.process->output();
  ASSERT_TRUE(worker_->wait_for_line("cancelled", 20s)) << worker_->output();
  EXPECT_TRUE(wait_in_use(0));
  // The worker took its slot back and serves the next job.
  const HttpReply r = http_request(orch_.http_port, "POST", "/llm", "application/json", chat("again", false));
  EXPECT_EQ(r.status, 200) << r.body;
}

// LLM-5, RETRY-7: a worker that dies mid-stream ends its client's stream with an error event (no [DONE]), and the job is not retried on another worker although one is free.
TEST_F(Llm, WorkerDyingMidStreamEndsTheStreamWithAnError) {
  auto second = start_worker({orch_.grpc_port}, "llm:test/echo:true:1", {"-v", "4"});
  ASSERT_TRUE(wait_for_workers(orch_.http_port, 2, 20s));
  RawClient client(orch_.http_port);
  ASSERT_TRUE(client.post("/llm", chat("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10", true, 300)));
  ASSERT_TRUE(client.read_until("\"w1\"", 20s)) << client.received();
  // Whichever worker has it: the one whose log shows the job admitted (its line was
  // written before the first chunk left, though this process may not have read it yet).
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (worker_->count_lines("admitted") + second->count_lines("admitted") == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  ChildProcess& busy = worker_->count_lines("admitted") > 0 ? *worker_ : *second;
  busy.send_signal(SIGKILL);
  ASSERT_TRUE(client.read_until("event: error", 20s)) << client.received();
  EXPECT_NE(client.received().find("stream failed"), std::string::npos) << client.received();
  EXPECT_EQ(client.received().find("[DONE]"), std::string::npos);
  EXPECT_TRUE(client.read_until("0\r\n\r\n", 5s)) << "the chunked answer did not end";
  ChildProcess& idle = &busy == worker_.get() ? *second : *worker_;
  EXPECT_EQ(idle.count_lines("admitted"), 0u) << "the job was retried mid-stream";
}

}  // namespace
}  // namespace aipool::e2e
