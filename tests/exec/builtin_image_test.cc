// Tests of src/exec/builtin_image.h: builtin/bicubic and the image-to-image operators
// (spec/models.md MODEL-2..MODEL-10, MODEL-13), through execute() as the worker calls
// it, and against libtorch directly.
#include "exec/builtin_image.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "exec_test_support.h"

namespace aipool::exec {
namespace {

using exec_test::json_of;
using exec_test::output;
using exec_test::pattern;
using exec_test::png_of;
using exec_test::request;
using exec_test::run;
using exec_test::solid;

const std::string kOps[] = {"builtin/grayscale", "builtin/blur", "builtin/sharpen", "builtin/edges"};

ExecResult upscale(BuiltinImageExecutor& executor, const std::string& fields, const std::string& image) {
  return run(executor, request(Pipeline::kUpscale, "builtin/bicubic", fields, image));
}

ExecResult image_op(BuiltinImageExecutor& executor, const std::string& model, const std::string& fields,
                    const std::string& image) {
  return run(executor, request(Pipeline::kImageToImage, model, fields, image));
}

// MODEL-1: builtin/bicubic serves upscale only; the four operators serve image-to-image only.
TEST(BuiltinImage, ServesOnePipelineEach) {
  BuiltinImageExecutor executor;
  EXPECT_TRUE(executor.supports({Pipeline::kUpscale, "builtin/bicubic"}));
  EXPECT_FALSE(executor.supports({Pipeline::kImageToImage, "builtin/bicubic"}));
  for (const std::string& op : kOps) {
    EXPECT_TRUE(executor.supports({Pipeline::kImageToImage, op}));
    EXPECT_FALSE(executor.supports({Pipeline::kUpscale, op}));
    EXPECT_FALSE(executor.supports({Pipeline::kTextToImage, op}));
  }
  EXPECT_FALSE(executor.supports({Pipeline::kImageToImage, "builtin/other"}));
}

// MODEL-5, MODEL-3: bicubic doubles by default and quadruples with scale 4 (JSON or multipart text); one PNG, seed reported.
TEST(BuiltinImage, BicubicDoublesAndQuadruples) {
  BuiltinImageExecutor executor;
  const std::string png = png_of(pattern(37, 23));
  ExecResult r = upscale(executor, R"("seed":7)", png);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(output(r).width, 74u);
  EXPECT_EQ(output(r).height, 46u);
  EXPECT_EQ(*r.body.json, R"({"images":[{"url":"image-0.png","seed":7,"nsfw":false}]})");
  EXPECT_EQ(r.body.files[0].name, "image-0.png");
  r = upscale(executor, R"("scale":4)", png);
  EXPECT_EQ(output(r).width, 148u);
  EXPECT_EQ(output(r).height, 92u);
  r = upscale(executor, R"("scale":"4")", png);  // a multipart text field (API-3)
  EXPECT_EQ(output(r).width, 148u);
  r = upscale(executor, R"("scale":3)", png);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid request: field 'scale' must be 2 or 4 (got 3)");
  r = upscale(executor, R"("scale":8)", png);
  EXPECT_EQ(r.error, "invalid request: field 'scale' must be an integer from 2 to 4 (got 8)");
}

// MODEL-5: the result is libtorch's antialiased bicubic interpolation, rounded and clamped, pixel for pixel.
TEST(BuiltinImage, BicubicIsLibtorchAntialiasedBicubic) {
  BuiltinImageExecutor executor;
  const media::Image in = pattern(31, 17);
  const media::Image out = executor.apply("builtin/bicubic", in, {});
  const at::Tensor t =
      at::from_blob(const_cast<std::uint8_t*>(in.pixels.data()), {1, 17, 31, 3}, at::kByte).permute({0, 3, 1, 2}).to(at::kFloat);
  const at::Tensor expected = at::_upsample_bicubic2d_aa(t, {34, 62}, false)
                                  .clamp(0, 255)
                                  .round()  // to nearest, ties to even
                                  .to(at::kByte)
                                  .permute({0, 2, 3, 1})
                                  .contiguous();
  ASSERT_EQ(out.pixels.size(), static_cast<std::size_t>(expected.numel()));
  EXPECT_EQ(0, std::memcmp(out.pixels.data(), expected.data_ptr<std::uint8_t>(), out.pixels.size()));
}

// MODEL-4: the same request gives byte-identical PNGs; another seed changes only the reported seed.
TEST(BuiltinImage, DeterministicAndSeedIndependent) {
  BuiltinImageExecutor executor;
  const std::string png = png_of(pattern(40, 30));
  const ExecResult a = upscale(executor, R"("seed":1)", png);
  const ExecResult b = upscale(executor, R"("seed":1)", png);
  const ExecResult c = upscale(executor, R"("seed":2)", png);
  ASSERT_TRUE(a.ok && b.ok && c.ok);
  EXPECT_EQ(*a.body.files[0].bytes, *b.body.files[0].bytes);
  EXPECT_EQ(*a.body.files[0].bytes, *c.body.files[0].bytes);
  EXPECT_EQ(json_of(c)->getArray("images")->getObject(0)->getValue<int>("seed"), 2);
  for (const std::string& op : kOps) {
    const ExecResult x = image_op(executor, op, R"("prompt":"p","seed":1,"strength":0.7)", png);
    const ExecResult y = image_op(executor, op, R"("prompt":"p","seed":1,"strength":0.7)", png);
    const ExecResult z = image_op(executor, op, R"("prompt":"q","seed":9,"strength":0.7)", png);
    ASSERT_TRUE(x.ok && y.ok && z.ok) << op << ": " << x.error;
    EXPECT_EQ(*x.body.files[0].bytes, *y.body.files[0].bytes) << op;
    EXPECT_EQ(*x.body.files[0].bytes, *z.body.files[0].bytes) << op;
  }
}

// MODEL-6: strength 0 returns the input pixels unchanged; the default strength 0.8 changes them.
TEST(BuiltinImage, StrengthZeroReturnsTheInput) {
  BuiltinImageExecutor executor;
  const media::Image in = pattern(33, 21);
  for (const std::string& op : kOps) {
    const ExecResult r = image_op(executor, op, R"("prompt":"p","strength":0)", png_of(in));
    EXPECT_EQ(output(r).pixels, in.pixels) << op;
    const ExecResult d = image_op(executor, op, R"("prompt":"p")", png_of(in));
    EXPECT_EQ(output(d).width, 33u) << op;
    EXPECT_NE(output(d).pixels, in.pixels) << op;
  }
}

// MODEL-6, MODEL-7: strength blends the input with the operator; grayscale is the luma in all channels.
TEST(BuiltinImage, GrayscaleAndStrengthBlend) {
  BuiltinImageExecutor executor;
  const media::Image in = solid(4, 4, 200, 100, 50);
  const double luma = 0.299 * 200 + 0.587 * 100 + 0.114 * 50;  // 124.2
  media::Image out = executor.apply("builtin/grayscale", in, {2, 1.0, 2.0, 1.0});
  for (std::uint8_t v : out.pixels) EXPECT_EQ(v, 124);
  out = executor.apply("builtin/grayscale", in, {2, 0.5, 2.0, 1.0});
  EXPECT_EQ(out.pixels[0], static_cast<int>(std::lround(0.5 * 200 + 0.5 * luma)));
  EXPECT_EQ(out.pixels[1], static_cast<int>(std::lround(0.5 * 100 + 0.5 * luma)));
  EXPECT_EQ(out.pixels[2], static_cast<int>(std::lround(0.5 * 50 + 0.5 * luma)));
}

// MODEL-8: blur keeps a flat image flat, spreads a point by sigma, and refuses a sigma out of range.
TEST(BuiltinImage, BlurSpreadsBySigma) {
  BuiltinImageExecutor executor;
  const media::Image flat = solid(20, 20, 90, 90, 90);
  EXPECT_EQ(executor.apply("builtin/blur", flat, {2, 1.0, 3.0, 1.0}).pixels, flat.pixels);
  media::Image dot = solid(21, 21, 0, 0, 0);
  for (int c = 0; c < 3; ++c) dot.pixels[(10 * 21 + 10) * 3 + c] = 255;
  const media::Image narrow = executor.apply("builtin/blur", dot, {2, 1.0, 0.5, 1.0});
  const media::Image wide = executor.apply("builtin/blur", dot, {2, 1.0, 2.0, 1.0});
  const auto at = [](const media::Image& im, int x, int y) { return im.pixels[(y * 21 + x) * 3]; };
  EXPECT_GT(at(narrow, 10, 10), at(wide, 10, 10));
  EXPECT_EQ(at(narrow, 13, 10), 0);
  EXPECT_GT(at(wide, 13, 10), 0);
  EXPECT_EQ(at(wide, 13, 10), at(wide, 7, 10));  // symmetric
  const ExecResult r = image_op(executor, "builtin/blur", R"("prompt":"p","sigma":100)", png_of(dot));
  EXPECT_EQ(r.error, "invalid request: field 'sigma' must be a number from 0.1 to 64 (got 100)");
  // A radius as large as the image: replicated borders, still the same size.
  EXPECT_EQ(executor.apply("builtin/blur", pattern(5, 3), {2, 1.0, 10.0, 1.0}).width, 5u);
}

// MODEL-9: sharpen keeps a flat image flat and steepens an edge.
TEST(BuiltinImage, SharpenSteepensEdges) {
  BuiltinImageExecutor executor;
  const media::Image flat = solid(12, 12, 128, 128, 128);
  EXPECT_EQ(executor.apply("builtin/sharpen", flat, {2, 1.0, 2.0, 2.0}).pixels, flat.pixels);
  media::Image step = solid(12, 4, 100, 100, 100);
  for (int y = 0; y < 4; ++y) {
    for (int x = 6; x < 12; ++x) {
      for (int c = 0; c < 3; ++c) step.pixels[(y * 12 + x) * 3 + c] = 150;
    }
  }
  const media::Image out = executor.apply("builtin/sharpen", step, {2, 1.0, 2.0, 1.0});
  EXPECT_LT(out.pixels[(1 * 12 + 5) * 3], 100);  // darker just before the edge
  EXPECT_GT(out.pixels[(1 * 12 + 6) * 3], 150);  // lighter just after it
}

// MODEL-10: edges is black on a flat image and 255 across a black-to-white step.
TEST(BuiltinImage, EdgesFindSteps) {
  BuiltinImageExecutor executor;
  EXPECT_EQ(executor.apply("builtin/edges", solid(8, 8, 77, 33, 200), {2, 1.0, 2.0, 1.0}).pixels,
            solid(8, 8, 0, 0, 0).pixels);
  media::Image step = solid(8, 8, 0, 0, 0);
  for (int y = 0; y < 8; ++y) {
    for (int x = 4; x < 8; ++x) {
      for (int c = 0; c < 3; ++c) step.pixels[(y * 8 + x) * 3 + c] = 255;
    }
  }
  const media::Image out = executor.apply("builtin/edges", step, {2, 1.0, 2.0, 1.0});
  EXPECT_EQ(out.pixels[(3 * 8 + 3) * 3], 255);
  EXPECT_EQ(out.pixels[(3 * 8 + 4) * 3 + 1], 255);
  EXPECT_EQ(out.pixels[(3 * 8 + 0) * 3], 0);
  EXPECT_EQ(out.pixels[(3 * 8 + 7) * 3 + 2], 0);
}

// MODEL-3, MODEL-6: num_images_per_prompt images, file image-<k>.png with seed s + k.
TEST(BuiltinImage, ImagesPerPromptAndSeeds) {
  BuiltinImageExecutor executor;
  const ExecResult r = image_op(executor, "builtin/blur", R"("prompt":"p","seed":40,"num_images_per_prompt":3)",
                                png_of(pattern(10, 10)));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.body.files.size(), 3u);
  EXPECT_EQ(r.body.files[2].name, "image-2.png");
  EXPECT_EQ(*r.body.json,
            R"({"images":[{"url":"image-0.png","seed":40,"nsfw":false},{"url":"image-1.png","seed":41,"nsfw":false},)"
            R"({"url":"image-2.png","seed":42,"nsfw":false}]})");
}

// MODEL-2: JPEG input works; undecodable or too large input, and a missing image, fail with the reason.
TEST(BuiltinImage, InputsAreCheckedOnDecode) {
  BuiltinImageExecutor::Options options;
  options.limits.max_input_pixels = 1000;
  BuiltinImageExecutor executor(options);
  const media::Image small = solid(20, 10, 10, 200, 30);
  ExecResult r = upscale(executor, "", media::encode_jpeg(small.pixels.data(), 20, 10));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(output(r).width, 40u);
  r = upscale(executor, "", "PNGDATA");
  EXPECT_EQ(r.error, "invalid request: image: not a PNG or JPEG image");
  r = upscale(executor, "", png_of(pattern(40, 30)));
  EXPECT_EQ(r.error, "invalid request: image: the image is 40x30 = 1200 pixels, above the limit of 1000");
  r = upscale(executor, "", png_of(small).substr(0, 60));
  EXPECT_EQ(r.error.rfind("invalid request: image: truncated PNG: ", 0), 0u) << r.error;
  r = upscale(executor, "", "");
  EXPECT_EQ(r.error, "invalid request: field 'image' is required (base64)");
  r = run(executor, ExecRequest{Key{Pipeline::kUpscale, "builtin/bicubic"}, 1,
                                std::make_shared<const std::string>("[1]"), {}});
  EXPECT_EQ(r.error, "invalid request: not a JSON object");
}

// MODEL-3: an output above the worker's limit fails before it is computed, giving its size.
TEST(BuiltinImage, OutputLimit) {
  BuiltinImageExecutor::Options options;
  options.limits.max_output_pixels = 10000;
  BuiltinImageExecutor executor(options);
  EXPECT_TRUE(upscale(executor, "", png_of(pattern(50, 50))).ok);
  const ExecResult r = upscale(executor, R"("scale":4)", png_of(pattern(50, 50)));
  EXPECT_EQ(r.error, "the output would be 200x200 = 40000 pixels, above this worker's limit of 10000");
}

// MODEL-13: a job sets libtorch's intra-op threads to the cores available in its own thread.
TEST(BuiltinImage, JobThreadsUseTheCores) {
  BuiltinImageExecutor executor;
  int threads = 0;
  std::thread job([&] {
    ASSERT_TRUE(upscale(executor, "", png_of(pattern(8, 8))).ok);
    threads = at::get_num_threads();
  });
  job.join();
  EXPECT_EQ(threads, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace aipool::exec
