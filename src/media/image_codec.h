// File: image_codec.h
// PNG and JPEG for the worker's executors and the orchestrator's input checks
// (spec/models.md MODEL-2, MODEL-3; spec/api.md API-12). libspng and TurboJPEG;
// no torch, no Poco.
//
//  probe_image   reads what a cheap check can read without decoding pixels: the
//                format, width and height, and whether the file is whole (PNG: the
//                chunk structure up to IEND; JPEG: the frame header and an
//                end-of-image marker after it). For the orchestrator (RETRY-5).
//  decode_image  the pixels, 8-bit RGB (or RGBA on request), rows top to bottom.
//  encode_png    8-bit gray, RGB or RGBA pixels to a PNG file.
//
// Errors say what is wrong, e.g. "not a PNG or JPEG image", "truncated PNG: the file
// ends inside chunk IDAT", "JPEG: Premature end of JPEG file". A decode that would
// exceed the pixel limit fails before any pixel buffer is allocated, with
// MediaError::too_large set (the orchestrator answers 413 for it, API-12): the width
// and height come from the header (PNG's IHDR, JPEG's frame header), and the pixel
// buffer, width x height x 3 (or 4) bytes whatever the file's bit depth, is the
// decode's one allocation that grows with the image (libspng and TurboJPEG reduce
// 16-bit samples to 8 bits row by row). The decoder reads only the PNG chunks the
// pixels come from (IHDR, PLTE, tRNS, IDAT, IEND): text, ICC profiles and other
// ancillary chunks, which could inflate to far more than the file, are skipped unread.
//
// Contract: pure functions; thread-safe; deterministic for a given build.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace aipool::media {

enum class ImageFormat { kPng, kJpeg };

// "PNG", "JPEG".
std::string_view format_name(ImageFormat format);

struct ImageInfo {
  ImageFormat format = ImageFormat::kPng;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t pixels() const { return std::uint64_t{width} * height; }
};

// An allocator whose resize() leaves new bytes uninitialised: every pixel buffer is
// written in full right after it is sized, and zeroing megabytes first costs about 5 %
// of a 1024x1024 upscale (bench/README.md).
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using PixelBuffer = std::vector<std::uint8_t, UninitializedAllocator<std::uint8_t>>;

// An 8-bit image: rows top to bottom, channels interleaved (1 gray, 3 RGB, 4 RGBA).
struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int channels = 3;
  PixelBuffer pixels;  // width * height * channels bytes
};

struct MediaError {
  std::string message;
  bool too_large = false;  // over the pixel limit (not a malformed file)
};

// 16,777,216 = 4096 x 4096: the default limit of the orchestrator and the worker.
constexpr std::uint64_t kDefaultMaxPixels = std::uint64_t{4096} * 4096;

// The format and size from the header, and the file's structure, without decoding.
std::variant<ImageInfo, MediaError> probe_image(std::string_view bytes);

struct DecodeOptions {
  std::uint64_t max_pixels = kDefaultMaxPixels;  // 0: no limit
  bool keep_alpha = false;                        // RGBA instead of RGB (JPEG: alpha 255)
  // Called with the pixel buffer's size in bytes just before it is allocated (tests
  // prove that a refused image never gets that far).
  std::function<void(std::uint64_t bytes)> on_pixel_buffer_for_test;
};
// The pixels as RGB (alpha dropped; gray and palette expanded; 16 bits reduced to 8)
// or RGBA.
std::variant<Image, MediaError> decode_image(std::string_view bytes, const DecodeOptions& options = {});

struct PngOptions {
  // zlib level 0..9. 1 by default: on a 1024x1024 photo-like image it encodes about
  // 4x faster than zlib's usual 6 for a file about 20 % larger (bench/README.md).
  int compression_level = 1;
};
// REQUIRES: pixels.size() == width * height * channels, channels in {1, 3, 4},
// width and height in 1..2^31-1. Deterministic for the same pixels and options.
std::string encode_png(const std::uint8_t* pixels, std::uint32_t width, std::uint32_t height, int channels,
                       const PngOptions& options = {});
inline std::string encode_png(const Image& image, const PngOptions& options = {}) {
  return encode_png(image.pixels.data(), image.width, image.height, image.channels, options);
}

// A baseline JPEG of RGB pixels (quality 1..100), for tests and tools.
std::string encode_jpeg(const std::uint8_t* rgb, std::uint32_t width, std::uint32_t height, int quality = 90);

}  // namespace aipool::media
