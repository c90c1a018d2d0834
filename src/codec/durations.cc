#include "codec/durations.h"

#include <charconv>
#include <cmath>

#include "codec/text.h"

namespace aipool::codec {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;

// Sets every pipeline in `values` to `each`, except where `set` says a pipeline=item set it.
PipelineDurations with_default(const PipelineDurations& values, const std::array<bool, kPipelineCount>& set,
                               Micros each) {
  PipelineDurations out = values;
  for (int i = 0; i < kPipelineCount; ++i) {
    if (!set[static_cast<std::size_t>(i)]) out[static_cast<std::size_t>(i)] = each;
  }
  return out;
}

// "-flag: \"item\": what", built piece by piece (GCC 12's -Wrestrict misfires on
// "literal" + std::string chains, GCC bug 105329).
DurationsError item_error(std::string_view flag, std::string_view item, std::string_view what) {
  std::string message = "-";
  message += flag;
  message += ": \"";
  message += item;
  message += "\": ";
  message += what;
  return DurationsError{std::move(message)};
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

}  // namespace

std::optional<Micros> parse_duration_text(std::string_view text) {
  text = trim(text);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  double seconds = 0;
  if (unit.empty() || unit == "s") seconds = value;
  else if (unit == "ms") seconds = value / 1000;
  else if (unit == "m") seconds = value * 60;
  else if (unit == "h") seconds = value * 3600;
  else return std::nullopt;
  const double micros = seconds * 1e6;
  if (!std::isfinite(micros) || micros < 1 || micros > 1e17) return std::nullopt;  // above 0, below 3,000 years
  return static_cast<Micros>(micros);
}

// TIME-7, in Pipeline order: text-to-image, image-to-text, image-to-image, upscale,
// audio-to-text, llm, text-to-speech.
PipelineDurations default_attempt_timeouts() {
  return {300 * kSecond, 60 * kSecond, 300 * kSecond, 300 * kSecond, 300 * kSecond, 600 * kSecond, 120 * kSecond};
}

PipelineDurations default_job_deadlines() {
  return {900 * kSecond, 300 * kSecond, 900 * kSecond, 900 * kSecond, 900 * kSecond, 1800 * kSecond, 600 * kSecond};
}

std::variant<PipelineDurations, DurationsError> parse_pipeline_durations(std::string_view flag,
                                                                         std::string_view text,
                                                                         const PipelineDurations& defaults) {
  PipelineDurations values = defaults;
  std::array<bool, kPipelineCount> set{};
  std::optional<Micros> every;
  const auto fail = [flag](std::string_view item, const std::string& what) { return item_error(flag, item, what); };
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = trim(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (item.empty()) {
      std::string message = "-";
      message += flag;
      message += ": empty item in ";
      message += quoted(text);
      message += " (use e.g. 300s or text-to-image=120s,llm=600s)";
      return DurationsError{std::move(message)};
    }
    const std::size_t eq = item.find('=');
    const std::string_view duration_text = eq == std::string_view::npos ? item : item.substr(eq + 1);
    const std::optional<Micros> duration = parse_duration_text(duration_text);
    if (!duration) {
      return fail(item, quoted(trim(duration_text)) + " is not a duration above 0 (use e.g. 300s, 5m, 1500ms, 2h)");
    }
    if (eq == std::string_view::npos) {
      if (every) return fail(item, "a second duration for every pipeline");
      every = duration;
    } else {
      const std::string_view name = trim(item.substr(0, eq));
      const std::optional<Pipeline> pipeline = pipeline_from_name(name);
      if (!pipeline) {
        std::string what = "unknown pipeline ";
        what += quoted(name);
        what += " (expected one of ";
        what += pipeline_names();
        what += ')';
        return fail(item, what);
      }
      const auto index = static_cast<std::size_t>(*pipeline);
      if (set[index]) {
        std::string what = "pipeline ";
        what += name;
        what += " named twice";
        return fail(item, what);
      }
      set[index] = true;
      values[index] = *duration;
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return every ? with_default(values, set, *every) : values;
}

}  // namespace aipool::codec
