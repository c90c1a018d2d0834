// End-to-end tests of TLS (spec/security.md SEC-7..SEC-10) with real processes on
// loopback: the whole job path over TLS with the orchestrator's self-signed
// certificate pinned by the worker, the certificate kept across a restart, and
// workers that refuse an orchestrator they do not trust.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "../support/temp_dir.h"
#include "e2e_support.h"
#include "net/tls.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

using aipool::testing::TempDir;

struct TlsOrchestrator {
  std::unique_ptr<ChildProcess> process;
  int grpc_port = 0;
  int http_port = 0;
  std::string fingerprint;
};

// An orchestrator with TLS on (no -insecure), its certificate kept in `data_dir`.
TlsOrchestrator start_tls_orchestrator(const std::string& data_dir, int grpc_port = 0, int http_port = 0) {
  TlsOrchestrator o;
  o.process = std::make_unique<ChildProcess>(std::vector<std::string>{
      bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-dataDir", data_dir, "-serviceAddr",
      "127.0.0.1:" + std::to_string(grpc_port), "-httpAddr", "127.0.0.1:" + std::to_string(http_port)});
  const std::optional<std::string> ready = o.process->wait_for_line("aipool-orchestrator ready", 20s);
  EXPECT_TRUE(ready.has_value()) << o.process->output();
  if (ready) std::sscanf(ready->c_str(), "aipool-orchestrator ready grpc=%d http=%d", &o.grpc_port, &o.http_port);
  const std::optional<std::string> line = o.process->wait_for_line("TLS certificate sha256:", 1s);
  if (line) o.fingerprint = line->substr(line->find("sha256:"), 7 + 64);
  return o;
}

std::unique_ptr<ChildProcess> start_pinning_worker(int grpc_port, const std::string& fingerprint,
                                                  const std::string& models = "text-to-image:test/echo") {
  return std::make_unique<ChildProcess>(std::vector<std::string>{
      bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:" + std::to_string(grpc_port), "-orchSecret", "s3cret",
      "-orchCertFingerprint", fingerprint, "-aiModels", models});
}

Poco::Net::Context::Ptr client_context(const std::string& ca_file) {
  return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                Poco::Net::Context::VERIFY_RELAXED, 9, false);
}

// One HTTPS request that trusts only `ca_file`; status 0 when it failed.
HttpReply https_request(int port, const std::string& ca_file, const std::string& method, const std::string& path,
                        const std::string& body = "") {
  HttpReply reply;
  try {
    Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>(port), client_context(ca_file));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::ostringstream text;
    Poco::StreamCopier::copyStream(in, text);
    reply.status = static_cast<int>(response.getStatus());
    reply.body = text.str();
  } catch (const std::exception& e) {
    reply.body = e.what();
  }
  return reply;
}

// A client's TLS connection that has sent `POST path` with a JSON `body` and reads
// nothing yet: for tests of clients that leave.
Poco::Net::SecureStreamSocket tls_post(int port, const std::string& ca_file, const std::string& path,
                                       const std::string& body) {
  Poco::Net::SecureStreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                                       "localhost", client_context(ca_file));
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  return socket;
}

// SEC-7, SEC-8, SEC-9: a job crosses every path over TLS: the client's HTTPS request,
// the worker's gRPC stream to a pinned self-signed certificate, and its result post
// over HTTPS. Plain HTTP is refused on that port with a plain 400 that says so, and after a restart the
// orchestrator serves the same certificate, so the pinning worker comes back.
TEST(TlsEndToEnd, WholeJobPathOverTlsWithAPinnedCertificate) {
  TempDir dir;
  TlsOrchestrator orch = start_tls_orchestrator(dir.path());
  ASSERT_EQ(orch.fingerprint.size(), 7u + 64u) << orch.process->output();
  auto worker = start_pinning_worker(orch.grpc_port, orch.fingerprint);
  ASSERT_TRUE(worker->wait_for_line("results go to https://127.0.0.1:" + std::to_string(orch.http_port), 20s))
      << worker->output();
  const std::string ca = dir.path() + "/tls-cert.pem";
  const HttpReply job = https_request(orch.http_port, ca, "POST", "/text-to-image",
                                      R"({"model_id":"test/echo","prompt":"over tls"})");
  EXPECT_EQ(job.status, 200) << job.body;
  EXPECT_NE(job.body.find("data:text/plain;base64,b3ZlciB0bHM="), std::string::npos) << job.body;
  EXPECT_TRUE(orch.process->wait_for_line("outcome=result", 5s).has_value()) << orch.process->output();
  const HttpReply plain = http_request(orch.http_port, "GET", "/healthz");  // no plain HTTP
  EXPECT_EQ(plain.status, 400);
  EXPECT_EQ(plain.body, R"({"detail":{"msg":"this port speaks HTTPS (TLS): use https://"}})");
  EXPECT_EQ(https_request(orch.http_port, ca, "GET", "/healthz").status, 200);
  // A restart on the same ports keeps the certificate: the worker reconnects to it.
  const int grpc = orch.grpc_port;
  const int http = orch.http_port;
  orch.process->send_signal(SIGTERM);
  ASSERT_TRUE(orch.process->wait_exit(20s).has_value());
  TlsOrchestrator again = start_tls_orchestrator(dir.path(), grpc, http);
  EXPECT_EQ(again.fingerprint, orch.fingerprint);
  EXPECT_TRUE(again.process->wait_for_line("joined from", 30s).has_value()) << worker->output();
  EXPECT_EQ(https_request(http, ca, "POST", "/text-to-image", R"({"model_id":"test/echo","prompt":"again"})").status,
            200);
}

// LLM-4 over TLS: a streamed llm answer's result post, connected (its handshake done
// and the pinned certificate checked) as the job starts, carries every chunk to the
// client, then [DONE]; twice, each job on a post of its own.
TEST(TlsEndToEnd, StreamedAnswerOverTlsWithAPinnedCertificate) {
  TempDir dir;
  TlsOrchestrator orch = start_tls_orchestrator(dir.path());
  ASSERT_EQ(orch.fingerprint.size(), 7u + 64u) << orch.process->output();
  auto worker = start_pinning_worker(orch.grpc_port, orch.fingerprint, "llm:test/echo");
  ASSERT_TRUE(worker->wait_for_line("results go to https://", 20s)) << worker->output();
  const std::string ca = dir.path() + "/tls-cert.pem";
  for (const std::string words : {"one two three", "four five"}) {
    const HttpReply answer =
        https_request(orch.http_port, ca, "POST", "/llm",
                      R"({"model":"test/echo","messages":[{"role":"user","content":")" + words + R"("}],"stream":true})");
    ASSERT_EQ(answer.status, 200) << answer.body;
    std::istringstream first_word(words);
    std::string word;
    while (first_word >> word) EXPECT_NE(answer.body.find(word), std::string::npos) << answer.body;
    EXPECT_NE(answer.body.find("data: [DONE]"), std::string::npos) << answer.body;
  }
  // The attempt's line is logged as its result post ends, which may come just after
  // the client has read [DONE].
  EXPECT_EQ(orch.process->wait_for_count("outcome=result", 2, 10s), 2u) << orch.process->output() << worker->output();
}

// API-9, SEC-7: over TLS too, a client that closes its connection (close_notify, then
// the TCP close) while its job runs cancels the job.
TEST(TlsEndToEnd, ClientLeavingOverTlsCancelsItsJob) {
  TempDir dir;
  TlsOrchestrator orch = start_tls_orchestrator(dir.path());
  auto worker = start_pinning_worker(orch.grpc_port, orch.fingerprint, "text-to-image:test/sleep:true:1");
  ASSERT_TRUE(worker->wait_for_line("results go to https://", 20s).has_value()) << worker->output();
  const std::string ca = dir.path() + "/tls-cert.pem";
  {
    Poco::Net::SecureStreamSocket socket = tls_post(orch.http_port, ca, "/text-to-image",
                                                    R"({"model_id":"test/sleep","prompt":"p","sleep_ms":3000})");
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (https_request(orch.http_port, ca, "GET", "/workers").body.find("\"open_attempts\":1") ==
               std::string::npos &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
    socket.close();  // the client goes away mid-job
  }
  EXPECT_TRUE(orch.process->wait_for_line("outcome=cancelled", 10s).has_value()) << orch.process->output();
}

// LLM-6 over TLS: a client that leaves mid-stream cancels its job, and the worker,
// which over TLS learns of the stopped post by its close (not by reading an answer
// that looks like a session ticket), stops the job a chunk or two later and serves
// the next one: its 20 words are never all produced.
TEST(TlsEndToEnd, ClientLeavingMidStreamOverTlsStopsTheWorker) {
  TempDir dir;
  TlsOrchestrator orch = start_tls_orchestrator(dir.path());
  auto worker = start_pinning_worker(orch.grpc_port, orch.fingerprint, "llm:test/echo:true:1");
  ASSERT_TRUE(worker->wait_for_line("results go to https://", 20s).has_value()) << worker->output();
  const std::string ca = dir.path() + "/tls-cert.pem";
  {
    Poco::Net::SecureStreamSocket socket =
        tls_post(orch.http_port, ca, "/llm",
                 R"({"model":"test/echo","messages":[{"role":"user","content":")"
                 R"(a b c d e f g h i j k l m n o p q r s t"}],"stream":true,"sleep_ms":250})");
    std::string seen;
    char buffer[4096];
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (seen.find(R"("content":"a")") == std::string::npos && std::chrono::steady_clock::now() < until) {
      int n = 0;
      try {
        n = socket.receiveBytes(buffer, sizeof buffer);
      } catch (const Poco::Exception& e) {
        ADD_FAILURE() << e.displayText() << " after " << seen;
        break;
      }
      if (n <= 0) break;
      seen.append(buffer, static_cast<std::size_t>(n));
    }
    ASSERT_NE(seen.find(R"("content":"a")"), std::string::npos) << seen;
    socket.close();  // the client goes away mid-stream
  }
  ASSERT_TRUE(orch.process->wait_for_line("outcome=cancelled", 20s).has_value()) << orch.process->output();
  ASSERT_TRUE(worker->wait_for_line("cancelled", 20s).has_value()) << worker->output();
  const HttpReply again = https_request(orch.http_port, ca, "POST", "/llm",
                                        R"({"model":"test/echo","messages":[{"role":"user","content":"again"}]})");
  EXPECT_EQ(again.status, 200) << again.body;
}

// SEC-8, SEC-10: a worker exits 2 without registering (so without sending the secret)
// when the orchestrator's certificate is not the pinned one, is not signed by its CA
// file, or when the orchestrator speaks plain text; and a worker with -insecure exits
// 2 saying the orchestrator speaks TLS.
TEST(TlsEndToEnd, WorkerRefusesAnOrchestratorItDoesNotTrust) {
  TempDir dir;
  TlsOrchestrator orch = start_tls_orchestrator(dir.path());
  std::string error;
  const std::optional<net::TlsIdentity> other = net::make_self_signed({}, error);
  ASSERT_TRUE(other.has_value()) << error;
  auto wrong_pin = start_pinning_worker(orch.grpc_port, other->fingerprint);
  EXPECT_EQ(wrong_pin->wait_exit(20s), 2);
  EXPECT_NE(wrong_pin->output().find("is not trusted: its certificate " + orch.fingerprint +
                                     " does not match -orchCertFingerprint " + other->fingerprint),
            std::string::npos)
      << wrong_pin->output();
  std::ofstream(dir.path() + "/other-ca.pem") << other->cert_pem;
  ChildProcess wrong_ca({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:" + std::to_string(orch.grpc_port),
                         "-orchSecret", "s3cret", "-orchCACert", dir.path() + "/other-ca.pem", "-aiModels",
                         "text-to-image:test/echo"});
  EXPECT_EQ(wrong_ca.wait_exit(20s), 2);
  EXPECT_NE(wrong_ca.output().find("is not trusted: its certificate is not trusted"), std::string::npos)
      << wrong_ca.output();
  EXPECT_EQ(orch.process->count_lines("joined from"), 0u) << orch.process->output();
  ChildProcess insecure({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:" + std::to_string(orch.grpc_port),
                         "-orchSecret", "s3cret", "-insecure", "-aiModels", "text-to-image:test/echo"});
  EXPECT_EQ(insecure.wait_exit(20s), 2);
  EXPECT_NE(insecure.output().find("speaks TLS (certificate " + orch.fingerprint +
                                   ") but this worker was started with -insecure"),
            std::string::npos)
      << insecure.output();
  Orchestrator plain = start_orchestrator();  // -insecure
  auto tls_worker = start_pinning_worker(plain.grpc_port, orch.fingerprint);
  EXPECT_EQ(tls_worker->wait_exit(20s), 2);
  EXPECT_NE(tls_worker->output().find("give this worker -insecure too"), std::string::npos) << tls_worker->output();
}

// SEC-10: -insecure cannot be combined with the TLS flags, on either side.
TEST(TlsEndToEnd, InsecureDoesNotMixWithTlsFlags) {
  std::string out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-orchestrator"), "-orchSecret", "s3cret", "-insecure", "-tlsCert", "c.pem",
                       "-tlsKey", "k.pem"},
                      out),
            2);
  EXPECT_NE(out.find("-insecure: leave out -tlsCert and -tlsKey"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:1", "-orchSecret", "s3cret", "-insecure",
                       "-orchCertFingerprint", "sha256:00", "-aiModels", "text-to-image:test/echo"},
                      out),
            2);
  EXPECT_NE(out.find("-insecure: leave out -orchCACert and -orchCertFingerprint"), std::string::npos) << out;
  EXPECT_EQ(run_to_exit({bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:1", "-orchSecret", "s3cret",
                       "-orchCertFingerprint", "sha256:00", "-aiModels", "text-to-image:test/echo"},
                      out),
            2);
  EXPECT_NE(out.find("-orchCertFingerprint: expected sha256: and 64 hex digits"), std::string::npos) << out;
}

}  // namespace
}  // namespace aipool::e2e
