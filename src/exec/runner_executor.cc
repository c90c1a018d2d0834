#include "exec/runner_executor.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <optional>

#include "io/tls_client.h"

namespace aipool::exec {
namespace {

constexpr std::size_t kMaxIdleConnections = 64;
// What may follow a stream's [DONE] before its connection is given up, not kept.
constexpr auto kFinishBodyTime = std::chrono::seconds(2);
constexpr std::size_t kFinishBodyBytes = 64 * 1024;

ExecResult failed(std::string error) {
  ExecResult result;
  result.error = std::move(error);
  return result;
}

// The fields `runner` and `timeout_s` into `config`; an error text, or "".
std::string read_fields(std::string_view executor_json, RunnerConfig& config) {
  Poco::JSON::Object::Ptr fields;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(executor_json.empty() ? "{}" : executor_json));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return "the entry's fields are not a JSON object";
    fields = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return "the entry's fields are not valid JSON: " + e.message();
  }
  const Poco::Dynamic::Var api = fields->get("runner");
  if (!api.isEmpty()) {
    const std::string name = api.isString() ? api.toString() : "";
    if (name == "openai") {
      config.api = runner::Api::kOpenAi;
    } else if (name != "ai-runner") {
      return "runner must be \"ai-runner\" or \"openai\"";
    }
  }
  if (config.api == runner::Api::kOpenAi && config.key.pipeline != Pipeline::kLlm) {
    return "runner \"openai\" serves the llm pipeline only, not " + std::string(pipeline_name(config.key.pipeline));
  }
  const Poco::Dynamic::Var ca_file = fields->get("ca_file");
  if (!ca_file.isEmpty()) {
    if (!ca_file.isString() || ca_file.toString().empty()) return "ca_file must be the path of a PEM file";
    config.ca_file = ca_file.toString();
  }
  const Poco::Dynamic::Var fingerprint = fields->get("fingerprint");
  if (!fingerprint.isEmpty()) {
    std::optional<std::string> parsed;
    if (fingerprint.isString()) parsed = io::parse_fingerprint(fingerprint.toString());
    if (!parsed) return "fingerprint must be sha256: and 64 hex digits (the runner certificate's SHA-256)";
    if (!config.ca_file.empty()) return "ca_file and fingerprint do not mix: a runner is pinned or checked by CA";
    config.fingerprint = std::move(*parsed);
  }
  const Poco::Dynamic::Var timeout = fields->get("timeout_s");
  if (!timeout.isEmpty()) {
    double seconds = 0;
    try {
      seconds = timeout.isNumeric() && !timeout.isBoolean() ? timeout.convert<double>() : 0;
    } catch (const Poco::Exception&) {
      seconds = 0;
    }
    if (!(seconds > 0) || !std::isfinite(seconds) || seconds > 86400) {
      return "timeout_s must be a number of seconds above 0 and at most 86400";
    }
    config.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000)));
  }
  return "";
}

}  // namespace

std::variant<RunnerConfig, std::string> runner_config(const Key& key, std::string_view url, std::string token,
                                                      std::string_view executor_json, const RunnerDefaults& defaults) {
  auto endpoint = runner::parse_endpoint(url);
  if (auto* error = std::get_if<std::string>(&endpoint)) return std::move(*error);
  RunnerConfig config;
  config.key = key;
  config.endpoint = std::get<runner::Endpoint>(std::move(endpoint));
  config.token = std::move(token);
  config.timeout = defaults.timeout;
  config.health_interval = defaults.health_interval;
  config.max_answer_bytes = defaults.max_answer_bytes;
  if (std::string error = read_fields(executor_json, config); !error.empty()) return error;
  if (!config.endpoint.https) {
    if (!config.ca_file.empty()) return "ca_file is for an https:// url, not " + config.endpoint.url;
    if (!config.fingerprint.empty()) return "fingerprint is for an https:// url, not " + config.endpoint.url;
    return config;
  }
  try {  // RUN-9
    config.endpoint.tls = config.fingerprint.empty() ? io::client_tls_context(config.ca_file)
                                                     : io::pinned_tls_context(config.fingerprint);
  } catch (const Poco::Exception& e) {
    if (config.ca_file.empty()) return "no TLS context for " + config.endpoint.url + ": " + e.displayText();
    return "ca_file " + config.ca_file + " cannot be loaded: " + e.displayText();
  }
  return config;
}

RunnerExecutor::RunnerExecutor(RunnerConfig config) : config_(std::move(config)) {
  auto connection = std::make_unique<runner::Connection>(config_.endpoint);
  check_health(*connection);  // RUN-5: before the worker registers
  health_thread_ = std::thread([this, c = std::move(connection)]() mutable {
    std::unique_lock lock(mutex_);
    while (!changed_.wait_for(lock, config_.health_interval, [this] { return stopping_; })) {
      lock.unlock();
      check_health(*c);
      lock.lock();
    }
  });
}

RunnerExecutor::~RunnerExecutor() {
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  health_thread_.join();
  jobs_.stop();  // the jobs in flight end (each by its timeout at the latest) before the rest goes
}

std::string RunnerExecutor::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::size_t RunnerExecutor::idle_connections() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::string RunnerExecutor::refused_pin() const {  // RUN-9
  if (config_.fingerprint.empty() || !config_.endpoint.tls) return "";
  const std::string shown = io::refused_fingerprint(*config_.endpoint.tls);
  if (shown.empty()) return "";
  return "; the runner's certificate is " + shown + ", not the entry's fingerprint " + config_.fingerprint;
}

void RunnerExecutor::check_health(runner::Connection& connection) {
  const auto deadline = runner::Clock::now() + config_.health_interval;
  const bool openai = config_.api == runner::Api::kOpenAi;
  runner::Health health;
  try {
    const int status = connection.send("GET", openai ? "/v1/models" : "/health", config_.token, "", "", deadline);
    const std::string body = connection.read_body(deadline, kMaxHealthAnswerBytes);
    health = openai ? runner::openai_health(status) : runner::ai_runner_health(status, body);
  } catch (const runner::RunnerFailure& e) {
    health = {false, std::string("unreachable (") + e.what() + refused_pin() + ")"};
  }
  if (!connection.reusable()) connection.close();
  std::string before;
  {
    std::lock_guard lock(mutex_);
    before = state_;
    state_ = health.state;
    ready_.store(health.ready);
  }
  if (before == health.state) return;
  if (health.ready) {
    spdlog::info("runner {} at {}: ready ({})", key_name(config_.key), config_.endpoint.url, health.state);
  } else {
    spdlog::warn("runner {} at {}: not ready ({})", key_name(config_.key), config_.endpoint.url, health.state);
  }
}

void RunnerExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  if (!ready_.load()) {  // RUN-5: refused at once, never sent to the runner
    done(failed("runner not ready: " + key_name(config_.key) + " at " + config_.endpoint.url + " is " + state()));
    return;
  }
  auto shared_done = std::make_shared<std::function<void(ExecResult)>>(std::move(done));
  if (!jobs_.run([this, request, shared_done] { run(request, *shared_done); })) {
    // No thread to be had (or the engine is stopping): the job fails, nothing waits for it.
    (*shared_done)(failed("runner job not started: no thread for it"));
  }
}

ExecResult RunnerExecutor::runner_error(const std::string& what) const {
  return failed("runner " + config_.endpoint.url + ": " + what);
}

void RunnerExecutor::run(const ExecRequest& request, const std::function<void(ExecResult)>& done) {
  if (!request.request_json) return done(failed("invalid request: empty request"));
  auto built = config_.api == runner::Api::kOpenAi ? runner::openai_request(config_.key.model, *request.request_json)
                                                    : runner::ai_runner_request(config_.key.pipeline, *request.request_json);
  if (auto* error = std::get_if<std::string>(&built)) return done(failed(std::move(*error)));
  std::unique_ptr<runner::Connection> connection = take_connection();
  ExecResult result;
  try {
    result = exchange(*connection, request, std::get<runner::Request>(built));
  } catch (const runner::RunnerFailure& e) {
    result = runner_error(e.what());
  }
  done(std::move(result));
  // A stream that ended with [DONE] has the body's end still to read: read after `done`,
  // so that a runner slow to end its answer never holds the job up.
  if (connection->mid_body()) connection->finish_body(runner::Clock::now() + kFinishBodyTime, kFinishBodyBytes);
  if (connection->reusable()) keep_connection(std::move(connection));
}

ExecResult RunnerExecutor::exchange(runner::Connection& connection, const ExecRequest& request,
                                    const runner::Request& sent) {
  const auto deadline = runner::Clock::now() + config_.timeout;
  const int status = connection.send("POST", sent.path, config_.token, sent.content_type, sent.body, deadline);
  const bool event_stream = connection.content_type().rfind("text/event-stream", 0) == 0;
  if (status == 200 && event_stream) {
    if (!request.stream) {
      connection.close();
      return runner_error("answered an event stream to a job that is not streamed");
    }
    return read_stream(connection, request, deadline);
  }
  const std::string body = connection.read_body(deadline, config_.max_answer_bytes);
  if (status >= 400 && status < 500) return failed("invalid request: " + runner::error_message(body));  // RUN-4
  if (status != 200) {
    const std::string message = runner::error_message(body);
    return runner_error("answered " + std::to_string(status) + (message.empty() ? "" : ": " + message));
  }
  runner::Answer answer = config_.api == runner::Api::kOpenAi ? runner::openai_result(config_.key.model, body)
                                                              : runner::ai_runner_result(config_.key.pipeline, body);
  if (auto* error = std::get_if<std::string>(&answer)) return runner_error(*error);
  ExecResult result = std::get<ExecResult>(std::move(answer));
  if (request.stream) {  // a whole answer to a streamed job: one chunk is not what the client expects
    return runner_error("answered whole to a streamed job (send \"stream\": true to the runner)");
  }
  return result;
}

// RUN-6, RUN-7: each `data:` line one chunk, `[DONE]` the end.
ExecResult RunnerExecutor::read_stream(runner::Connection& connection, const ExecRequest& request,
                                       runner::Clock::time_point deadline) {
  const bool ai_runner = config_.api == runner::Api::kAiRunner;
  bool last_finishes = false;
  std::string line;
  while (connection.read_line(line, deadline, kMaxEventLineBytes)) {
    const runner::StreamLine read = runner::read_stream_line(line);
    if (read.kind == runner::StreamLine::Kind::kOther) continue;
    if (read.kind == runner::StreamLine::Kind::kDone) {  // run() reads the body's end, to keep the connection
      ExecResult result;
      result.ok = true;
      return result;
    }
    if (!runner::chunk_is_object(read.chunk)) {
      connection.close();
      return runner_error("a stream chunk is not a JSON object");
    }
    last_finishes = ai_runner && runner::chunk_finishes(read.chunk);
    if (!request.stream(read.chunk)) {
      connection.close();  // RUN-7: the runner learns that its client has gone
      return runner_error("stream stopped: the client has gone");
    }
  }
  connection.close();
  if (last_finishes) {  // an ai-runner stream that ends after its finishing chunk
    ExecResult result;
    result.ok = true;
    return result;
  }
  return runner_error("the stream ended without [DONE]");
}

std::unique_ptr<runner::Connection> RunnerExecutor::take_connection() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<runner::Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  return std::make_unique<runner::Connection>(config_.endpoint);
}

void RunnerExecutor::keep_connection(std::unique_ptr<runner::Connection> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
}

}  // namespace aipool::exec
