// Tests of src/exec/engines.h: how an aiModels entry finds its executor (spec/models.md
// MODEL-1), as the worker uses it.
#include "exec/engines.h"

#include <gtest/gtest.h>

#include "exec/diagnostic_executor.h"
#include "exec_test_support.h"

namespace aipool::exec {
namespace {

using exec_test::request;
using exec_test::run;

std::string error_of(const std::variant<Executor*, std::string>& found) {
  if (const auto* error = std::get_if<std::string>(&found)) return *error;
  return "(found)";
}

// MODEL-1: each built-in engine model is found on its pipeline, the caller's executors first.
TEST(Engines, BuiltinsAndAddedExecutorsAreFound) {
  Engines engines(EngineOptions{});
  DiagnosticExecutor diagnostic;
  engines.add(diagnostic);
  auto found = engines.executor_for(Pipeline::kTextToImage, "test/echo", "{}", true);
  ASSERT_TRUE(std::holds_alternative<Executor*>(found));
  EXPECT_EQ(std::get<Executor*>(found), &diagnostic);
  found = engines.executor_for(Pipeline::kTextToImage, "builtin/text-render", "{}", false);
  ASSERT_TRUE(std::holds_alternative<Executor*>(found)) << error_of(found);
  EXPECT_TRUE(run(*std::get<Executor*>(found), request(Pipeline::kTextToImage, "builtin/text-render",
                                                       R"("prompt":"p","width":32,"height":32)"))
                  .ok);
  for (const auto& [pipeline, model] : std::vector<std::pair<Pipeline, std::string>>{
           {Pipeline::kUpscale, "builtin/bicubic"},
           {Pipeline::kImageToImage, "builtin/grayscale"},
           {Pipeline::kImageToImage, "builtin/blur"},
           {Pipeline::kImageToImage, "builtin/sharpen"},
           {Pipeline::kImageToImage, "builtin/edges"}}) {
    found = engines.executor_for(pipeline, model, "{}", false);
    if (have_torch()) {
      ASSERT_TRUE(std::holds_alternative<Executor*>(found)) << model << ": " << error_of(found);
      EXPECT_TRUE(std::get<Executor*>(found)->supports({pipeline, model}));
    } else {
      EXPECT_NE(error_of(found).find("no libtorch"), std::string::npos) << error_of(found);
    }
  }
}

// MODEL-1: an engine nobody serves, or a built-in on another pipeline, is refused with the list of engines.
TEST(Engines, UnknownEnginesAreRefusedWithTheList) {
  Engines engines(EngineOptions{});
  const std::string error = error_of(engines.executor_for(Pipeline::kTextToImage, "stabilityai/sd", "{}", false));
  EXPECT_EQ(error.rfind("no executor serves text-to-image/stabilityai/sd; the engine models are builtin/bicubic (upscale); ", 0),
            0u)
      << error;
  EXPECT_NE(error.find("torchscript (any pipeline, with the entry field \"file\")"), std::string::npos);
  const std::string wrong = error_of(engines.executor_for(Pipeline::kImageToImage, "builtin/text-render", "{}", false));
  EXPECT_EQ(wrong.rfind("no executor serves image-to-image/builtin/text-render (a built-in model serves one pipeline only)", 0),
            0u)
      << wrong;
  EXPECT_TRUE(engine_fields("builtin/bicubic").empty());
}

// MODEL-1: when the font is missing, builtin/text-render is unavailable and says why; the other engines still work.
TEST(Engines, MissingFontMakesTextRenderUnavailable) {
  EngineOptions options;
  options.font_path = "/nonexistent/DejaVuSans.ttf";
  Engines engines(options);
  EXPECT_EQ(error_of(engines.executor_for(Pipeline::kTextToImage, "builtin/text-render", "{}", false)),
            "builtin/text-render is not available: builtin/text-render: cannot read the font /nonexistent/DejaVuSans.ttf");
  const BuiltinExecutors builtins = make_builtin_executors(options);
  EXPECT_EQ(builtins.unavailable.count("builtin/text-render"), 1u);
  EXPECT_EQ(builtins.executors.size(), have_torch() ? 2u : 1u);  // the image operators and builtin/espeak
}

// MODEL-1, MODEL-20: builtin/espeak serves text-to-speech only, and a job there gives a WAV.
TEST(Engines, EspeakServesTextToSpeech) {
  Engines engines(EngineOptions{});
  auto found = engines.executor_for(Pipeline::kTextToSpeech, "builtin/espeak", "{}", false);
  ASSERT_TRUE(std::holds_alternative<Executor*>(found)) << error_of(found);
  const ExecResult result = run(*std::get<Executor*>(found), request(Pipeline::kTextToSpeech, "builtin/espeak",
                                                                     R"("text":"hello")"));
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(result.body.files.size(), 1u);
  EXPECT_EQ(result.body.files[0].bytes->substr(0, 4), "RIFF");
  const std::string llm = error_of(engines.executor_for(Pipeline::kLlm, "builtin/espeak", "{}", false));
  EXPECT_EQ(llm.rfind("no executor serves llm/builtin/espeak (a built-in model serves one pipeline only)", 0), 0u) << llm;
  EXPECT_NE(llm.find("builtin/espeak (text-to-speech)"), std::string::npos) << llm;
}

// MODEL-1, MODEL-20: without libespeak-ng, builtin/espeak is unavailable and the error names the Debian packages.
TEST(Engines, MissingEspeakMakesItUnavailable) {
  EngineOptions options;
  options.espeak.library = "libespeak-ng-absent.so.99";
  Engines engines(options);
  const std::string error = error_of(engines.executor_for(Pipeline::kTextToSpeech, "builtin/espeak", "{}", false));
  EXPECT_EQ(error.rfind("builtin/espeak is not available: cannot load libespeak-ng-absent.so.99 (", 0), 0u) << error;
  EXPECT_NE(error.find("libespeak-ng1 and espeak-ng-data"), std::string::npos) << error;
}

}  // namespace
}  // namespace aipool::exec
