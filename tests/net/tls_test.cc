// Tests of TLS (src/net/tls.h, spec/security.md SEC-7..SEC-9): the orchestrator's
// identity and its fingerprint, the worker's probe against a real TLS server on
// loopback, and result posts over HTTPS to it.
#include "net/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>

#include "../support/raw_socket.h"
#include "../support/temp_dir.h"
#include "codec/result_codec.h"
#include "io/tls_client.h"
#include "net/http_server.h"
#include "net/result_poster.h"

namespace aipool::net {
namespace {

using namespace std::chrono_literals;

TlsIdentity self_signed() {
  std::string error;
  std::optional<TlsIdentity> identity = make_self_signed({"orch.example", "10.9.8.7"}, error);
  EXPECT_TRUE(identity.has_value()) << error;
  return identity.value_or(TlsIdentity{});
}

using aipool::testing::TempDir;

// SEC-7, SEC-8: a fingerprint is sha256: and 64 hex digits; operators may write it
// with colons, in upper case or without the prefix.
TEST(Tls, FingerprintsAreParsedInEveryCommonForm) {
  const TlsIdentity identity = self_signed();
  ASSERT_EQ(identity.fingerprint.size(), 7u + 64u);
  EXPECT_EQ(identity.fingerprint.rfind("sha256:", 0), 0u);
  EXPECT_EQ(fingerprint_of_pem(identity.cert_pem), identity.fingerprint);
  std::string colons;
  for (std::size_t i = 7; i < identity.fingerprint.size(); i += 2) {
    if (!colons.empty()) colons += ':';
    colons += static_cast<char>(std::toupper(identity.fingerprint[i]));
    colons += static_cast<char>(std::toupper(identity.fingerprint[i + 1]));
  }
  EXPECT_EQ(io::parse_fingerprint("SHA256:" + colons), identity.fingerprint);
  EXPECT_EQ(io::parse_fingerprint(identity.fingerprint.substr(7)), identity.fingerprint);
  EXPECT_EQ(io::parse_fingerprint("sha256:abc"), std::nullopt);
  EXPECT_EQ(io::parse_fingerprint("sha256:" + std::string(64, 'g')), std::nullopt);
  EXPECT_EQ(fingerprint_of_pem("not a certificate"), "");
  EXPECT_NE(self_signed().fingerprint, identity.fingerprint);  // a new key each time
}

// SEC-7: the self-signed pair is made once in the data folder (key mode 0600) and
// the same one is used at the next start; given files must come as a matching pair.
TEST(Tls, SelfSignedIdentityIsKeptInTheDataDir) {
  TempDir dir;
  std::string error;
  const std::optional<TlsIdentity> first = load_identity("", "", dir.path() + "/data", {}, error);
  ASSERT_TRUE(first.has_value()) << error;
  const auto perms = std::filesystem::status(dir.path() + "/data/tls-key.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::optional<TlsIdentity> again = load_identity("", "", dir.path() + "/data", {}, error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(again->fingerprint, first->fingerprint);
  const std::optional<TlsIdentity> given = load_identity(dir.path() + "/data/tls-cert.pem",
                                                         dir.path() + "/data/tls-key.pem", "", {}, error);
  ASSERT_TRUE(given.has_value()) << error;
  EXPECT_EQ(given->fingerprint, first->fingerprint);
  const TlsIdentity other = self_signed();
  std::ofstream(dir.path() + "/other-key.pem") << other.key_pem;
  EXPECT_FALSE(load_identity(dir.path() + "/data/tls-cert.pem", dir.path() + "/other-key.pem", "", {}, error));
  EXPECT_NE(error.find("is not the key of"), std::string::npos) << error;
  EXPECT_FALSE(load_identity(dir.path() + "/data/tls-cert.pem", "", "", {}, error));
  EXPECT_NE(error.find("give both -tlsCert and -tlsKey"), std::string::npos) << error;
}

// A TLS HTTP server on loopback that answers every request with its path.
class TlsServer {
 public:
  explicit TlsServer(const TlsIdentity& identity, bool tls = true, std::int64_t header_timeout_ms = 10'000,
                     std::int64_t idle_timeout_ms = 60'000) {
    HttpServerConfig config;
    config.header_timeout_ms = header_timeout_ms;
    config.idle_timeout_ms = idle_timeout_ms;
    if (tls) {
      config.tls_cert_pem = identity.cert_pem;
      config.tls_key_pem = identity.key_pem;
    }
    server_ = std::make_unique<HttpServer>(config, [](HttpRequest&& request, std::shared_ptr<HttpExchange> ex) {
      HttpResponse response;
      response.body = "{\"path\":\"" + request.path + "\",\"bytes\":" + std::to_string(request.body.size()) + "}";
      ex->respond(std::move(response));
    });
    std::string error;
    EXPECT_TRUE(server_->listen(error)) << error;
    server_->run();
  }
  ~TlsServer() { server_->stop(0); }
  std::uint16_t port() const { return static_cast<std::uint16_t>(server_->port()); }

 private:
  std::unique_ptr<HttpServer> server_;
};

TlsTrust pinned(const std::string& fingerprint) {
  TlsTrust trust;
  trust.mode = TlsTrust::Mode::kPinned;
  trust.fingerprint = fingerprint;
  return trust;
}

TlsTrust ca(const TlsIdentity& identity) {
  TlsTrust trust;
  trust.mode = TlsTrust::Mode::kCaFile;
  trust.ca_pem = identity.cert_pem;
  return trust;
}

// SEC-8: the probe trusts a pinned certificate by its fingerprint alone, a CA-signed
// one by its chain and name; it refuses any other certificate and a server without
// TLS, and tells an unreachable orchestrator apart.
TEST(Tls, ProbeTrustsOnlyWhatTheWorkerWasToldTo) {
  const TlsIdentity identity = self_signed();
  TlsServer server(identity);
  TlsProbe probe = probe_orchestrator("127.0.0.1", server.port(), pinned(identity.fingerprint), 5s);
  EXPECT_EQ(probe.kind, TlsProbe::Kind::kTrusted) << probe.message;
  EXPECT_EQ(fingerprint_of_pem(probe.cert_pem), identity.fingerprint);
  EXPECT_EQ(probe.server_name, "aipool-orchestrator");
  EXPECT_EQ(probe_orchestrator("localhost", server.port(), ca(identity), 5s).kind, TlsProbe::Kind::kTrusted);
  const TlsIdentity other = self_signed();
  probe = probe_orchestrator("127.0.0.1", server.port(), pinned(other.fingerprint), 5s);
  EXPECT_EQ(probe.kind, TlsProbe::Kind::kUntrusted);
  EXPECT_NE(probe.message.find("does not match -orchCertFingerprint " + other.fingerprint), std::string::npos)
      << probe.message;
  probe = probe_orchestrator("127.0.0.1", server.port(), ca(other), 5s);
  EXPECT_EQ(probe.kind, TlsProbe::Kind::kUntrusted);
  EXPECT_NE(probe.message.find("its certificate is not trusted"), std::string::npos) << probe.message;
  TlsTrust system;
  EXPECT_EQ(probe_orchestrator("127.0.0.1", server.port(), system, 5s).kind, TlsProbe::Kind::kUntrusted);
  TlsServer plain(identity, false);
  probe = probe_orchestrator("127.0.0.1", plain.port(), pinned(identity.fingerprint), 5s);
  EXPECT_EQ(probe.kind, TlsProbe::Kind::kUntrusted);
  EXPECT_NE(probe.message.find("give this worker -insecure too"), std::string::npos) << probe.message;
  probe = probe_orchestrator("127.0.0.1", 1, pinned(identity.fingerprint), 2s);
  EXPECT_EQ(probe.kind, TlsProbe::Kind::kUnreachable) << probe.message;
  EXPECT_EQ(probe.message, "cannot connect: Connection refused");
}

// SEC-7, HTTP-3: a client that starts a TLS handshake and stalls, or connects and
// sends nothing, is cut at the header deadline: a slow handshake holds no connection.
TEST(Tls, StalledHandshakesAreCutAtTheHeaderDeadline) {
  const TlsIdentity identity = self_signed();
  TlsServer server(identity, true, 300);
  aipool::testing::RawSocket stalled(server.port());
  ASSERT_TRUE(stalled.send(std::string("\x16\x03\x01", 3)));  // the first bytes of a ClientHello
  aipool::testing::RawSocket silent(server.port());
  EXPECT_TRUE(stalled.closed_within(3s));
  EXPECT_TRUE(silent.closed_within(3s));
}

// HTTP-3, SEC-7: a kept-alive TLS connection left idle past the idle timeout is
// ended with a TLS close_notify, so that the client reads a clean end of the
// stream, not a truncation ("unexpected eof") it could take for an attack.
TEST(Tls, IdleKeptAliveConnectionEndsWithCloseNotify) {
  const TlsIdentity identity = self_signed();
  TlsServer server(identity, true, 10'000, 300);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval limit{5, 0};  // a server that never ends the connection fails the test, not hangs it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  const std::string request = "GET /idle HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())), static_cast<int>(request.size()));
  std::string answer;
  char buffer[4096];
  int n = 0;
  while (answer.find("{\"path\":\"/idle\",\"bytes\":0}") == std::string::npos &&
         (n = SSL_read(ssl.get(), buffer, sizeof buffer)) > 0) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ASSERT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  n = SSL_read(ssl.get(), buffer, sizeof buffer);  // the server's end, after the idle timeout
  const int error = SSL_get_error(ssl.get(), n);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(error, SSL_ERROR_ZERO_RETURN) << "the connection ended without close_notify: SSL error " << error << " ("
                                          << ERR_reason_error_string(ERR_peek_error()) << ")";
  ::close(fd);
}

// SEC-9: a result post goes over HTTPS to a pinned certificate, and only to it; a
// worker without TLS trust refuses an https:// target instead of sending in clear.
TEST(Tls, ResultPostsGoOverHttpsToTheTrustedServerOnly) {
  const TlsIdentity identity = self_signed();
  TlsServer server(identity);
  std::string error;
  const std::optional<ResultTarget> target =
      parse_results_url("https://127.0.0.1:" + std::to_string(server.port()) + "/aiResults", error);
  ASSERT_TRUE(target.has_value()) << error;
  EXPECT_TRUE(target->https);
  codec::EncodedPost body;
  body.content_type = "application/json";
  body.pieces.push_back(std::make_shared<const std::string>(std::string(100000, 'x')));
  PostPolicy policy;
  policy.retries = 0;
  ResultPoster trusted("s3cret", policy, pinned(identity.fingerprint));
  const PostOutcome ok = trusted.post(*target, 7, "", body);
  EXPECT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(ok.answer, "{\"path\":\"/aiResults\",\"bytes\":100000}");
  ResultPoster wrong("s3cret", policy, pinned(self_signed().fingerprint));
  const PostOutcome refused = wrong.post(*target, 8, "", body);
  EXPECT_EQ(refused.status, 0);
  EXPECT_FALSE(refused.error.empty());
  ResultPoster plain("s3cret", policy);
  const PostOutcome insecure = plain.post(*target, 9, "", body);
  EXPECT_EQ(insecure.status, 0);
  EXPECT_NE(insecure.error.find("is https:// but this worker was started with -insecure"), std::string::npos)
      << insecure.error;
}

}  // namespace
}  // namespace aipool::net
