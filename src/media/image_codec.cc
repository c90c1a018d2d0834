#include "media/image_codec.h"

#include <spng.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace aipool::media {
namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
constexpr std::uint32_t kMaxDimension = 0x7fffffffu;  // PNG's limit; JPEG's is 65535

MediaError error(std::string message) { return MediaError{std::move(message), false}; }

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t be16(const unsigned char* p) { return (std::uint32_t{p[0]} << 8) | p[1]; }

bool is_png(std::string_view bytes) { return bytes.substr(0, kPngSignature.size()) == kPngSignature; }
bool is_jpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

std::string chunk_name(const unsigned char* type) {
  std::string name(reinterpret_cast<const char*>(type), 4);
  for (char& c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) c = '?';
  }
  return name;
}

std::string too_large_message(std::uint64_t width, std::uint64_t height, std::uint64_t limit) {
  return "the image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
         std::to_string(width * height) + " pixels, above the limit of " + std::to_string(limit);
}

// Byte ranges [first, second) of a file.
using ByteRanges = std::vector<std::pair<std::size_t, std::size_t>>;

// The chunks the pixels are decoded from: the critical ones and tRNS (alpha). The
// decoder never sees the others: a text, ICC profile or other ancillary chunk of a few
// kilobytes can inflate to gigabytes inside libspng, and no output uses them.
bool is_decoded_chunk(const std::string& name) {
  return name == "IHDR" || name == "PLTE" || name == "IDAT" || name == "IEND" || name == "tRNS";
}

void add_range(ByteRanges& ranges, std::size_t first, std::size_t second) {
  if (!ranges.empty() && ranges.back().second == first) {
    ranges.back().second = second;
  } else {
    ranges.emplace_back(first, second);
  }
}

// PNG: the signature, IHDR, and every chunk's frame up to IEND (no CRC, no inflate).
// `decoded`, when given, receives the ranges of the signature and the decoded chunks.
std::variant<ImageInfo, MediaError> probe_png(std::string_view bytes, ByteRanges* decoded = nullptr) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  std::size_t pos = kPngSignature.size();
  if (decoded != nullptr) decoded->assign({{0, pos}});
  ImageInfo info;
  info.format = ImageFormat::kPng;
  bool seen_idat = false;
  for (int index = 0;; ++index) {
    if (pos == size) return error("truncated PNG: the file ends before the IEND chunk");
    if (size - pos < 8) return error("truncated PNG: the file ends inside a chunk header");
    const std::uint32_t length = be32(data + pos);
    const unsigned char* type = data + pos + 4;
    const std::string name = chunk_name(type);
    if (length > kMaxDimension) return error("bad PNG: chunk " + name + " has an invalid length");
    if (name.find('?') != std::string::npos) return error("bad PNG: invalid chunk type at byte " + std::to_string(pos));
    if (index == 0 && name != "IHDR") return error("bad PNG: the first chunk is " + name + ", not IHDR");
    if (std::uint64_t{length} + 12 > size - pos) {
      return error("truncated PNG: the file ends inside chunk " + name + " (" + std::to_string(length + 12) +
                   " bytes needed, " + std::to_string(size - pos) + " left)");
    }
    const unsigned char* body = data + pos + 8;
    if (index == 0) {
      if (length != 13) return error("bad PNG: IHDR has length " + std::to_string(length) + ", not 13");
      info.width = be32(body);
      info.height = be32(body + 4);
      if (info.width == 0 || info.height == 0 || info.width > kMaxDimension || info.height > kMaxDimension) {
        return error("bad PNG: invalid size " + std::to_string(info.width) + "x" + std::to_string(info.height));
      }
      const int depth = body[8];
      const int color = body[9];
      const bool depth_ok = (color == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) ||
                            (color == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8)) ||
                            ((color == 2 || color == 4 || color == 6) && (depth == 8 || depth == 16));
      if (!depth_ok) {
        return error("bad PNG: invalid bit depth " + std::to_string(depth) + " for colour type " +
                     std::to_string(color));
      }
      if (body[10] != 0 || body[11] != 0 || body[12] > 1) {
        return error("bad PNG: invalid compression, filter or interlace method");
      }
    } else if (name == "IHDR") {
      return error("bad PNG: a second IHDR chunk");
    }
    if (name == "IDAT") seen_idat = true;
    if (decoded != nullptr && is_decoded_chunk(name)) add_range(*decoded, pos, pos + length + 12);
    if (name == "IEND") {
      if (!seen_idat) return error("bad PNG: no IDAT chunk (no image data)");
      return info;
    }
    pos += std::size_t{length} + 12;
  }
}

// JPEG: the marker segments up to the frame header (SOF), then the entropy-coded
// data scanned for markers up to EOI. No Huffman decoding.
std::variant<ImageInfo, MediaError> probe_jpeg(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t size = bytes.size();
  ImageInfo info;
  info.format = ImageFormat::kJpeg;
  bool seen_frame = false;
  bool in_scan = false;
  std::size_t pos = 2;  // after SOI
  for (;;) {
    if (in_scan) {
      // Entropy-coded data: find the next 0xFF that starts a marker.
      const void* hit = pos < size ? std::memchr(data + pos, 0xFF, size - pos) : nullptr;
      if (hit == nullptr) return error("truncated JPEG: the file ends before the end-of-image marker");
      pos = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - data);
      if (pos + 1 >= size) return error("truncated JPEG: the file ends before the end-of-image marker");
      const unsigned char next = data[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {  // stuffing, RSTn, fill
        pos += next == 0xFF ? 1 : 2;
        continue;
      }
      in_scan = false;  // a marker: handled below
    }
    if (pos >= size) return error("truncated JPEG: the file ends before the end-of-image marker");
    if (data[pos] != 0xFF) return error("bad JPEG: expected a marker at byte " + std::to_string(pos));
    while (pos < size && data[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= size) return error("truncated JPEG: the file ends inside a marker");
    const unsigned char marker = data[pos++];
    if (marker == 0xD9) {  // EOI
      if (!seen_frame) return error("bad JPEG: no frame header (SOF) before the end of the image");
      return info;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (size - pos < 2) return error("truncated JPEG: the file ends inside a marker segment");
    const std::uint32_t length = be16(data + pos);
    if (length < 2) return error("bad JPEG: a marker segment has an invalid length");
    if (length > size - pos) return error("truncated JPEG: the file ends inside a marker segment");
    const bool is_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_frame && !seen_frame) {
      if (length < 8) return error("bad JPEG: the frame header is too short");
      info.height = be16(data + pos + 3);
      info.width = be16(data + pos + 5);
      if (info.width == 0) return error("bad JPEG: the frame header gives width 0");
      if (info.height == 0) return error("unsupported JPEG: the height is given after the first scan (DNL)");
      seen_frame = true;
    }
    if (marker == 0xDA) {  // SOS: entropy-coded data follows the segment
      if (!seen_frame) return error("bad JPEG: a scan before the frame header (SOF)");
      in_scan = true;
    }
    pos += length;
  }
}

struct SpngContext {
  explicit SpngContext(int flags) : ctx(spng_ctx_new(flags)) {
    if (ctx == nullptr) throw std::bad_alloc();
  }
  ~SpngContext() { spng_ctx_free(ctx); }
  SpngContext(const SpngContext&) = delete;
  SpngContext& operator=(const SpngContext&) = delete;
  spng_ctx* ctx;
};

struct TjHandle {
  explicit TjHandle(tjhandle h) : handle(h) {
    if (handle == nullptr) throw std::bad_alloc();
  }
  ~TjHandle() { tjDestroy(handle); }
  TjHandle(const TjHandle&) = delete;
  TjHandle& operator=(const TjHandle&) = delete;
  tjhandle handle;
};

// libspng's input: the ranges of a PNG file, one after another.
struct PngFeed {
  std::string_view bytes;
  ByteRanges ranges;
  std::size_t range = 0;   // the range being read
  std::size_t offset = 0;  // into that range
};

int read_png_feed(spng_ctx*, void* user, void* destination, std::size_t length) {
  auto& feed = *static_cast<PngFeed*>(user);
  auto* out = static_cast<char*>(destination);
  while (length > 0) {
    if (feed.range == feed.ranges.size()) return SPNG_IO_EOF;
    const auto [first, second] = feed.ranges[feed.range];
    const std::size_t n = std::min(length, second - first - feed.offset);
    std::memcpy(out, feed.bytes.data() + first + feed.offset, n);
    out += n;
    length -= n;
    feed.offset += n;
    if (feed.offset == second - first) {
      ++feed.range;
      feed.offset = 0;
    }
  }
  return 0;
}

std::string spng_message(int code) {
  const bool truncated = code == SPNG_IO_EOF || code == SPNG_EIDAT_TOO_SHORT || code == SPNG_EOF;
  return std::string(truncated ? "truncated PNG: " : "bad PNG: ") + spng_strerror(code);
}

std::variant<Image, MediaError> decode_png(std::string_view bytes, const DecodeOptions& options) {
  // The chunk structure first (cheap, no inflate): a cut file gets the same reason as
  // from probe_image, also where libspng would not look (the IEND chunk).
  PngFeed feed{bytes, {}};
  std::variant<ImageInfo, MediaError> structure = probe_png(bytes, &feed.ranges);
  if (auto* bad = std::get_if<MediaError>(&structure)) return std::move(*bad);
  SpngContext png(0);
  spng_set_png_stream(png.ctx, read_png_feed, &feed);  // the decoded chunks only
  spng_ihdr ihdr{};
  if (const int rc = spng_get_ihdr(png.ctx, &ihdr); rc != 0) return error(spng_message(rc));
  if (options.max_pixels != 0 && std::uint64_t{ihdr.width} * ihdr.height > options.max_pixels) {
    return MediaError{too_large_message(ihdr.width, ihdr.height, options.max_pixels), true};
  }
  const int format = options.keep_alpha ? SPNG_FMT_RGBA8 : SPNG_FMT_RGB8;
  std::size_t length = 0;
  if (const int rc = spng_decoded_image_size(png.ctx, format, &length); rc != 0) return error(spng_message(rc));
  Image image;
  image.width = ihdr.width;
  image.height = ihdr.height;
  image.channels = options.keep_alpha ? 4 : 3;
  if (options.on_pixel_buffer_for_test) options.on_pixel_buffer_for_test(length);
  image.pixels.resize(length);
  const int flags = options.keep_alpha ? SPNG_DECODE_TRNS : 0;
  if (const int rc = spng_decode_image(png.ctx, image.pixels.data(), length, format, flags); rc != 0) {
    return error(spng_message(rc));
  }
  // The chunks after the image data, up to IEND: a file cut there is refused too, as
  // probe_image refuses it.
  if (const int rc = spng_decode_chunks(png.ctx); rc != 0) return error(spng_message(rc));
  return image;
}

std::variant<Image, MediaError> decode_jpeg(std::string_view bytes, const DecodeOptions& options) {
  TjHandle tj(tjInitDecompress());
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  int width = 0;
  int height = 0;
  int subsampling = 0;
  int colorspace = 0;
  if (tjDecompressHeader3(tj.handle, data, size, &width, &height, &subsampling, &colorspace) != 0) {
    return error(std::string("bad JPEG: ") + tjGetErrorStr2(tj.handle));
  }
  if (width <= 0 || height <= 0) return error("bad JPEG: invalid size");
  const auto w = static_cast<std::uint64_t>(width);
  const auto h = static_cast<std::uint64_t>(height);
  if (options.max_pixels != 0 && w * h > options.max_pixels) {
    return MediaError{too_large_message(w, h, options.max_pixels), true};
  }
  Image image;
  image.width = static_cast<std::uint32_t>(width);
  image.height = static_cast<std::uint32_t>(height);
  image.channels = options.keep_alpha ? 4 : 3;
  const std::uint64_t length = w * h * static_cast<std::uint64_t>(image.channels);
  if (options.on_pixel_buffer_for_test) options.on_pixel_buffer_for_test(length);
  image.pixels.resize(length);
  const int format = options.keep_alpha ? TJPF_RGBA : TJPF_RGB;
  if (tjDecompress2(tj.handle, data, size, image.pixels.data(), width, 0, height, format, 0) != 0) {
    const std::string message = tjGetErrorStr2(tj.handle);
    // A warning leaves a whole image; a premature end leaves a grey remainder.
    if (tjGetErrorCode(tj.handle) != TJERR_WARNING) return error("bad JPEG: " + message);
    if (message.find("Premature end") != std::string::npos) return error("truncated JPEG: " + message);
  }
  return image;
}

}  // namespace

std::string_view format_name(ImageFormat format) { return format == ImageFormat::kPng ? "PNG" : "JPEG"; }

std::variant<ImageInfo, MediaError> probe_image(std::string_view bytes) {
  if (is_png(bytes)) return probe_png(bytes);
  if (is_jpeg(bytes)) return probe_jpeg(bytes);
  if (!bytes.empty() && kPngSignature.substr(0, bytes.size()) == bytes.substr(0, kPngSignature.size())) {
    return error("truncated PNG: the file ends inside the signature");
  }
  return error("not a PNG or JPEG image");
}

std::variant<Image, MediaError> decode_image(std::string_view bytes, const DecodeOptions& options) {
  if (is_png(bytes)) return decode_png(bytes, options);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, options);
  return std::get<MediaError>(probe_image(bytes));  // neither: the probe says why
}

std::string encode_png(const std::uint8_t* pixels, std::uint32_t width, std::uint32_t height, int channels,
                       const PngOptions& options) {
  if (width == 0 || height == 0 || width > kMaxDimension || height > kMaxDimension) {
    throw std::invalid_argument("encode_png: invalid size");
  }
  std::uint8_t color_type = 0;
  switch (channels) {
    case 1: color_type = SPNG_COLOR_TYPE_GRAYSCALE; break;
    case 3: color_type = SPNG_COLOR_TYPE_TRUECOLOR; break;
    case 4: color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA; break;
    default: throw std::invalid_argument("encode_png: channels must be 1, 3 or 4");
  }
  SpngContext png(SPNG_CTX_ENCODER);
  spng_set_option(png.ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_option(png.ctx, SPNG_IMG_COMPRESSION_LEVEL, options.compression_level);
  spng_ihdr ihdr{};
  ihdr.width = width;
  ihdr.height = height;
  ihdr.bit_depth = 8;
  ihdr.color_type = color_type;
  if (const int rc = spng_set_ihdr(png.ctx, &ihdr); rc != 0) {
    throw std::runtime_error(std::string("encode_png: ") + spng_strerror(rc));
  }
  const std::size_t length = std::size_t{width} * height * static_cast<std::size_t>(channels);
  if (const int rc = spng_encode_image(png.ctx, pixels, length, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE); rc != 0) {
    throw std::runtime_error(std::string("encode_png: ") + spng_strerror(rc));
  }
  std::size_t size = 0;
  int rc = 0;
  void* buffer = spng_get_png_buffer(png.ctx, &size, &rc);
  if (buffer == nullptr) throw std::runtime_error(std::string("encode_png: ") + spng_strerror(rc));
  std::string out(static_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

std::string encode_jpeg(const std::uint8_t* rgb, std::uint32_t width, std::uint32_t height, int quality) {
  TjHandle tj(tjInitCompress());
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj.handle, rgb, static_cast<int>(width), 0, static_cast<int>(height), TJPF_RGB, &buffer, &size,
                  TJSAMP_420, quality, 0) != 0) {
    throw std::runtime_error(std::string("encode_jpeg: ") + tjGetErrorStr2(tj.handle));
  }
  std::string out(reinterpret_cast<const char*>(buffer), size);
  tjFree(buffer);
  return out;
}

}  // namespace aipool::media
