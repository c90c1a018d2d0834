// The external runner engine's own cost (spec/runners.md RUN-2, RUN-3): one 512x512 PNG
// image-to-image job through RunnerExecutor against the same exchange made directly
// with the stand-in runner (tests/support/fake_runner.h), measured in the same run.
//
// runner/direct    a bare Poco client: the multipart body built from the PNG bytes,
//                  POST /image-to-image on a kept-alive connection, the answer read and
//                  its data: URL decoded back to PNG bytes.
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
#include <Poco/StreamCopier.h>
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "codec/base64.h"
#include "exec/runner_executor.h"
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

// One direct exchange; the PNG bytes of the answer.
std::string direct_once(Poco::Net::HTTPClientSession& session) {
  const std::string boundary = "bench-boundary-7f3a";
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
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/image-to-image", Poco::Net::HTTPMessage::HTTP_1_1);
  request.setKeepAlive(true);
  request.set("Authorization", "Bearer bench-token");
  request.setContentType("multipart/form-data; boundary=" + boundary);
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request).write(body.data(), static_cast<std::streamsize>(body.size()));
  Poco::Net::HTTPResponse response;
  std::string answer;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
  const std::size_t start = answer.find("base64,") + 7;
  return aipool::codec::base64_decode(std::string_view(answer).substr(start, answer.find('"', start) - start)).value_or("");
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

void direct(benchmark::State& state) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(runner().port()));
  for (auto _ : state) benchmark::DoNotOptimize(direct_once(session).size());
}
BENCHMARK(direct)->Name("runner/direct")->Unit(benchmark::kMillisecond)->UseRealTime();

void via_executor(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(executor_once());
}
BENCHMARK(via_executor)->Name("runner/executor")->Unit(benchmark::kMillisecond)->UseRealTime();

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

void print_paired(int rounds) {
  if (rounds <= 0) return;
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(runner().port()));
  std::vector<double> wall_ratio, cpu_ratio, direct_wall, executor_wall, direct_cpu, executor_cpu, decode_cpu;
  const std::string_view image_base64 = std::string_view(*job_json()).substr(job_json()->find("\"image\":\"") + 9);
  for (int round = -3; round < rounds; ++round) {  // three warm-up rounds
    const auto d = timed([&] { benchmark::DoNotOptimize(direct_once(session).size()); });
    const auto e = timed([&] { benchmark::DoNotOptimize(executor_once()); });
    const auto b = timed([&] {
      benchmark::DoNotOptimize(aipool::codec::base64_decode(image_base64.substr(0, image_base64.size() - 2)));
    });
    if (round < 0) continue;
    decode_cpu.push_back(b.second);
    wall_ratio.push_back(e.first / d.first);
    cpu_ratio.push_back(e.second / d.second);
    direct_wall.push_back(d.first);
    executor_wall.push_back(e.first);
    direct_cpu.push_back(d.second);
    executor_cpu.push_back(e.second);
  }
  std::printf("\n512x512 PNG image-to-image (%zu bytes), %d alternating rounds, medians:\n", png().size(), rounds);
  std::printf("  wall:        direct %.3f ms, executor %.3f ms, executor / direct = %.3f (%+.1f %%)\n",
              median(direct_wall), median(executor_wall), median(wall_ratio), 100 * (median(wall_ratio) - 1));
  std::printf("  process CPU: direct %.3f ms, executor %.3f ms, executor / direct = %.3f (%+.1f %%)\n",
              median(direct_cpu), median(executor_cpu), median(cpu_ratio), 100 * (median(cpu_ratio) - 1));
  std::printf("  of which the job's image base64 decode alone (the wire form, WIRE-4; a direct client has the bytes): "
              "%.3f ms; the rest %+.1f %%\n",
              median(decode_cpu),
              100 * (median(executor_cpu) - median(decode_cpu) - median(direct_cpu)) / median(direct_cpu));
  const double overhead = median(cpu_ratio) - 1;
  std::printf("  overhead (process CPU) %+.1f %% (goal < 5 %%: %s)\n", 100 * overhead, overhead < 0.05 ? "met" : "MISSED");
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
