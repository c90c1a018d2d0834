#include "net/log_line.h"

#include <atomic>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "codec/json_text.h"
#include "codec/text.h"
#include "net/result_poster.h"

namespace aipool::net {
namespace {

std::atomic<bool> g_json{false};

// The length of the UTF-8 sequence starting at `at`, or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t at) {
  const auto b = static_cast<unsigned char>(s[at]);
  std::size_t n = 0;
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) n = 3;
  else if (b >= 0xf0 && b <= 0xf4) n = 4;
  else return 0;
  if (at + n > s.size()) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[at + i]) & 0xc0) != 0x80) return 0;
  }
  const auto b1 = static_cast<unsigned char>(s[at + 1]);
  if ((b == 0xe0 && b1 < 0xa0) || (b == 0xed && b1 > 0x9f) || (b == 0xf0 && b1 < 0x90) || (b == 0xf4 && b1 > 0x8f)) {
    return 0;  // overlong, surrogate or beyond U+10FFFF
  }
  return n;
}

}  // namespace

void set_json_logs(bool on) { g_json.store(on); }
bool json_logs() { return g_json.load(std::memory_order_relaxed); }

std::string log_json_string(std::string_view text) {
  constexpr std::size_t kMax = 256;
  const std::string_view shown = text.substr(0, kMax);
  std::string clean;
  clean.reserve(shown.size());
  for (std::size_t i = 0; i < shown.size();) {
    const std::size_t n = utf8_length(shown, i);
    if (n == 0) {
      clean += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      clean.append(shown, i, n);
      i += n;
    }
  }
  if (shown.size() < text.size()) clean += "...(" + std::to_string(text.size()) + " bytes)";
  return codec::json_string(clean);
}

LogFields::LogFields(std::string_view event) : out_("{\"event\":" + codec::json_string(event)) {}

void LogFields::key(std::string_view name) {
  out_ += ',';
  codec::append_json_string(out_, name);
  out_ += ':';
}

LogFields& LogFields::add(std::string_view name, std::string_view value) {
  key(name);
  out_ += log_json_string(value);
  return *this;
}

LogFields& LogFields::add(std::string_view name, std::int64_t value) {
  key(name);
  out_ += std::to_string(value);
  return *this;
}

LogFields& LogFields::add(std::string_view name, std::uint64_t value) {
  key(name);
  out_ += std::to_string(value);
  return *this;
}

LogFields& LogFields::add_id(std::string_view name, std::uint64_t id) {
  key(name);
  out_ += '"' + std::to_string(id) + '"';
  return *this;
}

LogFields& LogFields::add(std::string_view name, double value) {
  key(name);
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  out_ += text;
  return *this;
}

namespace {

void log_worker_job_text(std::int64_t task, std::string_view orch, std::string_view what, std::string_view raw_outcome,
                         std::int64_t duration_ms, const PostOutcome& post) {
  const std::size_t slash = what.find('/');
  const std::string pipeline = codec::log_safe(what.substr(0, slash));
  const std::string model = slash == std::string_view::npos ? "?" : codec::log_safe(what.substr(slash + 1));
  const std::string outcome = codec::log_safe(raw_outcome);
  if (post.ok()) {
    spdlog::info("job task={} orch={} pipeline={} model={} outcome=\"{}\" duration_ms={} post={} post_ms={:.1f}", task,
                 orch, pipeline, model, outcome, duration_ms, post.status, post.elapsed_ms);
  } else if (post.status != 0) {
    spdlog::warn(
        "job task={} orch={} pipeline={} model={} outcome=\"{}\" duration_ms={} post={} post_ms={:.1f} answer=\"{}\"",
        task, orch, pipeline, model, outcome, duration_ms, post.status, post.elapsed_ms, codec::log_safe(post.answer));
  } else {
    spdlog::error(
        "job task={} orch={} pipeline={} model={} outcome=\"{}\" duration_ms={} post=failed attempts={} error=\"{}\"",
        task, orch, pipeline, model, outcome, duration_ms, post.attempts, codec::log_safe(post.error));
  }
}

}  // namespace

void log_worker_job(std::int64_t task, std::string_view orch, std::string_view what, std::string_view outcome,
                    std::int64_t duration_ms, const PostOutcome& post) {
  if (!json_logs()) return log_worker_job_text(task, orch, what, outcome, duration_ms, post);
  const std::size_t slash = what.find('/');
  LogFields line("job");
  line.add_id("task", static_cast<std::uint64_t>(task)).add("orch", orch).add("pipeline", what.substr(0, slash));
  line.add("model", slash == std::string_view::npos ? std::string_view("?") : what.substr(slash + 1));
  line.add("outcome", outcome).add("duration_ms", duration_ms);
  if (post.status != 0) {
    line.add("post", static_cast<std::int64_t>(post.status)).add("post_ms", post.elapsed_ms);
    if (!post.ok()) line.add("answer", post.answer);
  } else {
    line.add("post", "failed").add("attempts", static_cast<std::int64_t>(post.attempts)).add("error", post.error);
  }
  const spdlog::level::level_enum level =
      post.ok() ? spdlog::level::info : (post.status != 0 ? spdlog::level::warn : spdlog::level::err);
  spdlog::log(level, "{}", line.json());
}

}  // namespace aipool::net
