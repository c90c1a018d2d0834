#include "net/pool_history.h"

#include <algorithm>
#include <cstdio>

#include "codec/json_text.h"

namespace aipool::net {
namespace {

// The q-quantile of sorted `v` (nearest rank), for v not empty.
double quantile(const std::vector<double>& v, double q) {
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(rank, v.size() - 1)];
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", ms);
  return text;
}

}  // namespace

void PoolHistory::job_ended(const Key& key, std::int64_t unix_second, bool ok, double ms) {
  // A second older than what its slot holds now (the wall clock stepped back, or a
  // late report) is dropped rather than wiping newer figures.
  Second& s = seconds_[static_cast<std::size_t>(unix_second) % kSeconds];
  if (s.t < unix_second) {
    s = Second{};
    s.t = unix_second;
  }
  if (s.t == unix_second) {
    ++(ok ? s.ok : s.failed);
    if (ok && s.ms.size() < kSamples) s.ms.push_back(ms);
  }
  auto found = keys_.find(key);
  if (found == keys_.end()) {
    if (keys_.size() >= kMaxKeys) return;
    found = keys_.emplace(key, KeyRing{}).first;
  }
  KeyRing& ring = found->second;
  const std::size_t slot = static_cast<std::size_t>(unix_second) % ring.t.size();
  if (ring.t[slot] < unix_second) {
    ring.t[slot] = unix_second;
    ring.jobs[slot] = 0;
  }
  if (ring.t[slot] == unix_second) ++ring.jobs[slot];
}

std::string PoolHistory::json(std::int64_t now) const {
  std::string out = "{\"series\":[";
  for (std::int64_t t = now - static_cast<std::int64_t>(kSeconds) + 1; t <= now; ++t) {
    if (out.back() != '[') out += ',';
    const Second& s = seconds_[static_cast<std::size_t>(t) % kSeconds];
    out += "{\"t\":" + std::to_string(t);
    if (s.t != t) {
      out += ",\"ok\":0,\"failed\":0,\"p50_ms\":null,\"p90_ms\":null,\"p99_ms\":null}";
      continue;
    }
    out += ",\"ok\":" + std::to_string(s.ok) + ",\"failed\":" + std::to_string(s.failed);
    if (s.ms.empty()) {
      out += ",\"p50_ms\":null,\"p90_ms\":null,\"p99_ms\":null}";
      continue;
    }
    std::vector<double> sorted = s.ms;
    std::sort(sorted.begin(), sorted.end());
    out += ",\"p50_ms\":" + ms_text(quantile(sorted, 0.5)) + ",\"p90_ms\":" + ms_text(quantile(sorted, 0.9)) +
           ",\"p99_ms\":" + ms_text(quantile(sorted, 0.99)) + "}";
  }
  out += "],\"per_key\":[";
  for (const auto& [key, ring] : keys_) {
    std::uint64_t last_minute = 0;
    for (std::size_t i = 0; i < ring.t.size(); ++i) {
      if (ring.t[i] > now - 60 && ring.t[i] <= now) last_minute += ring.jobs[i];
    }
    if (out.back() != '[') out += ',';
    out += "{\"pipeline\":" + codec::json_string(pipeline_name(key.pipeline)) +
           ",\"model_id\":" + codec::json_string(key.model) + ",\"jobs_last_minute\":" + std::to_string(last_minute) +
           "}";
  }
  out += "]}";
  return out;
}

}  // namespace aipool::net
