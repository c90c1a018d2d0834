// The external runner engine's own cost (spec/runners.md RUN-2, RUN-3): one 512x512 PNG
// image-to-image job through RunnerExecutor against the same exchange made directly
// with the stand-in runner (tests/support/fake_runner.h), measured in the same run.
//
// runner/direct    a bare Poco client: the multipart body built from the PNG bytes,
//                  POST /image-to-image on a kept-alive connection, the answer read by its
//                  Content-Length into one string and its data: URL decoded back to PNG bytes.
// runner/executor  the job as the worker gets it (JSON, the image in base64) through
//                  RunnerExecutor::execute to `done`: request JSON read, image decoded,
//                  multipart built, the same POST, the answer's data: URL decoded into
//                  the result file image-0.png.
// After the runs, alternating rounds (--pairs=N, default 41) time both back to back and
// print the median ratio executor/direct; the goal is under 5 % overhead.
#include <malloc.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <istream>
#include <string>
#include <vector>

#include "codec/base64.h"
#include "exec/runner_executor.h"
#include "exec/runner_wire.h"
#include "io/http_body.h"
#include "fake_runner.h"
#include "media/image_codec.h"

namespace {

using aipool::Key;
using aipool::Pipeline;

constexpr std::uint32_t kSide = 512;

// A photo-like 512x512 RGB PNG: gradients with a little deterministic noise.
const std::string& png() {
  static const std::string bytes = [] {
    std::vector<std::uint8_t> pixels(std::size_t{kSide} * kSide * 3);
    std::uint32_t state = 12345;
    for (std::size_t i = 0; i < pixels.size(); ++i) {
      state = state * 1664525u + 1013904223u;
      const std::size_t pixel = i / 3;
      const int base = static_cast<int>((pixel % kSide + pixel / kSide + (i % 3) * 60) % 256);
      pixels[i] = static_cast<std::uint8_t>(std::clamp(base + static_cast<int>(state >> 28) - 8, 0, 255));
    }
    return aipool::media::encode_png(pixels.data(), kSide, kSide, 3);
  }();
  return bytes;
}

// Made in main before the runs and destroyed there after them, executor first.
std::unique_ptr<aipool::testing::FakeRunner> the_runner;
std::unique_ptr<aipool::exec::RunnerExecutor> the_executor;

aipool::testing::FakeRunner& runner() { return *the_runner; }
aipool::exec::RunnerExecutor& executor() { return *the_executor; }

const aipool::Payload& job_json() {
  static const aipool::Payload json = std::make_shared<const std::string>(
      R"({"model_id":"sd/turbo","prompt":"a watercolour fox","strength":0.8,"image":")" +
      aipool::codec::base64_encode(png()) + "\"}");
  return json;
}

// How a direct client moves the bodies: through Poco's streams (4 KiB at a time), or
// straight between memory and the socket as the engine does (io/http_body.h).
enum class Client { kPocoStreams, kLean };

const char kBoundary[] = "bench-boundary-7f3a";

// The direct client's multipart body, made from the PNG bytes.
std::string direct_body() {
  const std::string boundary = kBoundary;
  std::string body;
  body.reserve(png().size() + 512);
  const auto field = [&](const char* name, const std::string& value) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  };
  field("model_id", "sd/turbo");
  field("prompt", "a watercolour fox");
  field("strength", "0.8");
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"image\"\r\nContent-Type: "
          "application/octet-stream\r\n\r\n";
  body += png();
  body += "\r\n--" + boundary + "--\r\n";
  return body;
}

// The direct client's reading of the answer: its data: URL decoded to PNG bytes.
std::string direct_image(const std::string& answer) {
  const std::size_t start = answer.find("base64,") + 7;
  return aipool::codec::base64_decode(std::string_view(answer).substr(start, answer.find('"', start) - start)).value_or("");
}

// One direct exchange; the PNG bytes of the answer.
std::string direct_once(Poco::Net::HTTPClientSession& session, Client client) {
  const std::string body = direct_body();
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/image-to-image", Poco::Net::HTTPMessage::HTTP_1_1);
  request.setKeepAlive(true);
  request.set("Authorization", "Bearer bench-token");
  request.setContentType(std::string("multipart/form-data; boundary=") + kBoundary);
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& out = session.sendRequest(request);
  session.socket().setNoDelay(true);
  if (client == Client::kLean) {
    out.flush();
    aipool::io::write_body(session, body.data(), body.size());
  } else {
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  // The answer read by its Content-Length into memory sized once.
  std::string answer(static_cast<std::size_t>(std::max<std::streamsize>(response.getContentLength(), 0)), '\0');
  if (client == Client::kLean) {
    answer.resize(aipool::io::read_body_exactly(session, answer.data(), answer.size()));
  } else {
    in.read(answer.data(), static_cast<std::streamsize>(answer.size()));
    answer.resize(static_cast<std::size_t>(in.gcount()));
  }
  return direct_image(answer);
}

std::size_t executor_once() {
  aipool::ExecRequest request;
  request.key = {Pipeline::kImageToImage, "sd/turbo"};
  request.request_json = job_json();
  std::promise<aipool::ExecResult> promise;
  executor().execute(request, [&](aipool::ExecResult result) { promise.set_value(std::move(result)); });
  const aipool::ExecResult result = promise.get_future().get();
  if (!result.ok || result.body.files.size() != 1) {
    std::fprintf(stderr, "runner job failed: %s\n", result.error.c_str());
    std::exit(1);
  }
  return result.body.files[0].bytes->size();
}

void direct(benchmark::State& state, Client client) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(runner().port()));
  for (auto _ : state) benchmark::DoNotOptimize(direct_once(session, client).size());
}
BENCHMARK_CAPTURE(direct, lean, Client::kLean)->Name("runner/direct")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(direct, poco_streams, Client::kPocoStreams)
    ->Name("runner/direct_poco_streams")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void via_executor(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(executor_once());
}
BENCHMARK(via_executor)->Name("runner/executor")->Unit(benchmark::kMillisecond)->UseRealTime();

// The engine's two pure steps alone, on the same job and answer: the multipart body
// built from the job's JSON (the image decoded from base64 into it), and the answer's
// data: URL decoded into the result file.
void build_request(benchmark::State& state) {
  for (auto _ : state) {
    auto built = aipool::exec::runner::ai_runner_request(Pipeline::kImageToImage, *job_json());
    benchmark::DoNotOptimize(std::get<aipool::exec::runner::Request>(built).body.size());
  }
}
BENCHMARK(build_request)->Name("runner/build_request")->Unit(benchmark::kMicrosecond);

const std::string& answer_json() {
  static const std::string answer =
      R"({"images":[{"url":"data:image/png;base64,)" + aipool::codec::base64_encode(png()) + R"(","seed":5,"nsfw":false}]})";
  return answer;
}

void read_answer(benchmark::State& state) {
  for (auto _ : state) {
    auto read = aipool::exec::runner::ai_runner_result(Pipeline::kImageToImage, answer_json());
    benchmark::DoNotOptimize(std::get<aipool::ExecResult>(read).body.files.size());
  }
}
BENCHMARK(read_answer)->Name("runner/read_answer")->Unit(benchmark::kMicrosecond);

// The direct client's counterparts of the two steps, for the difference.
void direct_build_body(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(direct_body().size());
}
BENCHMARK(direct_build_body)->Name("runner/direct_build_body")->Unit(benchmark::kMicrosecond);

void direct_read_answer(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(direct_image(answer_json()).size());
}
BENCHMARK(direct_read_answer)->Name("runner/direct_read_answer")->Unit(benchmark::kMicrosecond);

// Wall and process CPU time (all threads, the stand-in runner's included) of `f`, in ms.
template <typename F>
std::pair<double, double> timed(F&& f) {
  const auto cpu_now = [] {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
  };
  const double cpu = cpu_now();
  const auto start = std::chrono::steady_clock::now();
  f();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return {wall, cpu_now() - cpu};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Series {
  std::vector<double> wall, cpu;
};

// The medians of one side against a baseline: each round's ratio, then the median.
void print_against(const char* what, const Series& side, const Series& base) {
  std::vector<double> wall_ratio, cpu_ratio, cpu_extra_us;
  for (std::size_t i = 0; i < side.wall.size(); ++i) {
    wall_ratio.push_back(side.wall[i] / base.wall[i]);
    cpu_ratio.push_back(side.cpu[i] / base.cpu[i]);
    cpu_extra_us.push_back(1000 * (side.cpu[i] - base.cpu[i]));
  }
  std::printf("  %s: wall %.3f (%+.1f %%), process CPU %.3f (%+.1f %%, %+.0f us a job)\n", what, median(wall_ratio),
              100 * (median(wall_ratio) - 1), median(cpu_ratio), 100 * (median(cpu_ratio) - 1), median(cpu_extra_us));
}

// Rounds of the three exchanges back to back, in an order that turns each round, so
// that none always runs first (or last) on a cache or a core the others warmed.
void print_paired(int rounds) {
  if (rounds <= 0) return;
  Poco::Net::HTTPClientSession lean_session("127.0.0.1", static_cast<Poco::UInt16>(runner().port()));
  Poco::Net::HTTPClientSession poco_session("127.0.0.1", static_cast<Poco::UInt16>(runner().port()));
  Series lean, poco, engine;
  std::vector<double> decode_cpu;
  const std::string_view image_base64 = std::string_view(*job_json()).substr(job_json()->find("\"image\":\"") + 9);
  for (int round = -3; round < rounds; ++round) {  // three warm-up rounds
    std::pair<double, double> times[3];
    for (int k = 0; k < 3; ++k) {
      const int which = (k + round + 3) % 3;
      times[which] = timed([&] {
        if (which == 0) benchmark::DoNotOptimize(direct_once(lean_session, Client::kLean).size());
        if (which == 1) benchmark::DoNotOptimize(direct_once(poco_session, Client::kPocoStreams).size());
        if (which == 2) benchmark::DoNotOptimize(executor_once());
      });
    }
    const auto b = timed([&] {
      benchmark::DoNotOptimize(aipool::codec::base64_decode(image_base64.substr(0, image_base64.size() - 2)));
    });
    if (round < 0) continue;
    decode_cpu.push_back(b.second);
    for (auto [series, t] : {std::pair{&lean, times[0]}, std::pair{&poco, times[1]}, std::pair{&engine, times[2]}}) {
      series->wall.push_back(t.first);
      series->cpu.push_back(t.second);
    }
  }
  std::printf("\n512x512 PNG image-to-image (%zu bytes), %d rounds, medians:\n", png().size(), rounds);
  std::printf("  wall ms:        direct (lean) %.3f, direct (Poco streams) %.3f, executor %.3f\n", median(lean.wall),
              median(poco.wall), median(engine.wall));
  std::printf("  process CPU ms: direct (lean) %.3f, direct (Poco streams) %.3f, executor %.3f\n", median(lean.cpu),
              median(poco.cpu), median(engine.cpu));
  print_against("executor / direct (lean)", engine, lean);
  print_against("executor / direct (Poco streams)", engine, poco);
  std::printf("  the job's image base64 decode alone (the wire form, WIRE-4; a direct client has the bytes): %.3f ms\n",
              median(decode_cpu));
  std::vector<double> wall_ratio, cpu_ratio;
  for (std::size_t i = 0; i < engine.wall.size(); ++i) {
    wall_ratio.push_back(engine.wall[i] / lean.wall[i]);
    cpu_ratio.push_back(engine.cpu[i] / lean.cpu[i]);
  }
  const double overhead = std::max(median(wall_ratio), median(cpu_ratio)) - 1;
  std::printf("  overhead against the lean direct client, the larger of wall and CPU: %+.1f %% (goal < 5 %%: %s)\n",
              100 * overhead, overhead < 0.05 ? "met" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 41;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--pairs=", 8) == 0) {
      pairs = std::atoi(argv[i] + 8);
    } else {
      args.push_back(argv[i]);
    }
  }
  // As the worker does (net/process_memory.h, keep_large_buffers): megabyte buffers
  // come from the heap and stay there, instead of being mapped and unmapped per job.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  the_runner = std::make_unique<aipool::testing::FakeRunner>();
  auto config = aipool::exec::runner_config({Pipeline::kImageToImage, "sd/turbo"}, the_runner->url(), "bench-token",
                                            "{}", {std::chrono::seconds(60), std::chrono::seconds(2)});
  the_executor = std::make_unique<aipool::exec::RunnerExecutor>(std::get<aipool::exec::RunnerConfig>(std::move(config)));
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks();
  print_paired(pairs);
  benchmark::Shutdown();
  the_executor.reset();
  the_runner.reset();
  return 0;
}
