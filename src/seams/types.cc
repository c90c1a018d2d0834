#include "seams/types.h"

#include <array>

namespace aipool {
namespace {

struct PipelineFacts {
  Pipeline pipeline;
  std::string_view name;
  std::uint32_t capability;
};

// Indexed by the wire enum value.
constexpr std::array<PipelineFacts, kPipelineCount> kFacts = {{
    {Pipeline::kTextToImage, "text-to-image", 27},
    {Pipeline::kImageToText, "image-to-text", 34},
    {Pipeline::kImageToImage, "image-to-image", 28},
    {Pipeline::kUpscale, "upscale", 30},
    {Pipeline::kAudioToText, "audio-to-text", 31},
    {Pipeline::kLlm, "llm", 33},
    {Pipeline::kTextToSpeech, "text-to-speech", 36},
}};

}  // namespace

std::string_view pipeline_name(Pipeline pipeline) {
  return kFacts[static_cast<std::size_t>(pipeline)].name;
}

std::string pipeline_names() {
  std::string out;
  for (const auto& f : kFacts) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

std::optional<Pipeline> pipeline_from_name(std::string_view name) {
  for (const auto& f : kFacts) {
    if (f.name == name) return f.pipeline;
  }
  return std::nullopt;
}

std::uint32_t pipeline_capability(Pipeline pipeline) {
  return kFacts[static_cast<std::size_t>(pipeline)].capability;
}

std::optional<Pipeline> pipeline_from_capability(std::uint32_t capability) {
  for (const auto& f : kFacts) {
    if (f.capability == capability) return f.pipeline;
  }
  return std::nullopt;
}

std::optional<Pipeline> pipeline_from_request_type(int request_type) {
  if (request_type < 0 || request_type >= kPipelineCount) return std::nullopt;
  return kFacts[static_cast<std::size_t>(request_type)].pipeline;
}

std::string key_name(const Key& key) {
  std::string out(pipeline_name(key.pipeline));
  out += '/';
  out += key.model;
  return out;
}

}  // namespace aipool
