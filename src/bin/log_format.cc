// -logFormat (spec/api.md LOG-2): the text lines as they are, or one JSON object per
// line for log shippers.
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "bin/program.h"
#include "codec/text.h"
#include "net/log_line.h"

namespace aipool::bin {
namespace {

// {"ts":"2026-12-03T10:21:12.345Z","level":"info", then the fields of a structured
// line (net/log_line.h) or "msg" holding a text line.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char ts[40];
    const std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(millis));
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    std::string line = std::string("{\"ts\":\"") + ts + "\",\"level\":\"" + std::string(level.data(), level.size()) + "\",";
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.rfind("{\"event\":", 0) == 0 && payload.back() == '}') {
      line.append(payload.substr(1));  // a structured line: its members follow
    } else {
      line += "\"msg\":" + net::log_json_string(payload) + "}";
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLineFormatter>(); }
};

}  // namespace

void set_log_format(const std::string& format) {
  if (format == "text") return;
  if (format != "json") die("-logFormat must be text or json (got \"" + codec::log_safe(format) + "\")");
  net::set_json_logs(true);
  spdlog::set_formatter(std::make_unique<JsonLineFormatter>());
}

}  // namespace aipool::bin
