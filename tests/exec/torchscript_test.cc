// Tests of src/exec/torchscript.h, the TorchScript executor (spec/models.md MODEL-12..
// MODEL-18). Every module is built here with torch::jit::Module::define and saved to a
// temporary directory: nothing is downloaded or checked in. Debian's libtorch has no
// CUDA, so only the CPU path runs here (MODEL-13's GPU path is not tested).
#include "exec/torchscript.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "exec/engines.h"
#include "exec_test_support.h"

namespace aipool::exec {
namespace {

using exec_test::json_of;
using exec_test::output;
using exec_test::pattern;
using exec_test::png_of;
using exec_test::request;
using exec_test::run;

const char* const kImageArgs = "self, image: Tensor, prompt: str, seed: int, params: Dict[str, float]";

std::string model_dir() {
  static const std::string dir = [] {
    const std::filesystem::path path =
        std::filesystem::path(::testing::TempDir()) / ("aipool-ts-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path.string();
  }();
  return dir;
}

// Saves a module whose only method is `source` as <model_dir>/<name>.pt.
std::string save_module(const std::string& name, const std::string& source) {
  torch::jit::Module module("m");
  module.define(source);
  const std::string path = model_dir() + "/" + name + ".pt";
  module.save(path);
  return path;
}

std::string image_module(const std::string& name, const std::string& body, const std::string& result = "Tensor") {
  return save_module(name, std::string("def forward(") + kImageArgs + ") -> " + result + ":\n    " + body + "\n");
}

TorchScriptExecutor::Options options_for(Pipeline pipeline, const std::string& file) {
  TorchScriptExecutor::Options options;
  options.pipeline = pipeline;
  options.file = file;
  return options;
}

ExecResult i2i(TorchScriptExecutor& executor, const std::string& fields, const media::Image& image) {
  return run(executor, request(Pipeline::kImageToImage, "torchscript", fields, png_of(image)));
}

// MODEL-12, MODEL-14, MODEL-3: a warm module is loaded at start and runs image-to-image: [0,1] in, [0,1] out, PNG back.
TEST(TorchScript, WarmModuleRunsImageToImage) {
  TorchScriptExecutor executor(options_for(Pipeline::kImageToImage, image_module("invert", "return 1.0 - image")));
  EXPECT_FALSE(executor.loaded());
  EXPECT_EQ(executor.load(), "");
  EXPECT_TRUE(executor.loaded());
  EXPECT_TRUE(executor.supports({Pipeline::kImageToImage, "torchscript"}));
  EXPECT_FALSE(executor.supports({Pipeline::kUpscale, "torchscript"}));
  const media::Image in = pattern(30, 20);
  const ExecResult r = i2i(executor, R"("prompt":"p","seed":3)", in);
  ASSERT_TRUE(r.ok) << r.error;
  const media::Image out = output(r);
  ASSERT_EQ(out.pixels.size(), in.pixels.size());
  for (std::size_t i = 0; i < in.pixels.size(); ++i) ASSERT_EQ(out.pixels[i], 255 - in.pixels[i]) << i;
  EXPECT_EQ(*r.body.json, R"({"images":[{"url":"image-0.png","seed":3,"nsfw":false}]})");
}

// MODEL-12: a cold module loads at its first job, once, while several jobs arrive at the same time.
TEST(TorchScript, ColdModuleLoadsAtFirstUse) {
  TorchScriptExecutor executor(options_for(Pipeline::kImageToImage, image_module("cold", "return image")));
  EXPECT_FALSE(executor.loaded());
  std::atomic<int> ok{0};
  std::vector<std::thread> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.emplace_back([&] {
      if (i2i(executor, R"("prompt":"p")", pattern(16, 16)).ok) ++ok;
    });
  }
  for (std::thread& t : jobs) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_TRUE(executor.loaded());
  EXPECT_EQ(executor.load(), "");
}

// MODEL-14: params carries the numeric fields (text numbers and booleans too) but not seed; image k gets seed s + k.
TEST(TorchScript, ParamsAndSeeds) {
  TorchScriptExecutor params(options_for(
      Pipeline::kImageToImage,
      image_module("params", "return torch.full_like(image, (params['scale'] + params['safety_check'] + "
                             "float(len(params))) / 255.0)")));
  ExecResult r = i2i(params, R"("prompt":"p","seed":1,"strength":0.5,"num_inference_steps":10,)"
                             R"("safety_check":true,"scale":"4")",
                     pattern(8, 8));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(output(r).pixels[0], 4 + 1 + 4);  // scale, safety_check, {num_inference_steps, safety_check, scale, strength}

  TorchScriptExecutor seeds(
      options_for(Pipeline::kImageToImage, image_module("seeds", "return torch.full_like(image, float(seed % 256) / 255.0)")));
  r = i2i(seeds, R"("prompt":"p","seed":10,"num_images_per_prompt":3)", pattern(8, 8));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.body.files.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(output(r, k).pixels[5], 10 + k);
  EXPECT_EQ(json_of(r)->getArray("images")->getObject(2)->getValue<int>("seed"), 12);
}

// MODEL-14: upscale runs once and may change the size; a one-channel result is grey; extra arguments with defaults are fine.
TEST(TorchScript, UpscaleGreyAndExtraArguments) {
  const std::string file = save_module(
      "up", std::string("def forward(") + kImageArgs +
                ", factor: int = 2) -> Tensor:\n"
                "    return image.mean(1, keepdim=True).repeat_interleave(factor, 2).repeat_interleave(factor, 3)\n");
  TorchScriptExecutor executor(options_for(Pipeline::kUpscale, file));
  ASSERT_EQ(executor.load(), "");
  const ExecResult r = run(executor, request(Pipeline::kUpscale, "torchscript", "", png_of(exec_test::solid(5, 4, 30, 60, 90))));
  ASSERT_TRUE(r.ok) << r.error;
  const media::Image out = output(r);
  EXPECT_EQ(out.width, 10u);
  EXPECT_EQ(out.height, 8u);
  EXPECT_EQ(out.pixels[0], 60);
  EXPECT_EQ(out.pixels[1], 60);
  EXPECT_EQ(r.body.files.size(), 1u);
}

// MODEL-15: text-to-image gets prompt, seed, width and height, once per image.
TEST(TorchScript, TextToImage) {
  const std::string file = save_module(
      "t2i",
      "def forward(self, prompt: str, seed: int, width: int, height: int, params: Dict[str, float]) -> Tensor:\n"
      "    return torch.full([1, 3, height, width], float(len(prompt) + seed) / 255.0)\n");
  TorchScriptExecutor executor(options_for(Pipeline::kTextToImage, file));
  const ExecResult r = run(executor, request(Pipeline::kTextToImage, "torchscript",
                                             R"("prompt":"abc","seed":20,"width":24,"height":16,"num_images_per_prompt":2)"));
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_EQ(r.body.files.size(), 2u);
  EXPECT_EQ(output(r, 0).width, 24u);
  EXPECT_EQ(output(r, 0).height, 16u);
  EXPECT_EQ(output(r, 0).pixels[0], 23);
  EXPECT_EQ(output(r, 1).pixels[0], 24);
}

// MODEL-16: image-to-text gets the image and the prompt and answers {"text": ...}.
TEST(TorchScript, ImageToText) {
  const std::string file = save_module(
      "i2t", "def forward(self, image: Tensor, prompt: str) -> str:\n"
             "    return str(image.size(2)) + 'x' + str(image.size(3)) + ' ' + prompt\n");
  TorchScriptExecutor executor(options_for(Pipeline::kImageToText, file));
  const ExecResult r = run(executor, request(Pipeline::kImageToText, "torchscript", R"("prompt":"what")", png_of(pattern(7, 5))));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(*r.body.json, R"({"text":"5x7 what"})");
}

// MODEL-17: audio-to-text gets the decoder's 16 kHz samples and answers text and one chunk; without a decoder it says so.
TEST(TorchScript, AudioToText) {
  const std::string file = save_module("a2t", "def forward(self, audio: Tensor) -> str:\n    return str(audio.size(0))\n");
  TorchScriptExecutor::Options options = options_for(Pipeline::kAudioToText, file);
  TorchScriptExecutor bare(options);
  const std::string audio = "\"audio\":\"" + codec::base64_encode("RIFF-fake") + "\"";
  ExecResult r = run(bare, request(Pipeline::kAudioToText, "torchscript", audio));
  EXPECT_EQ(r.error, "torchscript: audio-to-text needs an audio decoder, and this worker has none");
  options.audio_decoder = [](std::string_view bytes) -> std::variant<std::vector<float>, std::string> {
    if (bytes == "bad") return std::string("not a WAV file");
    return std::vector<float>(24000, 0.5f);
  };
  TorchScriptExecutor executor(options);
  r = run(executor, request(Pipeline::kAudioToText, "torchscript", audio));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(*r.body.json, R"({"text":"24000","chunks":[{"timestamp":[0,1.5],"text":"24000"}]})");
  r = run(executor, request(Pipeline::kAudioToText, "torchscript", "\"audio\":\"" + codec::base64_encode("bad") + "\""));
  EXPECT_EQ(r.error, "invalid request: audio: not a WAV file");
}

// MODEL-12, MODEL-18: a file that is not a TorchScript module is a clear load error, warm or cold, and is not retried.
TEST(TorchScript, BadModuleFileIsAClearError) {
  const std::string file = model_dir() + "/garbage.pt";
  std::ofstream(file) << "this is not a zip archive";
  TorchScriptExecutor warm(options_for(Pipeline::kImageToImage, file));
  const std::string error = warm.load();
  EXPECT_EQ(error.rfind("torchscript: cannot load " + file + ": ", 0), 0u) << error;
  EXPECT_NE(error.find("PytorchStreamReader"), std::string::npos) << error;
  EXPECT_FALSE(warm.loaded());
  TorchScriptExecutor cold(options_for(Pipeline::kImageToImage, file));
  EXPECT_EQ(i2i(cold, R"("prompt":"p")", pattern(4, 4)).error, error);
  EXPECT_EQ(i2i(cold, R"("prompt":"p")", pattern(4, 4)).error, error);
  TorchScriptExecutor missing(options_for(Pipeline::kImageToImage, model_dir() + "/none.pt"));
  EXPECT_EQ(missing.load(), "torchscript: no such file: " + model_dir() + "/none.pt");
}

// MODEL-18: a forward whose signature does not fit the pipeline is a load error showing both signatures.
TEST(TorchScript, WrongSignatureIsALoadError) {
  const std::string file = save_module("wrong", "def forward(self, x: Tensor) -> Tensor:\n    return x\n");
  TorchScriptExecutor executor(options_for(Pipeline::kImageToImage, file));
  const std::string error = executor.load();
  EXPECT_NE(error.find("torchscript: " + file + ": forward is `forward("), std::string::npos) << error;
  EXPECT_NE(error.find("image-to-image needs `forward(self, image: Tensor, prompt: str, seed: int, params: "
                       "Dict[str, float]) -> Tensor` (spec/models.md MODEL-14)"),
            std::string::npos)
      << error;
  TorchScriptExecutor text(options_for(Pipeline::kImageToText, image_module("i2i-for-i2t", "return image")));
  EXPECT_NE(text.load().find("image-to-text needs"), std::string::npos);
}

// MODEL-18: an error raised by forward, or a result of the wrong shape or type, fails the job saying what is wrong.
TEST(TorchScript, ForwardFailuresAreReported) {
  TorchScriptExecutor raising(options_for(
      Pipeline::kImageToImage, image_module("raise", "assert seed < 0, 'boom'\n    return image")));
  ExecResult r = i2i(raising, R"("prompt":"p")", pattern(4, 4));
  EXPECT_EQ(r.error.rfind("torchscript: forward failed: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("boom"), std::string::npos) << r.error;
  TorchScriptExecutor flat(options_for(Pipeline::kImageToImage, image_module("flat", "return image[0, 0]")));
  r = i2i(flat, R"("prompt":"p")", pattern(4, 4));
  EXPECT_EQ(r.error.rfind("torchscript: forward returned a tensor [4, 4] Float, expected a float tensor", 0), 0u)
      << r.error;
  TorchScriptExecutor ints(options_for(Pipeline::kImageToImage, image_module("ints", "return (image * 255).byte()")));
  r = i2i(ints, R"("prompt":"p")", pattern(4, 4));
  EXPECT_NE(r.error.find("expected a float tensor"), std::string::npos) << r.error;
  TorchScriptExecutor::Options limited = options_for(Pipeline::kImageToImage, image_module("big", "return image.repeat(1, 1, 10, 10)"));
  limited.limits.max_output_pixels = 1000;
  TorchScriptExecutor big(limited);
  r = i2i(big, R"("prompt":"p")", pattern(4, 4));
  EXPECT_EQ(r.error, "the output would be 40x40 = 1600 pixels, above this worker's limit of 1000");
  EXPECT_EQ(i2i(big, R"("prompt":"p")", pattern(4, 4)).ok, false);
  r = run(raising, request(Pipeline::kImageToImage, "torchscript", R"("prompt":"p")", "garbage"));
  EXPECT_EQ(r.error, "invalid request: image: not a PNG or JPEG image");
}

// MODEL-13: without CUDA the module runs on the CPU even when GPUs are listed, with the cores as libtorch's threads.
TEST(TorchScript, CpuWithTheCoresWhenNoCuda) {
  TorchScriptExecutor::Options options = options_for(Pipeline::kImageToImage, image_module("cpu", "return image"));
  options.gpu_ids = {"0"};
  TorchScriptExecutor executor(options);
  int threads = 0;
  std::thread job([&] {
    EXPECT_TRUE(i2i(executor, R"("prompt":"p")", pattern(4, 4)).ok);
    threads = at::get_num_threads();
  });
  job.join();
  EXPECT_EQ(executor.device(), torch::cuda::is_available() ? "cuda:0" : "cpu");
  EXPECT_EQ(threads, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// MODEL-12, MODEL-1: the factory reads the entry's "file" under -aiModelsDir, loads warm entries at once, and says what is missing.
TEST(TorchScript, EntryFactory) {
  image_module("entry", "return image");
  EngineOptions options;
  options.models_dir = model_dir();
  auto made = make_torchscript_executor(Pipeline::kImageToImage, R"({"file":"entry.pt"})", true, options);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<Executor>>(made)) << std::get<std::string>(made);
  Executor& executor = *std::get<std::unique_ptr<Executor>>(made);
  EXPECT_TRUE(executor.supports({Pipeline::kImageToImage, "torchscript"}));
  EXPECT_TRUE(run(executor, request(Pipeline::kImageToImage, "torchscript", R"("prompt":"p")", png_of(pattern(4, 4)))).ok);

  auto error = make_torchscript_executor(Pipeline::kImageToImage, "{}", false, options);
  EXPECT_EQ(std::get<std::string>(error),
            "torchscript needs the entry field \"file\" naming a TorchScript file (under -aiModelsDir)");
  error = make_torchscript_executor(Pipeline::kImageToImage, R"({"file":"nope.pt"})", false, options);
  EXPECT_EQ(std::get<std::string>(error),
            "torchscript: no such file: " + model_dir() + "/nope.pt (\"file\" is relative to -aiModelsDir)");
  std::ofstream(model_dir() + "/broken.pt") << "zip? no";
  error = make_torchscript_executor(Pipeline::kImageToImage, R"({"file":"broken.pt"})", true, options);
  EXPECT_EQ(std::get<std::string>(error).rfind("torchscript: cannot load ", 0), 0u);
  // Cold: the bad file is only found at the first job.
  EXPECT_TRUE(std::holds_alternative<std::unique_ptr<Executor>>(
      make_torchscript_executor(Pipeline::kImageToImage, R"({"file":"broken.pt"})", false, options)));

  Engines engines(options);
  auto found = engines.executor_for(Pipeline::kImageToImage, "torchscript", R"({"file":"entry.pt"})", true);
  ASSERT_TRUE(std::holds_alternative<Executor*>(found));
  EXPECT_TRUE(std::get<Executor*>(found)->supports({Pipeline::kImageToImage, "torchscript"}));
  EXPECT_EQ(engine_fields("torchscript"), std::vector<std::string>{"file"});
}

}  // namespace
}  // namespace aipool::exec
