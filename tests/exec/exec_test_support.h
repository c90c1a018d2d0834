// Helpers for the tests of src/media and src/exec: deterministic test images, job
// requests as the orchestrator sends them (WIRE-4), and reading a result back.
#pragma once

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec_test {

// A w x h RGB image with gradients and a checker pattern, the same on every run.
inline media::Image pattern(std::uint32_t w, std::uint32_t h) {
  media::Image image;
  image.width = w;
  image.height = h;
  image.channels = 3;
  image.pixels.resize(std::size_t{w} * h * 3);
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      std::uint8_t* p = &image.pixels[(std::size_t{y} * w + x) * 3];
      p[0] = static_cast<std::uint8_t>(x * 255 / (w > 1 ? w - 1 : 1));
      p[1] = static_cast<std::uint8_t>(y * 255 / (h > 1 ? h - 1 : 1));
      p[2] = ((x / 4 + y / 4) % 2) != 0 ? 230 : 20;
    }
  }
  return image;
}

inline media::Image solid(std::uint32_t w, std::uint32_t h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  media::Image image;
  image.width = w;
  image.height = h;
  image.channels = 3;
  image.pixels.resize(std::size_t{w} * h * 3);
  for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = r;
    image.pixels[i + 1] = g;
    image.pixels[i + 2] = b;
  }
  return image;
}

// A job request: `fields` is the inside of the JSON object (without braces, may be
// empty); the image, when given, is added as base64 under "image".
inline ExecRequest request(Pipeline pipeline, const std::string& model, const std::string& fields,
                           const std::string& image_bytes = "") {
  std::string json = "{\"model_id\":" + codec::json_string(model);
  if (!fields.empty()) json += "," + fields;
  if (!image_bytes.empty()) json += ",\"image\":" + codec::json_string(codec::base64_encode(image_bytes));
  json += "}";
  return ExecRequest{Key{pipeline, model}, 1, std::make_shared<const std::string>(json), {}};
}

// Runs `executor` and checks that `done` is called exactly once, before execute() returns.
inline ExecResult run(Executor& executor, const ExecRequest& req) {
  ExecResult out;
  int calls = 0;
  executor.execute(req, [&](ExecResult r) {
    ++calls;
    out = std::move(r);
  });
  EXPECT_EQ(calls, 1);
  return out;
}

inline Poco::JSON::Object::Ptr json_of(const ExecResult& result) {
  if (!result.body.json) return nullptr;
  return Poco::JSON::Parser().parse(*result.body.json).extract<Poco::JSON::Object::Ptr>();
}

// The decoded output file `k` of an image result.
inline media::Image output(const ExecResult& result, std::size_t k = 0) {
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_LT(k, result.body.files.size());
  if (!result.ok || k >= result.body.files.size()) return {};
  EXPECT_EQ(result.body.files[k].content_type, "image/png");
  media::DecodeOptions unlimited;
  unlimited.max_pixels = 0;
  auto decoded = media::decode_image(*result.body.files[k].bytes, unlimited);
  if (auto* error = std::get_if<media::MediaError>(&decoded)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<media::Image>(decoded);
}

inline std::string png_of(const media::Image& image) { return media::encode_png(image); }

}  // namespace aipool::exec_test
