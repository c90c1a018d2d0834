// Fuzz target: PNG and JPEG header probing (probe_image, API-12: the orchestrator's
// check of an uploaded image) and, for what it accepts, the worker's decode under a
// small pixel limit (decode_image, MODEL-2). The input is the file. A decoded
// image has the size the probe read and a pixel buffer of exactly that size.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "fuzz_input.h"
#include "media/image_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool::media;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto probed = probe_image(bytes);
  const auto* info = std::get_if<ImageInfo>(&probed);
  if (info == nullptr) return 0;
  aipool::fuzz::fuzz_check(info->width > 0 && info->height > 0);
  DecodeOptions options;
  options.max_pixels = 1u << 16;
  const auto decoded = decode_image(bytes, options);
  if (const auto* image = std::get_if<Image>(&decoded)) {
    aipool::fuzz::fuzz_check(image->width == info->width && image->height == info->height &&
                             image->pixels.size() == std::size_t{image->width} * image->height * 3);
  }
  return 0;
}
