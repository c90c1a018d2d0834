// Tests of src/media/image_codec.h: PNG and JPEG probe, decode and encode (MODEL-2,
// MODEL-3; the orchestrator's check, API-12).
#include "media/image_codec.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "exec_test_support.h"

namespace aipool::media {
namespace {

using exec_test::pattern;

DecodeOptions options_of(std::uint64_t max_pixels, bool keep_alpha) {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  options.keep_alpha = keep_alpha;
  return options;
}

Image decoded(const std::string& bytes, DecodeOptions options = {}) {
  auto result = decode_image(bytes, options);
  if (auto* error = std::get_if<MediaError>(&result)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<Image>(result);
}

std::string decode_error(const std::string& bytes, DecodeOptions options = {}) {
  auto result = decode_image(bytes, options);
  if (auto* error = std::get_if<MediaError>(&result)) return error->message;
  return "(decoded)";
}

std::string probe_error(const std::string& bytes) {
  auto result = probe_image(bytes);
  if (auto* error = std::get_if<MediaError>(&result)) return error->message;
  return "(probed)";
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::uint32_t crc32(const std::string& bytes, std::size_t from, std::size_t to) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = from; i < to; ++i) {
    crc ^= static_cast<unsigned char>(bytes[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put32(std::string& bytes, std::size_t at, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((value >> (24 - 8 * i)) & 0xFF);
}

// A structurally whole PNG whose IHDR (with a valid CRC) claims width x height.
std::string png_claiming(std::uint32_t width, std::uint32_t height) {
  std::string png = encode_png(pattern(2, 2));
  put32(png, 16, width);
  put32(png, 20, height);
  put32(png, 29, crc32(png, 12, 29));
  return png;
}

// MODEL-2, MODEL-3: RGB, RGBA and grey PNGs round-trip through encode_png and decode_image; alpha is dropped for RGB.
TEST(ImageCodec, PngRoundTrips) {
  const Image rgb = pattern(37, 23);
  const std::string png = encode_png(rgb);
  const Image back = decoded(png);
  EXPECT_EQ(back.width, 37u);
  EXPECT_EQ(back.height, 23u);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, rgb.pixels);

  Image rgba;
  rgba.width = 5;
  rgba.height = 3;
  rgba.channels = 4;
  for (int i = 0; i < 15; ++i) rgba.pixels.insert(rgba.pixels.end(), {std::uint8_t(i), std::uint8_t(2 * i), 7, std::uint8_t(16 * i)});
  const std::string rgba_png = encode_png(rgba);
  EXPECT_EQ(decoded(rgba_png, options_of(0, true)).pixels, rgba.pixels);
  const Image dropped = decoded(rgba_png);
  ASSERT_EQ(dropped.pixels.size(), 45u);
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(dropped.pixels[3 * i], rgba.pixels[4 * i]);
    EXPECT_EQ(dropped.pixels[3 * i + 2], 7);
  }

  Image grey;
  grey.width = 4;
  grey.height = 2;
  grey.channels = 1;
  grey.pixels = {0, 10, 20, 30, 40, 50, 60, 255};
  const Image expanded = decoded(encode_png(grey));
  ASSERT_EQ(expanded.pixels.size(), 24u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(expanded.pixels[3 * i], grey.pixels[i]);
    EXPECT_EQ(expanded.pixels[3 * i + 1], grey.pixels[i]);
    EXPECT_EQ(expanded.pixels[3 * i + 2], grey.pixels[i]);
  }
}

// MODEL-3, MODEL-4: encoding is deterministic: the same pixels give the same bytes.
TEST(ImageCodec, EncodeIsDeterministic) {
  EXPECT_EQ(encode_png(pattern(64, 48)), encode_png(pattern(64, 48)));
  EXPECT_NE(encode_png(pattern(64, 48)), encode_png(pattern(64, 47)));
}

// MODEL-2, API-12: a JPEG is probed from its header and decoded to RGB close to what was encoded.
TEST(ImageCodec, JpegProbesAndDecodes) {
  const Image rgb = exec_test::solid(40, 30, 200, 100, 50);
  const std::string jpeg = encode_jpeg(rgb.pixels.data(), 40, 30, 95);
  auto probed = probe_image(jpeg);
  ASSERT_TRUE(std::holds_alternative<ImageInfo>(probed)) << probe_error(jpeg);
  EXPECT_EQ(std::get<ImageInfo>(probed).format, ImageFormat::kJpeg);
  EXPECT_EQ(std::get<ImageInfo>(probed).width, 40u);
  EXPECT_EQ(std::get<ImageInfo>(probed).height, 30u);
  const Image back = decoded(jpeg);
  ASSERT_EQ(back.pixels.size(), rgb.pixels.size());
  for (std::size_t i = 0; i < back.pixels.size(); ++i) EXPECT_LE(std::abs(back.pixels[i] - rgb.pixels[i]), 4) << i;
}

// API-12, MODEL-2: probe reads a huge claimed size from the header at no cost; decoding it fails as too large before allocating.
TEST(ImageCodec, ProbeReadsTheHeaderAndDecodeHonoursTheLimit) {
  const std::string png = encode_png(pattern(300, 200));
  auto probed = probe_image(png);
  ASSERT_TRUE(std::holds_alternative<ImageInfo>(probed)) << probe_error(png);
  EXPECT_EQ(std::get<ImageInfo>(probed).format, ImageFormat::kPng);
  EXPECT_EQ(std::get<ImageInfo>(probed).pixels(), 60000u);

  const std::string huge = png_claiming(100000, 100000);
  probed = probe_image(huge);
  ASSERT_TRUE(std::holds_alternative<ImageInfo>(probed));
  EXPECT_EQ(std::get<ImageInfo>(probed).width, 100000u);
  auto result = decode_image(huge);  // default limit 4096 x 4096
  ASSERT_TRUE(std::holds_alternative<MediaError>(result));
  EXPECT_TRUE(std::get<MediaError>(result).too_large);
  EXPECT_EQ(std::get<MediaError>(result).message,
            "the image is 100000x100000 = 10000000000 pixels, above the limit of 16777216");
  auto small_limit = decode_image(png, options_of(1000, false));
  ASSERT_TRUE(std::holds_alternative<MediaError>(small_limit));
  EXPECT_TRUE(std::get<MediaError>(small_limit).too_large);
}

// A structurally whole PNG of about 100 bytes whose IHDR claims width x height of
// 16-bit RGBA, interlaced: the kind of file that costs nothing to send and, decoded,
// width x height x 4 bytes or more.
std::string png16_claiming(std::uint32_t width, std::uint32_t height) {
  std::string png = png_claiming(width, height);
  png[24] = 16;  // bit depth
  png[25] = 6;   // colour type: RGBA
  png[28] = 1;   // Adam7 interlace
  put32(png, 29, crc32(png, 12, 29));
  return png;
}

// MODEL-2: the pixel limit is checked on the header's width x height before the one
// allocation that grows with the image (the pixel buffer, width x height x 3 bytes
// whatever the bit depth): a small 16-bit PNG claiming 4097x4096, or 4096x4096 under a
// worker's lower limit, is refused with its size and the limit and nothing is
// allocated; under a limit it fits, the buffer is sized before the data is found short.
TEST(ImageCodec, PixelLimitIsCheckedBeforeThePixelBufferIsAllocated) {
  std::vector<std::uint64_t> allocations;
  DecodeOptions options;
  options.on_pixel_buffer_for_test = [&](std::uint64_t bytes) { allocations.push_back(bytes); };

  const std::string over = png16_claiming(4097, 4096);
  ASSERT_LT(over.size(), 200u);
  ASSERT_TRUE(std::holds_alternative<ImageInfo>(probe_image(over))) << probe_error(over);
  auto result = decode_image(over, options);  // the default limit, 4096 x 4096
  ASSERT_TRUE(std::holds_alternative<MediaError>(result));
  EXPECT_TRUE(std::get<MediaError>(result).too_large);
  EXPECT_EQ(std::get<MediaError>(result).message,
            "the image is 4097x4096 = 16781312 pixels, above the limit of 16777216");

  options.max_pixels = 1'000'000;  // e.g. a worker's -maxPixels 1000000
  result = decode_image(png16_claiming(4096, 4096), options);
  ASSERT_TRUE(std::holds_alternative<MediaError>(result));
  EXPECT_TRUE(std::get<MediaError>(result).too_large);
  EXPECT_EQ(std::get<MediaError>(result).message, "the image is 4096x4096 = 16777216 pixels, above the limit of 1000000");
  const Image rgb = pattern(2000, 600);
  const std::string jpeg = encode_jpeg(rgb.pixels.data(), 2000, 600, 80);
  result = decode_image(jpeg, options);
  ASSERT_TRUE(std::holds_alternative<MediaError>(result));
  EXPECT_EQ(std::get<MediaError>(result).message, "the image is 2000x600 = 1200000 pixels, above the limit of 1000000");
  EXPECT_TRUE(allocations.empty()) << allocations.size() << " pixel buffer(s) allocated for refused images";

  options.max_pixels = 1024 * 1024;
  result = decode_image(png16_claiming(1024, 1024), options);  // fits; its data is 2x2 pixels' worth
  ASSERT_TRUE(std::holds_alternative<MediaError>(result));
  EXPECT_FALSE(std::get<MediaError>(result).too_large) << std::get<MediaError>(result).message;
  EXPECT_EQ(allocations, (std::vector<std::uint64_t>{std::uint64_t{1024} * 1024 * 3}));
  options.keep_alpha = true;
  allocations.clear();
  const Image ok = decoded(encode_jpeg(pattern(20, 10).pixels.data(), 20, 10, 90), options);
  EXPECT_EQ(ok.channels, 4);
  EXPECT_EQ(allocations, (std::vector<std::uint64_t>{20 * 10 * 4}));
}

// `data` deflated (zlib format), fed in pieces of at most 1 MiB: `zeros` zero bytes
// when `data` is empty.
std::string deflated(const std::string& data, std::size_t zeros = 0) {
  z_stream z{};
  EXPECT_EQ(deflateInit(&z, 9), Z_OK);
  const std::string block(std::size_t{1} << 20, '\0');
  std::string out;
  std::vector<unsigned char> buffer(std::size_t{1} << 16);
  std::size_t left = data.empty() ? zeros : data.size();
  do {
    const std::size_t n = std::min(left, block.size());
    left -= n;
    const char* in = data.empty() ? block.data() : data.data() + data.size() - left - n;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      deflate(&z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
      out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
  } while (left > 0);
  deflateEnd(&z);
  return out;
}

void append_chunk(std::string& png, const std::string& type, const std::string& data) {
  std::string chunk(8, '\0');
  put32(chunk, 0, static_cast<std::uint32_t>(data.size()));
  chunk.replace(4, 4, type);
  chunk += data;
  chunk += std::string(4, '\0');
  put32(chunk, chunk.size() - 4, crc32(chunk, 4, chunk.size() - 4));
  png += chunk;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// MODEL-2: the decoder reads only the chunks the pixels come from: a 1x1 PNG whose
// ICC profile and text chunks inflate to 128 MiB each (a file of about 260 KB) decodes
// without inflating them, as does one whose text chunk is not even valid zlib; tRNS is
// still read (alpha).
TEST(ImageCodec, AncillaryChunksAreNotInflated) {
  const auto grey_png = [](const std::vector<std::pair<std::string, std::string>>& before_idat,
                           const std::vector<std::pair<std::string, std::string>>& after_idat) {
    std::string png("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr(13, '\0');
    put32(ihdr, 0, 1);
    put32(ihdr, 4, 1);
    ihdr[8] = 8;  // 8-bit grey
    append_chunk(png, "IHDR", ihdr);
    for (const auto& [type, data] : before_idat) append_chunk(png, type, data);
    append_chunk(png, "IDAT", deflated(std::string("\0\x4d", 2)));  // filter 0, grey 77
    for (const auto& [type, data] : after_idat) append_chunk(png, type, data);
    append_chunk(png, "IEND", "");
    return png;
  };
  const std::size_t inflated = std::size_t{128} << 20;
  const std::string bomb = grey_png({{"iCCP", std::string("icc\0\0", 5) + deflated("", inflated)}},
                                    {{"zTXt", std::string("Comment\0\0", 9) + deflated("", inflated)}});
  ASSERT_LT(bomb.size(), 400'000u);
  const long before = peak_rss_kib();
  Image image = decoded(bomb);
  EXPECT_LT(peak_rss_kib() - before, 48 * 1024) << "KiB more at the peak: the ancillary chunks were inflated";
  EXPECT_EQ(image.pixels, (PixelBuffer{77, 77, 77}));

  image = decoded(grey_png({}, {{"zTXt", std::string("Comment\0\0not zlib at all", 24)}}));
  EXPECT_EQ(image.pixels, (PixelBuffer{77, 77, 77}));

  image = decoded(grey_png({{"tRNS", std::string("\0\x4d", 2)}, {"tEXt", std::string("k\0v", 3)}}, {}),
                  options_of(0, true));
  EXPECT_EQ(image.pixels, (PixelBuffer{77, 77, 77, 0}));  // grey 77 is the transparent one
}

// API-12, MODEL-2: garbage is "not a PNG or JPEG image"; every truncation of a PNG or a JPEG is refused by probe and decode, saying truncated.
TEST(ImageCodec, GarbageAndTruncationAreRefused) {
  EXPECT_EQ(probe_error(""), "not a PNG or JPEG image");
  EXPECT_EQ(probe_error("PNGDATA"), "not a PNG or JPEG image");
  EXPECT_EQ(decode_error("hello world"), "not a PNG or JPEG image");
  EXPECT_EQ(probe_error(std::string("\x89PN", 3)), "truncated PNG: the file ends inside the signature");

  const std::string png = encode_png(pattern(32, 32));
  for (std::size_t n = 8; n < png.size(); ++n) {
    const std::string cut = png.substr(0, n);
    EXPECT_TRUE(starts_with(probe_error(cut), "truncated PNG: ")) << n << ": " << probe_error(cut);
    const std::string error = decode_error(cut);
    EXPECT_TRUE(starts_with(error, "truncated PNG: ") || starts_with(error, "bad PNG: ")) << n << ": " << error;
  }
  EXPECT_EQ(probe_error(png.substr(0, 20)), "truncated PNG: the file ends inside chunk IHDR (25 bytes needed, 12 left)");

  const Image rgb = pattern(48, 40);
  const std::string jpeg = encode_jpeg(rgb.pixels.data(), 48, 40, 90);
  for (std::size_t n = 3; n + 2 <= jpeg.size(); n += 7) {
    const std::string cut = jpeg.substr(0, n);
    EXPECT_TRUE(starts_with(probe_error(cut), "truncated JPEG: ") || starts_with(probe_error(cut), "bad JPEG: "))
        << n << ": " << probe_error(cut);
    EXPECT_NE(decode_error(cut), "(decoded)") << n;
  }
  EXPECT_EQ(probe_error(jpeg.substr(0, jpeg.size() - 2)), "truncated JPEG: the file ends before the end-of-image marker");
}

// MODEL-2: a damaged PNG (bad CRC, bad chunk) is refused with a reason, and random bytes never crash probe or decode.
TEST(ImageCodec, DamagedFilesSayWhatIsWrong) {
  std::string png = encode_png(pattern(16, 16));
  std::string bad_crc = png;
  bad_crc[29] = static_cast<char>(bad_crc[29] ^ 0xFF);  // IHDR's CRC
  EXPECT_TRUE(starts_with(decode_error(bad_crc), "bad PNG: ")) << decode_error(bad_crc);
  std::string bad_type = png;
  bad_type[12] = '#';  // IHDR -> #HDR
  EXPECT_EQ(probe_error(bad_type), "bad PNG: invalid chunk type at byte 8");

  std::uint64_t state = 12345;
  for (int round = 0; round < 300; ++round) {
    std::string bytes = round % 2 == 0 ? png : std::string("\xff\xd8\xff", 3);
    const std::size_t n = 16 + round % 50;
    for (std::size_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t at = round % 2 == 0 ? 8 + (state >> 33) % (png.size() - 8) : bytes.size();
      if (round % 2 == 0) {
        bytes[at] = static_cast<char>(state >> 56);
      } else {
        bytes.push_back(static_cast<char>(state >> 56));
      }
    }
    (void)probe_image(bytes);
    (void)decode_image(bytes);
  }
}

}  // namespace
}  // namespace aipool::media
