// Helpers for the tests of the external runner engine: executors on a fake runner
// (tests/support/fake_runner.h), jobs as the orchestrator sends them, and running one.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "exec/runner_executor.h"
#include "fake_runner.h"

namespace aipool::runner_test {

using namespace std::chrono_literals;

// An executor for `key` on `runner`. Each health check has as long as the interval
// (RUN-5): a short one would let a loaded machine's slow answer count as "not ready".
inline std::unique_ptr<exec::RunnerExecutor> executor_on(const testing::FakeRunner& runner, Key key,
                                                         const std::string& fields = "{}",
                                                         const std::string& token = "",
                                                         std::chrono::milliseconds health_interval = 5s) {
  const exec::RunnerDefaults defaults{std::chrono::seconds(30), health_interval};
  auto config = exec::runner_config(key, runner.url(), token, fields, defaults);
  if (auto* error = std::get_if<std::string>(&config)) ADD_FAILURE() << *error;
  return std::make_unique<exec::RunnerExecutor>(std::get<exec::RunnerConfig>(std::move(config)));
}

inline ExecRequest job(Key key, const std::string& json) {
  ExecRequest request;
  request.key = std::move(key);
  request.task = 1;
  request.request_json = std::make_shared<const std::string>(json);
  return request;
}

// Runs one job to its end (bounded: a job that never ends fails the test).
inline ExecResult run(Executor& executor, const ExecRequest& request) {
  auto promise = std::make_shared<std::promise<ExecResult>>();
  std::future<ExecResult> future = promise->get_future();
  executor.execute(request, [promise](ExecResult result) { promise->set_value(std::move(result)); });
  if (future.wait_for(60s) != std::future_status::ready) {
    ADD_FAILURE() << "the job did not end";
    return ExecResult{};
  }
  return future.get();
}

// Waits (bounded) until the executor's readiness is `ready`.
inline bool wait_ready(const exec::RunnerExecutor& executor, bool ready) {
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (executor.ready() != ready) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace aipool::runner_test
