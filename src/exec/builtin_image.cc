#include "exec/builtin_image.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <vector>

#include "exec/torch_support.h"

namespace aipool::exec {
namespace {

// Values are kept in 0..255 as float32 while the operators run (they are linear up to
// the final rounding, so the scale does not matter, and it saves two passes).
constexpr float kByteScale = 1.0f;

// A normalised 1-D Gaussian of radius ceil(3 sigma).
at::Tensor gaussian_kernel(double sigma) {
  const auto radius = static_cast<std::int64_t>(std::ceil(3.0 * sigma));
  std::vector<float> weights(static_cast<std::size_t>(2 * radius + 1));
  double sum = 0;
  for (std::int64_t i = -radius; i <= radius; ++i) {
    const double w = std::exp(-static_cast<double>(i * i) / (2.0 * sigma * sigma));
    weights[static_cast<std::size_t>(i + radius)] = static_cast<float>(w);
    sum += w;
  }
  for (float& w : weights) w = static_cast<float>(w / sum);
  return at::tensor(weights, at::kFloat);
}

// Reflected borders where the image is large enough, else replicated ones (MODEL-8).
at::Tensor pad(const at::Tensor& t, std::int64_t r) {
  if (r < t.size(2) && r < t.size(3)) return at::reflection_pad2d(t, {r, r, r, r});
  return at::replication_pad2d(t, {r, r, r, r});
}

// Separable Gaussian blur of [1,C,H,W], same size.
at::Tensor gaussian_blur(const at::Tensor& t, double sigma) {
  const std::int64_t channels = t.size(1);
  const at::Tensor k = gaussian_kernel(sigma);
  const std::int64_t size = k.numel();
  const at::Tensor horizontal = k.view({1, 1, 1, size}).expand({channels, 1, 1, size}).contiguous();
  const at::Tensor vertical = k.view({1, 1, size, 1}).expand({channels, 1, size, 1}).contiguous();
  at::Tensor x = pad(t, size / 2);
  const c10::optional<at::Tensor> no_bias;
  const std::vector<std::int64_t> one{1, 1};
  const std::vector<std::int64_t> zero{0, 0};
  x = at::conv2d(x, horizontal, no_bias, one, zero, one, channels);
  return at::conv2d(x, vertical, no_bias, one, zero, one, channels);
}

// Rec. 601 luma of [1,3,H,W] as [1,1,H,W] (MODEL-7).
at::Tensor luma(const at::Tensor& t) {
  const at::Tensor weights = at::tensor(std::vector<float>{0.299f, 0.587f, 0.114f}, at::kFloat).view({1, 3, 1, 1});
  return at::conv2d(t, weights);
}

// Sobel gradient magnitude of the luma, divided by 4 (MODEL-10).
at::Tensor sobel_edges(const at::Tensor& t) {
  const at::Tensor y = at::replication_pad2d(luma(t), {1, 1, 1, 1});
  const at::Tensor kx =
      at::tensor(std::vector<float>{-1, 0, 1, -2, 0, 2, -1, 0, 1}, at::kFloat).view({1, 1, 3, 3});
  const at::Tensor ky =
      at::tensor(std::vector<float>{-1, -2, -1, 0, 0, 0, 1, 2, 1}, at::kFloat).view({1, 1, 3, 3});
  const at::Tensor gx = at::conv2d(y, kx);
  const at::Tensor gy = at::conv2d(y, ky);
  return (gx * gx + gy * gy).sqrt_().div_(4.0);
}

bool is_image_op(std::string_view model) {
  return model == BuiltinImageExecutor::kGrayscale || model == BuiltinImageExecutor::kBlur ||
         model == BuiltinImageExecutor::kSharpen || model == BuiltinImageExecutor::kEdges;
}

std::string first_line(const char* text) {
  std::string s(text);
  const std::size_t end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

}  // namespace

BuiltinImageExecutor::BuiltinImageExecutor(Options options) : options_(std::move(options)) {
  torch_support::prepare_thread(options_.cpu_threads);
}

bool BuiltinImageExecutor::supports(const Key& key) const {
  if (key.model == kBicubic) return key.pipeline == Pipeline::kUpscale;
  return is_image_op(key.model) && key.pipeline == Pipeline::kImageToImage;
}

media::Image BuiltinImageExecutor::apply(std::string_view model, const media::Image& rgb,
                                         const Params& params) const {
  torch_support::prepare_thread(options_.cpu_threads);
  c10::InferenceMode inference;
  if (model == kBicubic) {
    if (params.scale != 2 && params.scale != 4) {
      throw JobError("invalid request: field 'scale' must be 2 or 4 (got " + std::to_string(params.scale) + ")");
    }
    const std::uint64_t width = std::uint64_t{rgb.width} * static_cast<std::uint64_t>(params.scale);
    const std::uint64_t height = std::uint64_t{rgb.height} * static_cast<std::uint64_t>(params.scale);
    check_output_size(width, height, options_.limits);
    const at::Tensor in = torch_support::to_tensor(rgb, kByteScale);
    const at::Tensor out = at::_upsample_bicubic2d_aa(
        in, {static_cast<std::int64_t>(height), static_cast<std::int64_t>(width)}, false);
    return torch_support::to_image(out, 1.0f);
  }
  if (!is_image_op(model)) throw JobError("builtin: model " + std::string(model) + " is not served");
  if (!(params.strength >= 0.0 && params.strength <= 1.0)) {
    throw JobError("invalid request: field 'strength' must be a number from 0 to 1");
  }
  check_output_size(rgb.width, rgb.height, options_.limits);
  if (params.strength == 0.0) return rgb;  // MODEL-6: the input, unchanged
  const at::Tensor in = torch_support::to_tensor(rgb, kByteScale);
  at::Tensor op;
  if (model == kGrayscale) {
    op = luma(in);
  } else if (model == kBlur) {
    op = gaussian_blur(in, params.sigma);
  } else if (model == kSharpen) {
    op = in + (in - gaussian_blur(in, 1.0)) * params.amount;
  } else {
    op = sobel_edges(in);
  }
  op = op.expand_as(in);
  const at::Tensor out = params.strength == 1.0 ? op : at::lerp(in, op, params.strength);
  return torch_support::to_image(out, 1.0f);
}

ExecResult BuiltinImageExecutor::run(const ExecRequest& request) const {
  try {
    if (!supports(request.key)) {
      return job_failure("builtin: model " + request.key.model + " is not served on " +
                         std::string(pipeline_name(request.key.pipeline)));
    }
    const JobRequest job(request);
    Params params;
    int images = 1;
    if (request.key.model == kBicubic) {
      params.scale = static_cast<int>(job.int_or("scale", 2, 2, 4));
      if (params.scale == 3) throw JobError("invalid request: field 'scale' must be 2 or 4 (got 3)");
    } else {
      params.strength = job.number_or("strength", 0.8, 0.0, 1.0);
      params.sigma = job.number_or("sigma", 2.0, 0.1, 64.0);
      params.amount = job.number_or("amount", 1.0, 0.0, 10.0);
      images = job.num_images();
    }
    const std::int64_t seed = job.seed();
    const media::Image input = job.image(options_.limits);
    const media::Image output = apply(request.key.model, input, params);
    // MODEL-6: the operators ignore the seed, so every requested image is the same one.
    const Payload png = std::make_shared<const std::string>(media::encode_png(output, options_.png));
    return image_result(std::vector<Payload>(static_cast<std::size_t>(images), png), seed);
  } catch (const JobError& e) {
    return job_failure(e.what());
  } catch (const c10::Error& e) {
    return job_failure("builtin: " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return job_failure(std::string("builtin: ") + e.what());
  }
}

void BuiltinImageExecutor::execute(const ExecRequest& request, std::function<void(ExecResult)> done) {
  done(run(request));
}

}  // namespace aipool::exec
