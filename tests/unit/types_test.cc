// Pipelines, capability numbers, request types and keys (WIRE-5 in spec/wire.md).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "seams/types.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

struct PipelineRow {
  Pipeline pipeline;
  std::string_view name;
  std::uint32_t capability;
  int request_type;
};

const std::vector<PipelineRow> kRows = {
    {Pipeline::kTextToImage, "text-to-image", 27, 0},
    {Pipeline::kImageToText, "image-to-text", 34, 1},
    {Pipeline::kImageToImage, "image-to-image", 28, 2},
    {Pipeline::kUpscale, "upscale", 30, 3},
    {Pipeline::kAudioToText, "audio-to-text", 31, 4},
    {Pipeline::kLlm, "llm", 33, 5},
    {Pipeline::kTextToSpeech, "text-to-speech", 36, 6},
};

// WIRE-5: the seven pipelines map one to one to their names, go-livepeer capability numbers and AIRequestType values, in both directions.
TEST(TypesTest, PipelineMappingsAreOneToOne) {
  ASSERT_EQ(kRows.size(), static_cast<std::size_t>(kPipelineCount));
  for (const PipelineRow& row : kRows) {
    SCOPED_TRACE(std::string(row.name));
    EXPECT_EQ(pipeline_name(row.pipeline), row.name);
    EXPECT_EQ(pipeline_capability(row.pipeline), row.capability);
    EXPECT_EQ(pipeline_request_type(row.pipeline), row.request_type);
    EXPECT_EQ(pipeline_from_name(row.name), row.pipeline);
    EXPECT_EQ(pipeline_from_capability(row.capability), row.pipeline);
    EXPECT_EQ(pipeline_from_request_type(row.request_type), row.pipeline);
  }
}

// WIRE-5: names, capability numbers and request types outside the seven are refused (nullopt), including near misses and go-livepeer capabilities aipool does not serve (image-to-video 29, segment-anything-2 32, live-video-to-video 35, ...).
TEST(TypesTest, OthersRefused) {
  for (std::string_view name : {"", "LLM", "text-to-video", "image-to-video", "segment-anything-2",
                                "text-to-speech ", "Text-To-Image", "text-to-image ", "text_to_image",
                                "upscale\n", "live-video-to-video"}) {
    EXPECT_EQ(pipeline_from_name(name), std::nullopt) << "'" << name << "'";
  }
  for (std::uint32_t capability : {0U, 1U, 26U, 29U, 32U, 35U, 37U, 1000U, 0xFFFFFFFFU}) {
    EXPECT_EQ(pipeline_from_capability(capability), std::nullopt) << capability;
  }
  for (int type : {-1, 7, 8, 100, -2147483647 - 1}) {
    EXPECT_EQ(pipeline_from_request_type(type), std::nullopt) << type;
  }
}

// SEL-6: a key is named "pipeline/model" and keys order by pipeline (wire order) then model, never by hash or address, so views and join answers list them deterministically.
TEST(TypesTest, KeyNamesAndOrder) {
  EXPECT_EQ(key_name(key_of("stabilityai/sd-turbo")), "text-to-image/stabilityai/sd-turbo");
  EXPECT_EQ(key_name(key_of("openai/whisper-large-v3", Pipeline::kAudioToText)),
            "audio-to-text/openai/whisper-large-v3");
  EXPECT_LT(key_of("z", Pipeline::kTextToImage), key_of("a", Pipeline::kImageToText));
  EXPECT_LT(key_of("a"), key_of("b"));
  EXPECT_EQ(key_of("a"), key_of("a"));
  EXPECT_NE(key_of("a"), key_of("a", Pipeline::kUpscale));
}

}  // namespace
}  // namespace aipool::testing
