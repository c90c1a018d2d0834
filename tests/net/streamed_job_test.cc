// Tests of the worker's streamed result post (src/net/streamed_job.h, spec/llm.md
// LLM-4) against a bare listening socket that stands in for the orchestrator: the
// post's connection is made when the job starts, before its first chunk, and the
// chunk then goes out on it; a connection the orchestrator has closed meanwhile is
// replaced; a job that has ended connects nowhere. Over TLS the connection made
// ahead is kept although the server's session tickets arrive on it.
#include "net/streamed_job.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "../support/temp_dir.h"
#include "../support/tls_server_context.h"
#include "net/tls.h"
#include <thread>

namespace aipool::net {
namespace {

using namespace std::chrono_literals;

const Poco::Timespan kWait(10, 0);
const Poco::Timespan kBrief(0, 200'000);

struct Orchestrator {
  Poco::Net::ServerSocket listener{Poco::Net::SocketAddress("127.0.0.1", 0)};
  ResultTarget target() const {
    std::string error;
    auto parsed = parse_results_url("http://127.0.0.1:" + std::to_string(listener.address().port()) + "/aiResults",
                                    error);
    EXPECT_TRUE(parsed.has_value()) << error;
    return parsed.value_or(ResultTarget{});
  }
  bool connection_waiting(const Poco::Timespan& within) { return listener.poll(within, Poco::Net::Socket::SELECT_READ); }
};

// What arrives on `socket` until `needle` has (or 10 s).
std::string read_until(Poco::Net::StreamSocket& socket, const std::string& needle) {
  std::string seen;
  char buffer[4096];
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < limit) {
    if (socket.available() == 0 && !socket.poll(kBrief, Poco::Net::Socket::SELECT_READ)) continue;
    const int n = socket.receiveBytes(buffer, sizeof buffer);
    if (n <= 0) break;
    seen.append(buffer, static_cast<std::size_t>(n));
  }
  return seen;
}

TEST(StreamedJob, ConnectsWhenPreparedAndPostsOnThatConnection) {
  Orchestrator orch;
  ResultPoster poster("s3cret", PostPolicy{3, 10ms, 5000ms, 8});
  auto job = std::make_shared<StreamedJob>(poster, orch.target(), 77, "w1");
  job->prepare();
  ASSERT_TRUE(orch.connection_waiting(kWait));  // before any chunk
  Poco::Net::StreamSocket connection = orch.listener.acceptConnection();
  EXPECT_FALSE(connection.poll(kBrief, Poco::Net::Socket::SELECT_READ));  // nothing sent yet
  ASSERT_TRUE(job->sink()(R"({"n":1})"));
  const std::string seen = read_until(connection, R"(data: {"n":1})");
  EXPECT_EQ(seen.rfind("POST /aiResults HTTP/1.1\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("TaskId: 77\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"(data: {"n":1})"), std::string::npos) << seen;
  EXPECT_FALSE(orch.connection_waiting(kBrief));  // no second connection
}

TEST(StreamedJob, AConnectionClosedBeforeTheFirstChunkIsReplaced) {
  Orchestrator orch;
  ResultPoster poster("s3cret", PostPolicy{3, 10ms, 5000ms, 8});
  auto job = std::make_shared<StreamedJob>(poster, orch.target(), 78, "w1");
  job->prepare();
  ASSERT_TRUE(orch.connection_waiting(kWait));
  orch.listener.acceptConnection().close();  // as an orchestrator's header timeout would
  std::this_thread::sleep_for(50ms);          // the close reaches the worker's side
  ASSERT_TRUE(job->sink()(R"({"n":2})"));
  ASSERT_TRUE(orch.connection_waiting(kWait));
  Poco::Net::StreamSocket second = orch.listener.acceptConnection();
  const std::string seen = read_until(second, R"(data: {"n":2})");
  EXPECT_NE(seen.find("TaskId: 78\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"(data: {"n":2})"), std::string::npos) << seen;
}

TEST(StreamedJob, AnEndedJobConnectsNowhere) {
  Orchestrator orch;
  ResultPoster poster("s3cret", PostPolicy{3, 10ms, 5000ms, 8});
  auto job = std::make_shared<StreamedJob>(poster, orch.target(), 79, "w1");
  ExecResult failed;
  failed.error = "runner not ready";
  EXPECT_FALSE(job->carries(failed));  // posted as an ordinary failed result (RES-2)
  job->prepare();
  EXPECT_FALSE(orch.connection_waiting(kBrief));
}

// Over TLS (the default between worker and orchestrator) the connection made ahead,
// its handshake done and the pinned certificate checked, carries the post although
// the server's TLS 1.3 session tickets have arrived on it meanwhile (they are no
// answer): no second connection, no second handshake.
TEST(StreamedJob, ATlsConnectionMadeAheadIsKeptThroughSessionTickets) {
  testing::TempDir dir;
  std::string error;
  TlsIdentity made;
  const Poco::Net::Context::Ptr server_tls = testing::tls_server_context(dir.path(), &made);
  Poco::Net::SecureServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0), 64, server_tls);
  TlsTrust pinned;
  pinned.mode = TlsTrust::Mode::kPinned;
  pinned.fingerprint = made.fingerprint;
  ResultPoster poster("s3cret", PostPolicy{3, 10ms, 5000ms, 8}, pinned);
  const auto target = parse_results_url("https://127.0.0.1:" + std::to_string(listener.address().port()) + "/aiResults",
                                        error);
  ASSERT_TRUE(target.has_value()) << error;
  auto job = std::make_shared<StreamedJob>(poster, *target, 80, "w1");
  std::thread preparing([&] { job->prepare(); });  // its handshake needs this side's
  ASSERT_TRUE(listener.poll(kWait, Poco::Net::Socket::SELECT_READ));
  Poco::Net::SecureStreamSocket connection(listener.acceptConnection());
  connection.completeHandshake();  // the server's session tickets go out with its end of it
  preparing.join();
  std::this_thread::sleep_for(100ms);  // they reach the worker's side
  ASSERT_TRUE(job->sink()(R"({"n":3})"));
  const std::string seen = read_until(connection, R"(data: {"n":3})");
  EXPECT_NE(seen.find("TaskId: 80\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"(data: {"n":3})"), std::string::npos) << seen;
  EXPECT_FALSE(listener.poll(kBrief, Poco::Net::Socket::SELECT_READ));  // no second connection
}

}  // namespace
}  // namespace aipool::net
