// File: builtin_image.h
// Built-in image models that need no file: classical operators on libtorch, named for
// what they do (spec/models.md MODEL-4..MODEL-10). Engine model ids:
//
//  builtin/bicubic    upscale: width and height times `scale` (2 or 4, default 2),
//                     antialiased bicubic (MODEL-5)
//  builtin/grayscale  image-to-image: luma (MODEL-7)
//  builtin/blur       image-to-image: Gaussian blur, `sigma` pixels (MODEL-8)
//  builtin/sharpen    image-to-image: unsharp mask, `amount` (MODEL-9)
//  builtin/edges      image-to-image: Sobel edge magnitude (MODEL-10)
//
// Image-to-image results blend the input and the operator's output by `strength`
// (MODEL-6). Inputs are PNG or JPEG, decoded once (MODEL-2); outputs are PNG
// (MODEL-3). Deterministic; the seed is reported, not used (MODEL-4).
//
// Contract: thread-safe; no state between jobs. execute() runs the job in the calling
// thread (with libtorch's intra-op threads, MODEL-13) and calls `done` exactly once
// before it returns. This header includes no torch header.
#pragma once

#include <functional>
#include <string_view>

#include "exec/job_request.h"
#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec {

class BuiltinImageExecutor final : public Executor {
 public:
  static constexpr std::string_view kBicubic = "builtin/bicubic";
  static constexpr std::string_view kGrayscale = "builtin/grayscale";
  static constexpr std::string_view kBlur = "builtin/blur";
  static constexpr std::string_view kSharpen = "builtin/sharpen";
  static constexpr std::string_view kEdges = "builtin/edges";

  struct Options {
    ImageLimits limits;
    int cpu_threads = 0;  // libtorch intra-op threads; 0: the cores available (MODEL-13)
    media::PngOptions png;
  };

  // The operator parameters, as read from a request (defaults as in spec/models.md).
  struct Params {
    int scale = 2;          // bicubic: 2 or 4
    double strength = 0.8;  // image-to-image: 0..1
    double sigma = 2.0;     // blur: 0.1..64
    double amount = 1.0;    // sharpen: 0..10
  };

  BuiltinImageExecutor() : BuiltinImageExecutor(Options{}) {}
  explicit BuiltinImageExecutor(Options options);

  // builtin/bicubic on upscale; the other four on image-to-image.
  bool supports(const Key& key) const override;
  void execute(const ExecRequest& request, std::function<void(ExecResult)> done) override;
  // The outcome of `request` (what execute() reports).
  ExecResult run(const ExecRequest& request) const;

  // The operator alone, on decoded 8-bit RGB pixels: no JSON, base64 or codec (the
  // core of run(), for tests and benchmarks). Throws JobError for a bad parameter or
  // an output above the limit. REQUIRES: supports({any pipeline, model}) for model.
  media::Image apply(std::string_view model, const media::Image& rgb, const Params& params) const;

 private:
  Options options_;
};

}  // namespace aipool::exec
