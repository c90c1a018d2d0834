#include "exec/job_request.h"
#include "exec/request_json.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <cmath>
#include <optional>
#include <variant>

#include "codec/base64.h"
#include "codec/json_text.h"

namespace aipool::exec {
namespace {

[[noreturn]] void invalid(const std::string& what) { throw JobError("invalid request: " + what); }

std::string shorten(std::string text) {
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string shown(const Poco::Dynamic::Var& value) {
  try {
    if (!value.isString()) return shorten(value.toString());
    std::string quoted(1, '"');
    quoted += shorten(value.toString());
    quoted += '"';
    return quoted;
  } catch (const Poco::Exception&) {
    return "?";
  }
}

// The shortest text that reads back as `value` (0.1, not 0.10000000000000001).
std::string format_number(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

std::optional<std::int64_t> integer_from(const Poco::Dynamic::Var& value) {
  try {
    if (value.isString()) {
      const std::string text = value.toString();
      std::int64_t out = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
      return out;
    }
    if (value.isBoolean() || !value.isInteger()) return std::nullopt;
    return value.convert<Poco::Int64>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::optional<double> number_from(const Poco::Dynamic::Var& value) {
  try {
    double out = 0;
    if (value.isString()) {
      const std::string text = value.toString();
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    } else if (value.isBoolean() || !value.isNumeric()) {
      return std::nullopt;
    } else {
      out = value.convert<double>();
    }
    if (!std::isfinite(out)) return std::nullopt;
    return out;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// API-2's text fields: never numeric parameters, whatever they hold.
bool is_text_field(const std::string& name) {
  return name == "model_id" || name == "prompt" || name == "negative_prompt" || name == "loras" ||
         name == "image" || name == "audio" || name == "return_timestamps" || name == "metadata";
}

}  // namespace

struct JobRequest::Impl {
  Poco::JSON::Object::Ptr object;

  Poco::Dynamic::Var get(std::string_view name) const { return object->get(std::string(name)); }
};

JobRequest::JobRequest(const ExecRequest& request) : key_(request.key), impl_(std::make_unique<Impl>()) {
  auto object = request_object(request);
  if (auto* error = std::get_if<std::string>(&object)) invalid(*error);
  impl_->object = std::get<Poco::JSON::Object::Ptr>(object);
}

JobRequest::~JobRequest() = default;

bool JobRequest::has(std::string_view name) const { return !impl_->get(name).isEmpty(); }

std::string JobRequest::string_or(std::string_view name, std::string fallback) const {
  const Poco::Dynamic::Var value = impl_->get(name);
  if (value.isEmpty()) return fallback;
  if (!value.isString()) invalid("field '" + std::string(name) + "' must be a string");
  return value.toString();
}

std::int64_t JobRequest::int_or(std::string_view name, std::int64_t fallback, std::int64_t min,
                                std::int64_t max) const {
  const Poco::Dynamic::Var value = impl_->get(name);
  if (value.isEmpty()) return fallback;
  const std::optional<std::int64_t> number = integer_from(value);
  if (!number || *number < min || *number > max) {
    invalid("field '" + std::string(name) + "' must be an integer from " + std::to_string(min) + " to " +
            std::to_string(max) + " (got " + shown(value) + ")");
  }
  return *number;
}

double JobRequest::number_or(std::string_view name, double fallback, double min, double max) const {
  const Poco::Dynamic::Var value = impl_->get(name);
  if (value.isEmpty()) return fallback;
  const std::optional<double> number = number_from(value);
  if (!number || *number < min || *number > max) {
    invalid("field '" + std::string(name) + "' must be a number from " + format_number(min) + " to " +
            format_number(max) + " (got " + shown(value) + ")");
  }
  return *number;
}

std::int64_t JobRequest::seed() const {
  return int_or("seed", 0, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
}

int JobRequest::num_images() const { return static_cast<int>(int_or("num_images_per_prompt", 1, 1, 16)); }

std::string JobRequest::file(std::string_view name) const {
  const Poco::Dynamic::Var value = impl_->get(name);
  if (value.isEmpty()) invalid("field '" + std::string(name) + "' is required (base64)");
  if (!value.isString()) invalid("field '" + std::string(name) + "' must be a base64 string");
  std::optional<std::string> bytes = codec::base64_decode(value.extract<std::string>());
  if (!bytes) invalid("field '" + std::string(name) + "' is not valid base64");
  return std::move(*bytes);
}

media::Image JobRequest::image(const ImageLimits& limits) const {
  const std::string bytes = file("image");
  media::DecodeOptions options;
  options.max_pixels = limits.max_input_pixels;
  std::variant<media::Image, media::MediaError> decoded = media::decode_image(bytes, options);
  if (auto* error = std::get_if<media::MediaError>(&decoded)) invalid("image: " + error->message);
  return std::move(std::get<media::Image>(decoded));
}

std::vector<std::pair<std::string, double>> JobRequest::numeric_fields() const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, value] : *impl_->object) {
    if (name == "seed" || is_text_field(name)) continue;
    try {
      if (value.isBoolean()) {
        out.emplace_back(name, value.extract<bool>() ? 1.0 : 0.0);
        continue;
      }
    } catch (const Poco::Exception&) {
      continue;
    }
    if (const std::optional<double> number = number_from(value)) out.emplace_back(name, *number);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_output_size(std::uint64_t width, std::uint64_t height, const ImageLimits& limits) {
  if (width == 0 || height == 0 || width * height > limits.max_output_pixels) {
    throw JobError("the output would be " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                   std::to_string(width * height) + " pixels, above this worker's limit of " +
                   std::to_string(limits.max_output_pixels));
  }
}

ExecResult image_result(const std::vector<Payload>& pngs, std::int64_t first_seed) {
  ExecResult result;
  result.ok = true;
  std::string json = "{\"images\":[";
  for (std::size_t k = 0; k < pngs.size(); ++k) {
    const std::string name = "image-" + std::to_string(k) + ".png";
    result.body.files.push_back(ResultFile{name, "image/png", pngs[k]});
    if (k > 0) json += ',';
    json += "{\"url\":";
    codec::append_json_string(json, name);
    json += ",\"seed\":" + std::to_string(seed_plus(first_seed, static_cast<int>(k))) + ",\"nsfw\":false}";
  }
  json += "]}";
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

ExecResult text_result(std::string_view text) {
  ExecResult result;
  result.ok = true;
  std::string json = "{\"text\":";
  codec::append_json_string(json, text);
  json += '}';
  result.body.json = std::make_shared<const std::string>(std::move(json));
  return result;
}

ExecResult job_failure(std::string error) {
  ExecResult result;
  result.ok = false;
  result.error = std::move(error);
  return result;
}

}  // namespace aipool::exec
