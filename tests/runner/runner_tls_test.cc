// Tests of an https runner (spec/runners.md RUN-9): the worker checks the server's
// certificate against the system's CAs and the entry's ca_file, or against the
// entry's pinned fingerprint, and refuses one it cannot trust; the stand-in runner (tests/support/fake_runner.h) serves TLS with a
// self-signed certificate made for the test.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>

#include "codec/base64.h"
#include "codec/model_config.h"
#include "exec/served_models.h"
#include "runner_test_support.h"
#include "temp_dir.h"
#include "tls_server_context.h"

namespace aipool::runner_test {
namespace {

const Key kI2i{Pipeline::kImageToImage, "sd/turbo"};

std::string fields_with_ca(const std::string& path) { return R"({"ca_file":")" + path + "\"}"; }

// RUN-9: with the certificate in ca_file the runner is ready and a job of a megabyte
// crosses whole both ways over TLS (the body written straight to the TLS socket).
TEST(RunnerTls, RunnerTrustedByCaFileServesJobs) {
  testing::TempDir dir;
  testing::FakeRunner runner(testing::tls_server_context(dir.path()));
  ASSERT_EQ(runner.url().rfind("https://127.0.0.1:", 0), 0u);
  auto executor = executor_on(runner, kI2i, fields_with_ca(dir.path() + "/cert.pem"), "tls-token");
  ASSERT_TRUE(executor->ready()) << executor->state();
  const std::string image(1024 * 1024 + 5, '\x7f');
  const std::string json = R"({"model_id":"sd/turbo","image":")" + codec::base64_encode(image) + "\"}";
  for (int k = 0; k < 2; ++k) {
    const ExecResult result = run(*executor, job(kI2i, json));
    ASSERT_TRUE(result.ok) << result.error;
    ASSERT_EQ(result.body.files.size(), 1u);
    EXPECT_TRUE(*result.body.files[0].bytes == image);
  }
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].authorization, "Bearer tls-token");
  EXPECT_EQ(requests[0].peer, requests[1].peer) << "the TLS connection was not kept between jobs";
}

// RUN-9: without ca_file the self-signed certificate is not trusted: the runner is not
// ready, its state names the failure, and a job is refused without reaching it.
TEST(RunnerTls, UntrustedCertificateMakesTheRunnerNotReady) {
  testing::TempDir dir;
  testing::FakeRunner runner(testing::tls_server_context(dir.path()));
  auto config = exec::runner_config(kI2i, runner.url(), "", "{}", {std::chrono::seconds(5), std::chrono::seconds(5)});
  ASSERT_TRUE(std::holds_alternative<exec::RunnerConfig>(config)) << std::get<std::string>(config);
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  EXPECT_FALSE(executor.ready());
  EXPECT_NE(executor.state().find("certificate verify failed"), std::string::npos) << executor.state();
  const ExecResult result = run(executor, job(kI2i, R"({"image":")" + codec::base64_encode("IMG") + "\"}"));
  EXPECT_EQ(result.error.rfind("runner not ready: ", 0), 0u) << result.error;
  EXPECT_TRUE(runner.requests().empty());
}

// RUN-9: a ca_file that cannot be loaded, or on an http:// entry, stops the worker at
// start with a message naming the field.
TEST(RunnerTls, BadCaFileStopsTheStart) {
  testing::TempDir dir;
  const exec::RunnerDefaults defaults{std::chrono::seconds(5), std::chrono::seconds(5)};
  const auto error_of = [&](const std::string& url, const std::string& fields) {
    auto config = exec::runner_config(kI2i, url, "", fields, defaults);
    return std::holds_alternative<std::string>(config) ? std::get<std::string>(config) : std::string("accepted");
  };
  const std::string missing = dir.path() + "/missing.pem";
  EXPECT_EQ(error_of("https://127.0.0.1:9", fields_with_ca(missing)).rfind("ca_file " + missing + " cannot be loaded: ", 0),
            0u)
      << error_of("https://127.0.0.1:9", fields_with_ca(missing));
  std::ofstream(dir.path() + "/empty.pem") << "not a certificate\n";
  EXPECT_EQ(error_of("https://127.0.0.1:9", fields_with_ca(dir.path() + "/empty.pem")).rfind("ca_file ", 0), 0u);
  EXPECT_EQ(error_of("http://127.0.0.1:9", fields_with_ca(dir.path() + "/empty.pem")),
            "ca_file is for an https:// url, not http://127.0.0.1:9");
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"ca_file":7})"), "ca_file must be the path of a PEM file");
  EXPECT_EQ(error_of("https://127.0.0.1:9", "{}"), "accepted");
}

// RUN-9: a runner pinned by fingerprint is trusted by that alone: its self-signed
// certificate needs no ca_file, and the fingerprint may be written with colons and in
// upper case.
TEST(RunnerTls, PinnedFingerprintServesJobsWithoutACa) {
  testing::TempDir dir;
  net::TlsIdentity identity;
  testing::FakeRunner runner(testing::tls_server_context(dir.path(), &identity));
  std::string written = "SHA256:";
  for (std::size_t i = 7; i < identity.fingerprint.size(); i += 2) {
    if (i > 7) written += ':';
    written += static_cast<char>(std::toupper(identity.fingerprint[i]));
    written += static_cast<char>(std::toupper(identity.fingerprint[i + 1]));
  }
  auto executor = executor_on(runner, kI2i, R"({"fingerprint":")" + written + "\"}");
  ASSERT_TRUE(executor->ready()) << executor->state();
  const ExecResult result = run(*executor, job(kI2i, R"({"image":")" + codec::base64_encode("IMG") + "\"}"));
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(result.body.files.size(), 1u);
  EXPECT_EQ(*result.body.files[0].bytes, "IMG");
  EXPECT_EQ(runner.requests().size(), 1u);
}

// RUN-9: a runner showing any other certificate than the pinned one is not ready, its
// state names the failure and both fingerprints, and a job is refused without
// reaching it.
TEST(RunnerTls, OtherCertificateThanThePinnedOneMakesTheRunnerNotReady) {
  testing::TempDir dir;
  net::TlsIdentity shown;
  testing::FakeRunner runner(testing::tls_server_context(dir.path(), &shown));
  std::string error;
  const auto other = net::make_self_signed({"localhost"}, error);
  ASSERT_TRUE(other.has_value()) << error;
  auto config = exec::runner_config(kI2i, runner.url(), "", R"({"fingerprint":")" + other->fingerprint + "\"}",
                                    {std::chrono::seconds(5), std::chrono::seconds(5)});
  ASSERT_TRUE(std::holds_alternative<exec::RunnerConfig>(config)) << std::get<std::string>(config);
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  EXPECT_FALSE(executor.ready());
  EXPECT_NE(executor.state().find("certificate verify failed; the runner's certificate is " + shown.fingerprint +
                                  ", not the entry's fingerprint " + other->fingerprint + ")"),
            std::string::npos)
      << executor.state();
  const ExecResult result = run(executor, job(kI2i, R"({"image":")" + codec::base64_encode("IMG") + "\"}"));
  EXPECT_EQ(result.error.rfind("runner not ready: ", 0), 0u) << result.error;
  EXPECT_TRUE(runner.requests().empty());
}

// RUN-9: a fingerprint that is not 32 bytes of hex, one beside a ca_file, or one on an
// http:// entry stops the worker at start with a message naming the field.
TEST(RunnerTls, BadFingerprintStopsTheStart) {
  const exec::RunnerDefaults defaults{std::chrono::seconds(5), std::chrono::seconds(5)};
  const auto error_of = [&](const std::string& url, const std::string& fields) {
    auto config = exec::runner_config(kI2i, url, "", fields, defaults);
    return std::holds_alternative<std::string>(config) ? std::get<std::string>(config) : std::string("accepted");
  };
  const std::string good = "sha256:" + std::string(64, 'a');
  const std::string wrong_form = "fingerprint must be sha256: and 64 hex digits (the runner certificate's SHA-256)";
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"fingerprint":"sha256:abc"})"), wrong_form);
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"fingerprint":"sha256:)" + std::string(64, 'g') + "\"}"), wrong_form);
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"fingerprint":12})"), wrong_form);
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"fingerprint":""})"), wrong_form);
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"ca_file":"/x.pem","fingerprint":")" + good + "\"}"),
            "ca_file and fingerprint do not mix: a runner is pinned or checked by CA");
  EXPECT_EQ(error_of("http://127.0.0.1:9", R"({"fingerprint":")" + good + "\"}"),
            "fingerprint is for an https:// url, not http://127.0.0.1:9");
  EXPECT_EQ(error_of("https://127.0.0.1:9", R"({"fingerprint":")" + good + "\"}"), "accepted");
}

// RUN-9, MODEL-1: ca_file and fingerprint are the runner engine's own fields, so an
// entry that carries one is served without a warning that it is unused.
TEST(RunnerTls, TrustFieldsAreTheRunnersOwn) {
  testing::TempDir dir;
  net::TlsIdentity identity;
  testing::FakeRunner runner(testing::tls_server_context(dir.path(), &identity));
  for (const std::string& trust : {R"("ca_file":")" + dir.path() + "/cert.pem\"",
                                   R"("fingerprint":")" + identity.fingerprint + "\""}) {
    const std::string json = R"([{"pipeline":"image-to-image","model_id":"sd/turbo","url":")" + runner.url() +
                             "\"," + trust + "}]";
    const auto entries = codec::parse_models_json(json, "m.json");
    ASSERT_TRUE(std::holds_alternative<std::vector<codec::ModelEntry>>(entries)) << json;
    std::vector<std::string> warnings;
    auto models = exec::build_router(exec::model_specs(std::get<std::vector<codec::ModelEntry>>(entries)),
                                     exec::EngineOptions{}, [&](const std::string& w) { warnings.push_back(w); });
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<exec::ServedModels>>(models)) << std::get<std::string>(models);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    const ExecResult result = run(*std::get<std::unique_ptr<exec::ServedModels>>(models),
                                  job(kI2i, R"({"image":")" + codec::base64_encode("IMG") + "\"}"));
    EXPECT_TRUE(result.ok) << trust << ": " << result.error;
  }
}

}  // namespace
}  // namespace aipool::runner_test
