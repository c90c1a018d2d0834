// File: job_request.h
// What the built-in and TorchScript executors share (spec/models.md): reading the
// job's request JSON (WIRE-4) field by field, decoding its image once (MODEL-2), and
// building the image pipelines' result (MODEL-3). No torch.
//
// Field access follows the API's rules: a field given as a JSON value of its type, or
// as text holding one (a multipart text field the pipeline does not name reaches the
// worker as a JSON string, API-3). A wrong value throws JobError naming the field,
// e.g. `invalid request: field 'scale' must be 2 or 4 (got "3")`.
//
// Contract: a JobRequest is used by one thread; the free functions are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "media/image_codec.h"
#include "seams/executor.h"

namespace aipool::exec {

// A failure of one job; what() is the worker error sent to the orchestrator.
class JobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The worker's image size limits (MODEL-2, MODEL-3).
struct ImageLimits {
  std::uint64_t max_input_pixels = media::kDefaultMaxPixels;           // 4096 x 4096
  std::uint64_t max_output_pixels = std::uint64_t{8192} * 8192;        // 67,108,864
};

class JobRequest {
 public:
  // Parses request.request_json. Throws JobError("invalid request: ...").
  explicit JobRequest(const ExecRequest& request);
  ~JobRequest();
  JobRequest(const JobRequest&) = delete;
  JobRequest& operator=(const JobRequest&) = delete;

  const Key& key() const { return key_; }
  bool has(std::string_view name) const;
  // A string field, or `fallback` when absent or null.
  std::string string_or(std::string_view name, std::string fallback) const;
  // An integer field (JSON integer, or text holding one) in [min, max].
  std::int64_t int_or(std::string_view name, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
  // A number field (JSON number, or text holding one) in [min, max].
  double number_or(std::string_view name, double fallback, double min, double max) const;
  // `seed`, or 0 when the request has none (MODEL-3).
  std::int64_t seed() const;
  // `num_images_per_prompt`, 1..16, default 1.
  int num_images() const;
  // The base64-decoded file under `name` (required).
  std::string file(std::string_view name) const;
  // MODEL-2: `image` decoded to 8-bit RGB, once. Too large or undecodable: JobError.
  media::Image image(const ImageLimits& limits) const;
  // MODEL-14: every numeric field but `seed` (numbers, booleans as 0/1, text holding a
  // number), sorted by name.
  std::vector<std::pair<std::string, double>> numeric_fields() const;

 private:
  struct Impl;
  Key key_;
  std::unique_ptr<Impl> impl_;
};

// MODEL-3: throws JobError when width x height is above the output limit.
void check_output_size(std::uint64_t width, std::uint64_t height, const ImageLimits& limits);

// MODEL-3: files image-<k>.png (image/png) and {"images":[{"url":"image-<k>.png",
// "seed":<first_seed + k>,"nsfw":false},...]}.
ExecResult image_result(const std::vector<Payload>& pngs, std::int64_t first_seed);
// {"text":"..."} (image-to-text).
ExecResult text_result(std::string_view text);
// A failed job with this worker error.
ExecResult job_failure(std::string error);

// Seed `seed` + k, wrapping as unsigned (MODEL-3, MODEL-11).
inline std::int64_t seed_plus(std::int64_t seed, int k) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(seed) + static_cast<std::uint64_t>(k));
}

}  // namespace aipool::exec
