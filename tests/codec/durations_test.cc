// Durations and the per-pipeline form of -attemptTimeout and -jobDeadline
// (spec/core.md TIME-5..TIME-7, FLAG-2).
#include "codec/durations.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace {

using aipool::Micros;
using aipool::Pipeline;
namespace codec = aipool::codec;

constexpr Micros kSecond = aipool::kMicrosPerSecond;

Micros at(const codec::PipelineDurations& values, Pipeline pipeline) {
  return values[static_cast<std::size_t>(pipeline)];
}

codec::PipelineDurations ok(std::string_view text) {
  auto result = codec::parse_pipeline_durations("attemptTimeout", text, codec::default_attempt_timeouts());
  if (const auto* error = std::get_if<codec::DurationsError>(&result)) {
    ADD_FAILURE() << "\"" << text << "\": " << error->message;
    return {};
  }
  return std::get<codec::PipelineDurations>(result);
}

std::string error_of(std::string_view text) {
  auto result = codec::parse_pipeline_durations("attemptTimeout", text, codec::default_attempt_timeouts());
  if (const auto* error = std::get_if<codec::DurationsError>(&result)) return error->message;
  ADD_FAILURE() << "\"" << text << "\" was accepted";
  return "";
}

// TIME-6: one duration is a number with an optional unit; above 0.
TEST(Durations, ParsesUnits) {
  EXPECT_EQ(codec::parse_duration_text("300s"), 300 * kSecond);
  EXPECT_EQ(codec::parse_duration_text("90"), 90 * kSecond);
  EXPECT_EQ(codec::parse_duration_text("5m"), 300 * kSecond);
  EXPECT_EQ(codec::parse_duration_text("1500ms"), 1'500'000);
  EXPECT_EQ(codec::parse_duration_text("2h"), 7200 * kSecond);
  EXPECT_EQ(codec::parse_duration_text("0.5s"), 500'000);
  EXPECT_EQ(codec::parse_duration_text(" 30m "), 1800 * kSecond);
  for (const char* bad : {"", "s", "0", "0s", "-5s", "5 weeks", "5d", "abc", "nan", "1e300h"}) {
    EXPECT_EQ(codec::parse_duration_text(bad), std::nullopt) << bad;
  }
}

// TIME-6: a bare duration keeps its old meaning and sets every pipeline.
TEST(Durations, BareDurationSetsEveryPipeline) {
  const codec::PipelineDurations values = ok("300s");
  for (int p = 0; p < aipool::kPipelineCount; ++p) EXPECT_EQ(values[static_cast<std::size_t>(p)], 300 * kSecond) << p;
}

// TIME-6, TIME-7: pipeline=duration items set their pipelines, a bare one the rest,
// whatever the order; pipelines not named keep their defaults.
TEST(Durations, PerPipelineItems) {
  const codec::PipelineDurations some = ok("text-to-image=120s,llm=600s");
  EXPECT_EQ(at(some, Pipeline::kTextToImage), 120 * kSecond);
  EXPECT_EQ(at(some, Pipeline::kLlm), 600 * kSecond);
  EXPECT_EQ(at(some, Pipeline::kImageToText), 60 * kSecond);  // TIME-7's default
  const codec::PipelineDurations mixed = ok("llm=15m, 200s");
  EXPECT_EQ(at(mixed, Pipeline::kLlm), 900 * kSecond);
  EXPECT_EQ(at(mixed, Pipeline::kImageToText), 200 * kSecond);
  EXPECT_EQ(at(mixed, Pipeline::kTextToSpeech), 200 * kSecond);
}

// TIME-7: the defaults per pipeline.
TEST(Durations, Defaults) {
  const codec::PipelineDurations attempt = codec::default_attempt_timeouts();
  const codec::PipelineDurations deadline = codec::default_job_deadlines();
  EXPECT_EQ(at(attempt, Pipeline::kTextToImage), 300 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kImageToImage), 300 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kUpscale), 300 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kImageToText), 60 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kAudioToText), 300 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kLlm), 600 * kSecond);
  EXPECT_EQ(at(attempt, Pipeline::kTextToSpeech), 120 * kSecond);
  EXPECT_EQ(at(deadline, Pipeline::kTextToImage), 900 * kSecond);
  EXPECT_EQ(at(deadline, Pipeline::kImageToText), 300 * kSecond);
  EXPECT_EQ(at(deadline, Pipeline::kLlm), 1800 * kSecond);
  EXPECT_EQ(at(deadline, Pipeline::kTextToSpeech), 600 * kSecond);
  for (int p = 0; p < aipool::kPipelineCount; ++p) {
    EXPECT_GE(deadline[static_cast<std::size_t>(p)], attempt[static_cast<std::size_t>(p)]) << p;
  }
}

// TIME-6, FLAG-2: each error names the flag, the item and what is wrong.
TEST(Durations, ErrorsNameFlagItemAndProblem) {
  EXPECT_EQ(error_of("text-to-imag=120s"),
            "-attemptTimeout: \"text-to-imag=120s\": unknown pipeline \"text-to-imag\" (expected one of "
            "text-to-image, image-to-text, image-to-image, upscale, audio-to-text, llm, text-to-speech)");
  EXPECT_EQ(error_of("llm=soon"),
            "-attemptTimeout: \"llm=soon\": \"soon\" is not a duration above 0 (use e.g. 300s, 5m, 1500ms, 2h)");
  EXPECT_EQ(error_of("llm=10s,llm=20s"), "-attemptTimeout: \"llm=20s\": pipeline llm named twice");
  EXPECT_EQ(error_of("10s,20s"), "-attemptTimeout: \"20s\": a second duration for every pipeline");
  EXPECT_NE(error_of("llm=10s,,20s").find("empty item"), std::string::npos);
  EXPECT_NE(error_of("").find("empty item"), std::string::npos);
  EXPECT_NE(error_of("0s").find("\"0s\" is not a duration above 0"), std::string::npos);
  EXPECT_NE(error_of("llm=").find("\"\" is not a duration"), std::string::npos);
}

}  // namespace
