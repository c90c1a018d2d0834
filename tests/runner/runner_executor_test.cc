// Tests of the external runner engine (src/exec/runner_executor.h, spec/runners.md)
// against the stand-in runner: requests, answers, errors, readiness, and the worker's
// wiring of entries with a url (src/exec/served_models.h).
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "codec/base64.h"
#include "codec/model_config.h"
#include "exec/served_models.h"
#include "runner_test_support.h"

namespace aipool::runner_test {
namespace {

const Key kT2i{Pipeline::kTextToImage, "sd/turbo"};
const Key kI2i{Pipeline::kImageToImage, "sd/turbo"};

// RUN-1, RUN-2: every request carries the bearer token (health checks too); JSON
// pipelines are POSTed as JSON, file pipelines as multipart with the decoded file.
TEST(RunnerExecutor, RequestsCarryTokenAndShape) {
  testing::FakeRunner runner;
  auto t2i = executor_on(runner, kT2i, "{}", "s3cret-token");
  const std::string t2i_json = R"({"model_id":"sd/turbo","prompt":"a red fox","seed":3})";
  ASSERT_TRUE(run(*t2i, job(kT2i, t2i_json)).ok);
  auto i2i = executor_on(runner, kI2i, "{}", "s3cret-token");
  ASSERT_TRUE(run(*i2i, job(kI2i, R"({"model_id":"sd/turbo","strength":0.5,"image":")" +
                                      codec::base64_encode("PNG-IN") + "\"}")).ok);
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/text-to-image");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, t2i_json);
  EXPECT_EQ(requests[1].path, "/image-to-image");
  EXPECT_EQ(requests[1].content_type.rfind("multipart/form-data; boundary=", 0), 0u);
  ASSERT_EQ(requests[1].parts.size(), 3u);
  EXPECT_EQ(requests[1].parts[1].name, "strength");
  EXPECT_EQ(requests[1].parts[1].content, "0.5");
  EXPECT_EQ(requests[1].parts[2].name, "image");
  EXPECT_EQ(requests[1].parts[2].content, "PNG-IN");
  for (const auto& r : requests) EXPECT_EQ(r.authorization, "Bearer s3cret-token");
  EXPECT_GE(runner.health_checks(), 2);
}

// RUN-2, RUN-3: each pipeline's request reaches its path and its answer comes back,
// data: URLs decoded into files.
TEST(RunnerExecutor, EveryPipelineRoundTrips) {
  testing::FakeRunner runner;
  runner.set_image("PNG-OUT");
  const std::string image = codec::base64_encode("IMG");
  struct Case {
    Pipeline pipeline;
    std::string json;
    std::string answer;
    std::size_t files;
  } cases[] = {
      {Pipeline::kTextToImage, R"({"prompt":"p"})",
       R"({"images":[{"url":"image-0.png","seed":11,"nsfw":false},{"url":"image-1.jpg","seed":12,"nsfw":false}]})", 2},
      {Pipeline::kImageToImage, R"({"image":")" + image + "\"}", R"({"images":[{"url":"image-0.png","seed":5,"nsfw":false}]})", 1},
      {Pipeline::kUpscale, R"({"image":")" + image + "\"}", R"({"images":[{"url":"image-0.png","seed":5,"nsfw":false}]})", 1},
      {Pipeline::kImageToText, R"({"image":")" + image + "\"}", R"({"text":"read 3 bytes"})", 0},
      {Pipeline::kAudioToText, R"({"audio":")" + image + "\"}", R"({"text":"heard 3 bytes","chunks":[]})", 0},
      {Pipeline::kTextToSpeech, R"({"text":"hi"})", R"({"audio":{"url":"audio.wav"}})", 1},
  };
  for (const Case& c : cases) {
    const Key key{c.pipeline, "m"};
    auto executor = executor_on(runner, key);
    const ExecResult result = run(*executor, job(key, c.json));
    ASSERT_TRUE(result.ok) << pipeline_name(c.pipeline) << ": " << result.error;
    EXPECT_EQ(*result.body.json, c.answer) << pipeline_name(c.pipeline);
    EXPECT_EQ(result.body.files.size(), c.files) << pipeline_name(c.pipeline);
  }
  auto t2i = executor_on(runner, kT2i);
  const ExecResult result = run(*t2i, job(kT2i, R"({"prompt":"p"})"));
  ASSERT_EQ(result.body.files.size(), 2u);
  EXPECT_EQ(*result.body.files[0].bytes, "PNG-OUT");
  EXPECT_EQ(result.body.files[1].content_type, "image/jpeg");
}

// RUN-2, RUN-3: a file of megabytes crosses whole both ways: the request body goes
// straight to the socket, the answer is read by its Content-Length, or chunk by chunk
// when the runner sends it chunked; the kept connection then serves the next job.
TEST(RunnerExecutor, LargeFilesCrossWholeSizedOrChunked) {
  testing::FakeRunner runner;
  auto executor = executor_on(runner, kI2i);
  std::string image(3 * 1024 * 1024 + 17, '\0');
  std::uint32_t state = 7;
  for (char& c : image) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  const std::string json = R"({"model_id":"sd/turbo","image":")" + codec::base64_encode(image) + "\"}";
  for (const bool chunked : {false, true, false}) {
    runner.set_chunked(chunked);
    const ExecResult result = run(*executor, job(kI2i, json));
    ASSERT_TRUE(result.ok) << (chunked ? "chunked: " : "sized: ") << result.error;
    ASSERT_EQ(result.body.files.size(), 1u);
    EXPECT_TRUE(*result.body.files[0].bytes == image) << "the answer's image differs (chunked " << chunked << ")";
    EXPECT_EQ(*result.body.json, R"({"images":[{"url":"image-0.png","seed":5,"nsfw":false}]})");
  }
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    ASSERT_EQ(r.parts.size(), 2u);
    EXPECT_TRUE(r.parts[1].content == image) << "the runner received another image";
  }
  EXPECT_EQ(requests[0].peer, requests[2].peer) << "the connection was not kept between jobs";
}

// RUN-4: a kept connection that the runner has closed while idle (as uvicorn does after
// 5 s) is opened again once, for a small job and for one whose body goes straight to
// the socket; the job never sees the stale connection.
TEST(RunnerExecutor, ConnectionTheRunnerClosedWhileIdleIsOpenedAgain) {
  testing::FakeRunner runner(nullptr, 200ms);
  auto executor = executor_on(runner, kI2i);
  const std::string small = R"({"model_id":"sd/turbo","image":")" + codec::base64_encode("IMG") + "\"}";
  const std::string large =
      R"({"model_id":"sd/turbo","image":")" + codec::base64_encode(std::string(1 << 20, 'L')) + "\"}";
  for (const std::string* json : {&small, &large, &small, &large}) {
    const ExecResult result = run(*executor, job(kI2i, *json));
    ASSERT_TRUE(result.ok) << result.error;
    std::this_thread::sleep_for(600ms);  // the runner closes the idle connection meanwhile
  }
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[3].parts.at(1).content.size(), std::size_t{1} << 20);
  for (std::size_t i = 1; i < requests.size(); ++i) EXPECT_NE(requests[i].peer, requests[i - 1].peer);
}

// A runner of raw bytes for heads Poco's server would not write: it answers /health
// with OK, and every other request with `answer` on a connection it keeps open.
class RawRunner {
 public:
  explicit RawRunner(std::string answer)
      : answer_(std::move(answer)), listener_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    thread_ = std::thread([this] {
      while (!stopping_) {
        if (!listener_.poll(Poco::Timespan(50'000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        std::lock_guard lock(mutex_);
        served_.emplace_back([this, socket]() mutable { serve(socket); });
      }
    });
  }
  ~RawRunner() {
    stopping_ = true;
    thread_.join();
    std::lock_guard lock(mutex_);
    for (std::thread& t : served_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(listener_.address().port()); }

 private:
  void serve(Poco::Net::StreamSocket socket) {
    socket.setReceiveTimeout(Poco::Timespan(100'000));
    std::string in;
    char buffer[4096];
    while (!stopping_) {
      int n = 0;
      try {
        n = socket.receiveBytes(buffer, sizeof buffer);
      } catch (const Poco::TimeoutException&) {
        continue;
      } catch (const Poco::Exception&) {
        return;
      }
      if (n <= 0) return;
      in.append(buffer, static_cast<std::size_t>(n));
      const std::size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const bool health = in.rfind("GET /health", 0) == 0;
      in.clear();  // the requests here have no body
      const std::string reply =
          health ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
                 : answer_;
      socket.sendBytes(reply.data(), static_cast<int>(reply.size()));
    }
  }

  std::string answer_;
  Poco::Net::ServerSocket listener_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::thread> served_;
  std::thread thread_;
};

// RUN-4: an answer without a body (204, 304) is an error at once, whatever length its
// head declares: the engine reads no body for it, as HTTP says, and waits for none.
TEST(RunnerExecutor, BodilessAnswerIsAnErrorAtOnce) {
  RawRunner runner("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
  const exec::RunnerDefaults defaults{std::chrono::seconds(5), std::chrono::seconds(5)};
  auto config = exec::runner_config(kT2i, runner.url(), "", "{}", defaults);
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  ASSERT_TRUE(executor.ready()) << executor.state();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run(executor, job(kT2i, "{}")).error, "runner " + runner.url() + ": answered 204");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "the engine waited for a body that never comes";
}

// RUN-4: a 4xx answer is an invalid request with the runner's message; a 5xx is a runner error.
TEST(RunnerExecutor, ErrorAnswers) {
  testing::FakeRunner runner;
  auto executor = executor_on(runner, kT2i);
  runner.set_failure(422, R"({"detail":{"msg":"prompt is too long"}})");
  EXPECT_EQ(run(*executor, job(kT2i, "{}")).error, "invalid request: prompt is too long");
  runner.set_failure(500, R"({"detail":{"msg":"CUDA out of memory"}})");
  EXPECT_EQ(run(*executor, job(kT2i, "{}")).error, "runner " + runner.url() + ": answered 500: CUDA out of memory");
  runner.set_failure(503, "busy");
  EXPECT_EQ(run(*executor, job(kT2i, "{}")).error, "runner " + runner.url() + ": answered 503: busy");
  runner.set_failure(0, "");
  EXPECT_TRUE(run(*executor, job(kT2i, "{}")).ok);
}

// RUN-4: no answer within timeout_s fails the attempt as a runner error.
TEST(RunnerExecutor, SlowAnswerTimesOut) {
  testing::FakeRunner runner;
  auto executor = executor_on(runner, kT2i, R"({"timeout_s":0.2})");
  runner.set_delay(10s);  // the fake runner's own wait ends when it is destroyed
  const ExecResult result = run(*executor, job(kT2i, "{}"));
  EXPECT_EQ(result.error, "runner " + runner.url() + ": no answer within 0.2 s");
}

// RUN-4: a connection that breaks mid-answer, or that cannot be made, is a runner error.
TEST(RunnerExecutor, BrokenConnections) {
  testing::FakeRunner runner;
  auto executor = executor_on(runner, kT2i);
  runner.set_drop(true);
  const ExecResult dropped = run(*executor, job(kT2i, "{}"));
  EXPECT_FALSE(dropped.ok);
  EXPECT_EQ(dropped.error.rfind("runner " + runner.url() + ": the answer broke off", 0), 0u) << dropped.error;
  runner.set_drop(false);
  EXPECT_TRUE(run(*executor, job(kT2i, "{}")).ok);  // a new connection serves the next job
}

// RUN-8: an answer's declared length is not taken on trust: a runner that announces
// 400 MiB and sends 10 bytes makes the worker commit about what came (memory is
// filled a step ahead of the bytes), not the 400 MiB; the attempt fails as cut short.
TEST(RunnerExecutor, AnnouncedLengthIsNotCommittedBeforeTheBytesCome) {
  testing::FakeRunner runner;
  const exec::RunnerDefaults defaults{std::chrono::seconds(30), std::chrono::seconds(5), std::size_t{1} << 30};
  auto config = exec::runner_config(kT2i, runner.url(), "", "{}", defaults);
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  const auto peak_mib = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024;  // KiB -> MiB
  };
  const long before = peak_mib();
  runner.set_drop(true, std::size_t{400} << 20);
  const ExecResult dropped = run(executor, job(kT2i, "{}"));
  EXPECT_EQ(dropped.error, "runner " + runner.url() + ": the answer broke off after 10 of 419430400 bytes");
  EXPECT_LT(peak_mib() - before, 200) << "the peak memory grew by " << peak_mib() - before << " MiB";
}

// RUN-5: while the runner is LOADING or ERROR, jobs are refused at once without reaching
// it; once it is OK again they are served. A runner that does not answer is not ready.
TEST(RunnerExecutor, HealthFlapping) {
  testing::FakeRunner runner;
  runner.set_health("LOADING");
  auto executor = executor_on(runner, kT2i, "{}", "", 1s);
  EXPECT_FALSE(executor->ready());  // the first check was made in the constructor
  const std::string refused = "runner not ready: text-to-image/sd/turbo at " + runner.url() + " is LOADING";
  EXPECT_EQ(run(*executor, job(kT2i, "{}")).error, refused);
  runner.set_health("IDLE");
  ASSERT_TRUE(wait_ready(*executor, true));
  EXPECT_TRUE(run(*executor, job(kT2i, "{}")).ok);
  runner.set_health("ERROR");
  ASSERT_TRUE(wait_ready(*executor, false));
  EXPECT_EQ(run(*executor, job(kT2i, "{}")).error,
            "runner not ready: text-to-image/sd/turbo at " + runner.url() + " is ERROR");
  runner.set_health("OK");
  ASSERT_TRUE(wait_ready(*executor, true));
  EXPECT_TRUE(run(*executor, job(kT2i, "{}")).ok);
  EXPECT_EQ(runner.requests().size(), 2u);  // the refused jobs never reached it
  runner.set_health("");
  ASSERT_TRUE(wait_ready(*executor, false));
  EXPECT_EQ(executor->state(), "answering 503");
}

// RUN-5: a runner nobody listens at is not ready from the start.
TEST(RunnerExecutor, UnreachableRunnerIsNotReady) {
  std::string url;
  {
    testing::FakeRunner gone;
    url = gone.url();
  }
  auto config = exec::runner_config(kT2i, url, "", "{}", {std::chrono::seconds(5), std::chrono::milliseconds(50)});
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  EXPECT_FALSE(executor.ready());
  const ExecResult result = run(executor, job(kT2i, "{}"));
  EXPECT_EQ(result.error.rfind("runner not ready: text-to-image/sd/turbo at " + url + " is unreachable (", 0), 0u)
      << result.error;
}

// RUN-8: an answer larger than the entry's limit fails the attempt as a runner error
// and the connection is dropped; a health answer over 64 KiB makes the runner not ready.
TEST(RunnerExecutor, OversizedAnswersAreRefused) {
  testing::FakeRunner runner;
  const exec::RunnerDefaults defaults{std::chrono::seconds(30), std::chrono::milliseconds(50), 4096};
  auto config = exec::runner_config(kT2i, runner.url(), "", "{}", defaults);
  exec::RunnerExecutor executor(std::get<exec::RunnerConfig>(std::move(config)));
  runner.set_failure(200, R"({"images":[{"url":")" + std::string(5000, 'x') + R"("}]})");
  EXPECT_EQ(run(executor, job(kT2i, "{}")).error,
            "runner " + runner.url() + ": the answer is larger than 4096 bytes");
  runner.set_failure(0, "");
  EXPECT_TRUE(run(executor, job(kT2i, "{}")).ok);  // a new connection serves the next job
  runner.set_health(std::string(70 * 1024, 'A'));
  ASSERT_TRUE(wait_ready(executor, false));
  EXPECT_NE(executor.state().find("larger than 65536 bytes"), std::string::npos) << executor.state();
  runner.set_health("OK");
  ASSERT_TRUE(wait_ready(executor, true));
}

// RUN-8: one event-stream line over 1 MiB fails a streamed job; one just under it passes.
TEST(RunnerExecutor, OversizedStreamLineIsRefused) {
  testing::FakeRunner runner;
  const Key llm{Pipeline::kLlm, "meta/llama"};
  auto executor = executor_on(runner, llm, R"({"runner":"openai"})");
  testing::FakeRunner::Stream stream;
  stream.first_line_bytes = exec::kMaxEventLineBytes + 1;
  runner.set_stream(stream);
  std::vector<std::string> chunks;
  ExecRequest request = job(llm, R"({"messages":[{"role":"user","content":"hi"}],"stream":true})");
  request.stream = [&chunks](std::string_view chunk) {
    chunks.emplace_back(chunk);
    return true;
  };
  const ExecResult refused = run(*executor, request);
  EXPECT_EQ(refused.error, "runner " + runner.url() + ": an event stream line is longer than 1048576 bytes");
  EXPECT_TRUE(chunks.empty());
  stream.first_line_bytes = exec::kMaxEventLineBytes - 16;
  runner.set_stream(stream);
  EXPECT_TRUE(run(*executor, request).ok);
  EXPECT_EQ(chunks.size(), 3u);
}

// RUN-6: an llm job on an OpenAI server: the chat completion, mapped to the llm result.
TEST(RunnerExecutor, OpenAiWhole) {
  testing::FakeRunner runner;
  const Key llm{Pipeline::kLlm, "meta/llama"};
  auto executor = executor_on(runner, llm, R"({"runner":"openai"})", "tok");
  const ExecResult result = run(*executor, job(llm, R"({"model_id":"meta/llama","model":"meta/llama","messages":[{"role":"user","content":"hi"}],"max_tokens":9,"top_k":-1})"));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(*result.body.json,
            R"({"id":"chatcmpl-7","model":"meta/llama","created":1700000000,"usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5},)"
            R"("choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hello there"}}]})");
  const auto requests = runner.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/v1/chat/completions");
  EXPECT_EQ(requests[0].body, R"({"model":"meta/llama","messages":[{"role":"user","content":"hi"}],"max_tokens":9})");
  EXPECT_EQ(requests[0].authorization, "Bearer tok");
}

exec::ServedModels* built(std::variant<std::unique_ptr<exec::ServedModels>, std::string>& result) {
  if (auto* error = std::get_if<std::string>(&result)) ADD_FAILURE() << *error;
  return std::holds_alternative<std::string>(result) ? nullptr : std::get<0>(result).get();
}

// RUN-1: the worker serves an entry with a url through its runner; a wrong url, an
// executor beside a url, or runner openai on another pipeline stop it; no message
// holds the token.
TEST(RunnerExecutor, WorkerEntries) {
  testing::FakeRunner runner;
  const auto specs = [&](const std::string& extra) {
    const std::string json = R"([{"pipeline":"text-to-image","model_id":"sd/turbo","url":")" + runner.url() +
                             R"(","token":"t0ken","timeout_s":30)" + extra + "}]";
    return exec::model_specs(std::get<std::vector<codec::ModelEntry>>(codec::parse_models_json(json, "m.json")));
  };
  std::vector<std::string> warnings;
  const auto warn = [&](const std::string& w) { warnings.push_back(w); };
  auto ok = exec::build_router(specs(R"(,"steps":4)"), exec::EngineOptions{}, warn);
  exec::ServedModels* models = built(ok);
  ASSERT_TRUE(models);
  EXPECT_TRUE(run(*models, job(kT2i, R"({"prompt":"p"})")).ok);
  EXPECT_EQ(runner.requests().at(0).authorization, "Bearer t0ken");
  EXPECT_EQ(warnings, std::vector<std::string>{"aiModels entry 0: field 'steps' is not used by engine external runner"});
  auto bad = exec::build_router(specs(R"(,"runner":"openai")"), exec::EngineOptions{}, warn);
  EXPECT_EQ(std::get<std::string>(bad), "aiModels entry 0: runner \"openai\" serves the llm pipeline only, not text-to-image");
  bad = exec::build_router(specs(R"(,"executor":"test/echo")"), exec::EngineOptions{}, warn);
  EXPECT_EQ(std::get<std::string>(bad), "aiModels entry 0: an entry with a url is served by its runner; leave out \"executor\"");
  auto scheme = exec::build_router(
      exec::model_specs(std::get<std::vector<codec::ModelEntry>>(codec::parse_models_json(
          R"([{"pipeline":"llm","model_id":"m","url":"unix:///run/sock","token":"t0ken"}])", "m.json"))),
      exec::EngineOptions{}, warn);
  EXPECT_EQ(std::get<std::string>(scheme),
            "aiModels entry 0: url must start with http:// or https:// (got \"unix:///run/sock\")");
  for (const std::string& w : warnings) EXPECT_EQ(w.find("t0ken"), std::string::npos);
}

}  // namespace
}  // namespace aipool::runner_test
