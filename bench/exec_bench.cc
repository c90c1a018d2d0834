// File: exec_bench.cc
// aipool-bench-exec: builtin/bicubic (spec/models.md MODEL-5) on a 512x512 RGB image,
// x2 to 1024x1024, through our executor against direct libtorch calls, all in the
// same run with the same libtorch thread count (MODEL-13). bench/README.md has the
// command and the figures.
//
// Families (one iteration = one 512x512 -> 1024x1024 upscale):
//  - bicubic/direct_float: at::_upsample_bicubic2d_aa on a float32 [1,3,512,512]
//    tensor that is ready in memory: the interpolation alone, which is what
//    torch::nn::functional::interpolate(..., bicubic, antialias=true) dispatches to.
//  - bicubic/direct_u8: the same job written directly with libtorch, from 8-bit RGB
//    pixels to 8-bit RGB pixels: from_blob, permute, to(float), the interpolation,
//    clamp, round, to(uint8), permute, contiguous.
//  - bicubic/executor_apply: BuiltinImageExecutor::apply, our executor's core path,
//    also 8-bit RGB in and out (conversion to a tensor, the same interpolation,
//    rounding back), without JSON, base64 or PNG.
//  - bicubic/executor_run: BuiltinImageExecutor::run on the job's request JSON, as
//    the worker calls it: JSON parse, base64 decode, PNG decode (512x512), apply,
//    PNG encode (1024x1024, zlib level 1, the default), result.
//  - codec/png_decode_512, codec/png_encode_1024: the two codec steps of executor_run;
//    codec/png_encode_1024_level6: the encode at zlib's usual level, for comparison.
//  - parts/to_tensor, parts/to_image: the executor's two conversions (8-bit RGB to a
//    float tensor, the 1024x1024 float result back to 8-bit RGB), the difference
//    between executor_apply and direct_float.
//
// Goal: our overhead at most 10 %. The summaries after the runs give executor_apply
// against both direct_float (the operator alone) and direct_u8 (the same job, 8-bit
// in and out), from the medians and minima of the wall time per iteration, and from
// alternating pairs (--pairs=N rounds of the three back to back, median ratios),
// which this shared machine's load cannot skew one way.
//
// Flags besides Google Benchmark's: --threads=N (libtorch intra-op threads for all
// families; default the cores, as the executor uses), --pairs=N (default 31; 0: none).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/base64.h"
#include "exec/builtin_image.h"
#include "exec/torch_support.h"
#include "media/image_codec.h"

namespace aipool {
namespace {

constexpr std::uint32_t kSide = 512;

media::Image test_image() {
  media::Image image;
  image.width = kSide;
  image.height = kSide;
  image.channels = 3;
  image.pixels.resize(std::size_t{kSide} * kSide * 3);
  std::uint64_t state = 42;
  for (std::uint32_t y = 0; y < kSide; ++y) {
    for (std::uint32_t x = 0; x < kSide; ++x) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      std::uint8_t* p = &image.pixels[(std::size_t{y} * kSide + x) * 3];
      p[0] = static_cast<std::uint8_t>(x / 2);
      p[1] = static_cast<std::uint8_t>(y / 2);
      p[2] = static_cast<std::uint8_t>(((x / 16 + y / 16) % 2) * 160 + (state >> 59));  // edges and a little noise
    }
  }
  return image;
}

const media::Image& image() {
  static const media::Image kImage = test_image();
  return kImage;
}

exec::BuiltinImageExecutor::Options& executor_options() {
  static exec::BuiltinImageExecutor::Options kOptions;
  return kOptions;
}

exec::BuiltinImageExecutor& executor() {
  static exec::BuiltinImageExecutor kExecutor(executor_options());
  return kExecutor;
}

void direct_float(benchmark::State& state) {
  const at::Tensor in = at::from_blob(const_cast<std::uint8_t*>(image().pixels.data()), {1, kSide, kSide, 3}, at::kByte)
                            .permute({0, 3, 1, 2})
                            .to(at::kFloat)
                            .contiguous();
  for (auto _ : state) {
    at::Tensor out = at::_upsample_bicubic2d_aa(in, {2 * kSide, 2 * kSide}, false);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
}

void direct_u8(benchmark::State& state) {
  for (auto _ : state) {
    const at::Tensor in = at::from_blob(const_cast<std::uint8_t*>(image().pixels.data()), {1, kSide, kSide, 3}, at::kByte)
                              .permute({0, 3, 1, 2})
                              .to(at::kFloat);
    const at::Tensor out = at::_upsample_bicubic2d_aa(in, {2 * kSide, 2 * kSide}, false)
                               .clamp_(0, 255)
                               .round_()
                               .to(at::kByte)
                               .permute({0, 2, 3, 1})
                               .contiguous();
    benchmark::DoNotOptimize(out.data_ptr<std::uint8_t>());
  }
}

void executor_apply(benchmark::State& state) {
  for (auto _ : state) {
    media::Image out = executor().apply(exec::BuiltinImageExecutor::kBicubic, image(), {});
    benchmark::DoNotOptimize(out.pixels.data());
  }
}

void executor_run(benchmark::State& state) {
  const std::string json = R"({"model_id":"builtin/bicubic","scale":2,"image":")" +
                           codec::base64_encode(media::encode_png(image())) + "\"}";
  const ExecRequest request{Key{Pipeline::kUpscale, std::string(exec::BuiltinImageExecutor::kBicubic)}, 1,
                            std::make_shared<const std::string>(json), nullptr};
  for (auto _ : state) {
    ExecResult result = executor().run(request);
    if (!result.ok) {
      state.SkipWithError(result.error.c_str());
      break;
    }
    benchmark::DoNotOptimize(result.body.files.data());
  }
}

void png_decode_512(benchmark::State& state) {
  const std::string png = media::encode_png(image());
  for (auto _ : state) {
    auto decoded = media::decode_image(png);
    benchmark::DoNotOptimize(&decoded);
  }
}

void png_encode_1024(benchmark::State& state) {
  const media::Image big = executor().apply(exec::BuiltinImageExecutor::kBicubic, image(), {});
  for (auto _ : state) {
    std::string png = media::encode_png(big);
    benchmark::DoNotOptimize(png.data());
  }
}

void png_encode_1024_level6(benchmark::State& state) {
  const media::Image big = executor().apply(exec::BuiltinImageExecutor::kBicubic, image(), {});
  for (auto _ : state) {
    std::string png = media::encode_png(big, {6});
    benchmark::DoNotOptimize(png.data());
  }
}

void to_tensor(benchmark::State& state) {
  for (auto _ : state) {
    at::Tensor t = exec::torch_support::to_tensor(image(), 1.0f);
    benchmark::DoNotOptimize(t.data_ptr<float>());
  }
}

void to_image(benchmark::State& state) {
  const at::Tensor in = exec::torch_support::to_tensor(image(), 1.0f);
  const at::Tensor out = at::_upsample_bicubic2d_aa(in, {2 * kSide, 2 * kSide}, false);
  for (auto _ : state) {
    media::Image rgb = exec::torch_support::to_image(out, 1.0f);
    benchmark::DoNotOptimize(rgb.pixels.data());
  }
}

double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

// Keeps the median and min aggregates (or the samples) of the wall time per iteration.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.run_name.function_name;
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") median_[name] = run.GetAdjustedRealTime();
        if (run.aggregate_name == "min") min_[name] = run.GetAdjustedRealTime();
      } else {
        samples_[name].push_back(run.GetAdjustedRealTime());
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  double ms(const std::string& name, bool median) const {
    const auto& aggregates = median ? median_ : min_;
    if (auto it = aggregates.find(name); it != aggregates.end()) return it->second;
    auto it = samples_.find(name);
    if (it == samples_.end() || it->second.empty()) return -1;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return median ? v[v.size() / 2] : v.front();
  }

 private:
  std::map<std::string, double> median_;
  std::map<std::string, double> min_;
  std::map<std::string, std::vector<double>> samples_;
};

void print_summary(const SummaryReporter& r, bool median) {
  const char* stat = median ? "median" : "min";
  const double pure = r.ms("bicubic/direct_float", median);
  const double u8 = r.ms("bicubic/direct_u8", median);
  const double apply = r.ms("bicubic/executor_apply", median);
  const double full = r.ms("bicubic/executor_run", median);
  const double dec = r.ms("codec/png_decode_512", median);
  const double enc = r.ms("codec/png_encode_1024", median);
  const double to_t = r.ms("parts/to_tensor", median);
  const double to_i = r.ms("parts/to_image", median);
  std::printf("\nSummary (%s wall ms per 512x512 -> 1024x1024 upscale)\n", stat);
  std::printf("  direct_float %.2f  direct_u8 %.2f  executor_apply %.2f  executor_run %.2f  png_decode %.2f  png_encode %.2f\n",
              pure, u8, apply, full, dec, enc);
  if (pure > 0 && apply > 0) {
    const double overhead = apply / pure - 1;
    std::printf("  (%s) executor_apply / direct_float = %.3f: overhead %+.1f %% (goal <= 10 %%: %s)\n", stat,
                apply / pure, 100 * overhead, overhead <= 0.10 ? "met" : "MISSED");
  }
  if (u8 > 0 && apply > 0) std::printf("  (%s) executor_apply / direct_u8 = %.3f\n", stat, apply / u8);
  if (to_t > 0 && to_i > 0) {
    std::printf("  (%s) conversions: to_tensor %.2f ms + to_image %.2f ms = %.2f ms\n", stat, to_t, to_i, to_t + to_i);
  }
  if (full > 0 && apply > 0) {
    std::printf("  (%s) executor_run - executor_apply = %.2f ms (PNG decode + encode %.2f ms, the rest %.2f ms)\n", stat,
                full - apply, dec + enc, full - apply - dec - enc);
  }
}

// Alternating pairs: each round times direct_float, direct_u8 and executor_apply back
// to back, so load from other tenants falls on all three alike; the ratios are the
// medians over the rounds (--pairs=N, default 31; 0 skips).
void print_paired(int rounds) {
  if (rounds <= 0) return;
  const at::Tensor in = at::from_blob(const_cast<std::uint8_t*>(image().pixels.data()), {1, kSide, kSide, 3}, at::kByte)
                            .permute({0, 3, 1, 2})
                            .to(at::kFloat)
                            .contiguous();
  const auto ms = [](auto&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<double> vs_float;
  std::vector<double> vs_u8;
  std::vector<double> apply_ms;
  std::vector<double> float_ms;
  for (int round = -2; round < rounds; ++round) {  // two warm-up rounds
    const double f = ms([&] {
      at::Tensor out = at::_upsample_bicubic2d_aa(in, {2 * kSide, 2 * kSide}, false);
      benchmark::DoNotOptimize(out.data_ptr<float>());
    });
    const double u = ms([&] {
      const at::Tensor x = at::from_blob(const_cast<std::uint8_t*>(image().pixels.data()), {1, kSide, kSide, 3}, at::kByte)
                               .permute({0, 3, 1, 2})
                               .to(at::kFloat);
      const at::Tensor out = at::_upsample_bicubic2d_aa(x, {2 * kSide, 2 * kSide}, false)
                                 .clamp_(0, 255)
                                 .round_()
                                 .to(at::kByte)
                                 .permute({0, 2, 3, 1})
                                 .contiguous();
      benchmark::DoNotOptimize(out.data_ptr<std::uint8_t>());
    });
    const double a = ms([&] {
      media::Image out = executor().apply(exec::BuiltinImageExecutor::kBicubic, image(), {});
      benchmark::DoNotOptimize(out.pixels.data());
    });
    if (round < 0) continue;
    vs_float.push_back(a / f);
    vs_u8.push_back(a / u);
    apply_ms.push_back(a);
    float_ms.push_back(f);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double overhead = median(vs_float) - 1;
  std::printf("\nPaired (%d alternating rounds, medians): direct_float %.2f ms, executor_apply %.2f ms\n", rounds,
              median(float_ms), median(apply_ms));
  std::printf("  executor_apply / direct_float = %.3f: overhead %+.1f %% (goal <= 10 %%: %s)\n", median(vs_float),
              100 * overhead, overhead <= 0.10 ? "met" : "MISSED");
  std::printf("  executor_apply / direct_u8 = %.3f: overhead %+.1f %% (goal <= 10 %%: %s)\n", median(vs_u8),
              100 * (median(vs_u8) - 1), median(vs_u8) - 1 <= 0.10 ? "met" : "MISSED");
}

}  // namespace
}  // namespace aipool

int main(int argc, char** argv) {
  using namespace aipool;
  // --threads=N: libtorch's intra-op threads for every family (default: the cores, as
  // the executor sets by itself, MODEL-13).
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int pairs = 31;
  for (int i = 1; i < argc;) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0 || arg.rfind("--pairs=", 0) == 0) {
      const int value = std::atoi(arg.c_str() + arg.find('=') + 1);
      if (arg[2] == 't') threads = std::max(1, value);
      else pairs = std::max(0, value);
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      continue;
    }
    ++i;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  exec::BuiltinImageExecutor::Options options;
  options.cpu_threads = threads;
  executor_options() = options;
  at::set_num_threads(threads);
  std::printf("libtorch intra-op threads: %d\n", at::get_num_threads());
  const std::pair<const char*, void (*)(benchmark::State&)> families[] = {
      {"bicubic/direct_float", direct_float},     {"bicubic/direct_u8", direct_u8},
      {"bicubic/executor_apply", executor_apply}, {"bicubic/executor_run", executor_run},
      {"codec/png_decode_512", png_decode_512},   {"codec/png_encode_1024", png_encode_1024},
      {"codec/png_encode_1024_level6", png_encode_1024_level6},
      {"parts/to_tensor", to_tensor},             {"parts/to_image", to_image},
  };
  for (const auto& [name, run] : families) {
    benchmark::RegisterBenchmark(name, run)->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", min_of);
  }
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter, true);
  print_summary(reporter, false);
  print_paired(pairs);
  benchmark::Shutdown();
  return 0;
}
