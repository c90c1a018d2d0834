// File: log_line.h
// The JSON form of our structured log lines (`-logFormat json`, spec/api.md LOG-2):
// the job and attempt lines as one JSON object of named fields. The text form of
// those lines is written where they are logged, as before; the bin layer's JSON
// formatter wraps each line with its time and level.
//
// Contract: set_json_logs() is called once at start, before any thread logs;
// json_logs() may then be read from any thread. LogFields is a value type, not
// thread-safe. Strings from clients and workers are cut at 256 bytes with the whole
// length named (as LOG-1), and bytes that are not UTF-8 become U+FFFD, so every line
// is valid JSON on one line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aipool::net {

void set_json_logs(bool on);
bool json_logs();

class LogFields {
 public:
  // `{"event":"<event>"` so far; each add() appends one member.
  explicit LogFields(std::string_view event);
  LogFields& add(std::string_view key, std::string_view value);
  LogFields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  LogFields& add(std::string_view key, std::int64_t value);
  LogFields& add(std::string_view key, std::uint64_t value);
  LogFields& add(std::string_view key, std::uint32_t value) { return add(key, static_cast<std::uint64_t>(value)); }
  LogFields& add(std::string_view key, double value);
  // A 63/64-bit id (task, worker) as a JSON string: JSON readers that hold numbers
  // as doubles would round it.
  LogFields& add_id(std::string_view key, std::uint64_t id);
  // The object, closed.
  std::string json() const { return out_ + "}"; }

 private:
  void key(std::string_view name);
  std::string out_;
};

struct PostOutcome;

// The worker's line for one job (`what` is "pipeline/model"), as text (LOG-1) or
// JSON (LOG-2): at info when the post was accepted, warn when it was answered
// otherwise, error when no answer came.
void log_worker_job(std::int64_t task, std::string_view orch, std::string_view what, std::string_view outcome,
                         std::int64_t duration_ms, const PostOutcome& post);

// `text` as a JSON string for a log line: cut at 256 bytes (`...(N bytes)` naming the
// whole length), bytes outside UTF-8 made U+FFFD.
std::string log_json_string(std::string_view text);

}  // namespace aipool::net
