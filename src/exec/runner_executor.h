// File: runner_executor.h
// The external runner engine (spec/runners.md RUN-1..RUN-7): serves one aiModels
// entry that has a `url` by forwarding its jobs to a model server the operator runs,
// go-livepeer's ai-runner container or an OpenAI-compatible server (llm only).
//
//   auto config = aipool::exec::runner_config(entry.key, entry.url, entry.token,
//                                             entry.executor_json, {timeout, interval});
//   if (auto* error = std::get_if<std::string>(&config)) die(where + *error);
//   auto runner = std::make_unique<RunnerExecutor>(std::get<RunnerConfig>(std::move(config)));
//
// Readiness (RUN-5): the constructor asks the runner once, synchronously (so before
// the worker registers), then starts a thread that asks again every health interval.
// While the runner is not ready every job fails at once with
// `runner not ready: <pipeline>/<model> at <url> is <state>`. Each change of state
// is logged once (spdlog: info when ready, warn when not).
//
// Jobs: execute() hands each job to a thread of its own (job_threads.h: an idle one
// when there is one, else a new one), which sends the job to the runner (RUN-2,
// RUN-6), waits for the answer for at most the entry's timeout and calls `done` once:
// the result (RUN-3), `invalid request: <the runner's message>` for a 4xx answer, or
// `runner <url>: <what happened>` (RUN-4). A streamed llm job's chunks go to its
// sink as each arrives; a sink that returns false closes the connection to the
// runner and fails the job (RUN-7). Idle connections are kept alive for the next job,
// a stream's too once its body has ended after `data: [DONE]` (read after `done`).
//
// Contract: thread-safe. The destructor stops the health thread and waits for the
// jobs in flight to call `done` (each ends by its timeout at the latest). The token
// is sent in the Authorization header only: never logged, never in an error text.
// The process ignores SIGPIPE (the worker does), so a runner that closes its end while
// a request is being written gives an error, not a signal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "exec/job_threads.h"
#include "exec/runner_http.h"
#include "exec/runner_wire.h"
#include "seams/executor.h"

namespace aipool::exec {

// The worker's defaults: -runnerTimeout, -runnerHealthInterval, -runnerMaxAnswerBytes.
struct RunnerDefaults {
  std::chrono::milliseconds timeout{600'000};
  std::chrono::milliseconds health_interval{2'000};
  std::size_t max_answer_bytes = std::size_t{256} << 20;
};

struct RunnerConfig {
  Key key;                  // the entry's pipeline and model_id
  runner::Endpoint endpoint;
  std::string token;        // "" : no Authorization header; never log it
  std::string ca_file;      // entry field ca_file: PEM CAs trusted beside the system's (https only)
  std::string fingerprint;  // entry field fingerprint, io::parse_fingerprint's form: the pinned certificate
  runner::Api api = runner::Api::kAiRunner;
  std::chrono::milliseconds timeout{600'000};        // per job (entry field timeout_s)
  std::chrono::milliseconds health_interval{2'000};  // and each check's own limit
  std::size_t max_answer_bytes = std::size_t{256} << 20;  // RUN-8: a whole answer
};

// RUN-8: the longest health answer and event-stream line a runner may send.
inline constexpr std::size_t kMaxHealthAnswerBytes = 64 * 1024;
inline constexpr std::size_t kMaxEventLineBytes = 1 << 20;

// RUN-1: the engine's settings for one entry: its url and token, and the entry fields
// `runner` ("ai-runner" or "openai", the latter for llm only), `timeout_s` (a positive
// number of seconds), and `ca_file` or `fingerprint` (https only) from
// `executor_json`; for an https url the TLS context that checks the server (RUN-9).
// Or the error to stop the worker with.
std::variant<RunnerConfig, std::string> runner_config(const Key& key, std::string_view url, std::string token,
                                                      std::string_view executor_json, const RunnerDefaults& defaults);

class RunnerExecutor final : public Executor {
 public:
  explicit RunnerExecutor(RunnerConfig config);
  ~RunnerExecutor() override;
  RunnerExecutor(const RunnerExecutor&) = delete;
  RunnerExecutor& operator=(const RunnerExecutor&) = delete;

  bool supports(const Key& key) const override { return key == config_.key; }
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;

  // The runner's state from its last health check (RUN-5).
  bool ready() const { return ready_.load(); }
  std::string state() const;
  // Connections to the runner kept for the next job (for tests).
  std::size_t idle_connections() const;

 private:
  void check_health(runner::Connection& connection);
  // RUN-9: for a pinned runner whose certificate was refused, the words that name it
  // beside the pinned one ("; the runner's certificate is ..."); "" otherwise.
  std::string refused_pin() const;
  void poll_health();
  void run(const ExecRequest& request, const std::function<void(ExecResult)>& done);
  ExecResult exchange(runner::Connection& connection, const ExecRequest& request, const runner::Request& sent);
  ExecResult read_stream(runner::Connection& connection, const ExecRequest& request, runner::Clock::time_point deadline);
  std::unique_ptr<runner::Connection> take_connection();
  void keep_connection(std::unique_ptr<runner::Connection> connection);
  ExecResult runner_error(const std::string& what) const;

  const RunnerConfig config_;
  std::atomic<bool> ready_{false};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string state_ = "unknown";
  bool stopping_ = false;
  std::vector<std::unique_ptr<runner::Connection>> idle_;
  std::thread health_thread_;
  JobThreads jobs_;  // last: the first to go, though the destructor stops it already
};

}  // namespace aipool::exec
