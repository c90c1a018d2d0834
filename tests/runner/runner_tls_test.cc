// Tests of an https runner (spec/runners.md RUN-9): the worker checks the server's
// certificate against the system's CAs and the entry's ca_file, and refuses one it
// cannot trust; the stand-in runner (tests/support/fake_runner.h) serves TLS with a
// self-signed certificate made for the test.
#include <gtest/gtest.h>

#include <fstream>

#include "codec/base64.h"
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

}  // namespace
}  // namespace aipool::runner_test
