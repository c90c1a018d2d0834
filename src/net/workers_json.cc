#include "net/workers_json.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "codec/json_text.h"

namespace aipool::net {
namespace {

std::string key_fields(const Key& key) {
  return "\"pipeline\":" + codec::json_string(pipeline_name(key.pipeline)) +
         ",\"model_id\":" + codec::json_string(key.model);
}

std::string price_json(const KeyView* k) {
  if (k == nullptr || k->offer == nullptr) return "null";
  return "{\"price_per_unit\":" + std::to_string(k->offer->price_per_unit) +
         ",\"pixels_per_unit\":" + std::to_string(k->offer->pixels_per_unit) +
         ",\"currency\":" + codec::json_string(k->offer->currency) + "}";
}

template <typename Map>
typename Map::mapped_type value_or(const Map& map, WorkerId id, typename Map::mapped_type fallback) {
  const auto it = map.find(id);
  return it == map.end() ? fallback : it->second;
}

// API-13: a number of milliseconds, or null.
std::string ms_json(std::optional<double> ms) {
  if (!ms) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", *ms);
  return text;
}

std::string health_json(const WorkerHealth& h) {
  return ",\"jobs_ok\":" + std::to_string(h.jobs_ok) + ",\"jobs_failed\":" + std::to_string(h.jobs_failed) +
         ",\"rejected_input\":" + std::to_string(h.rejected_input) +
         ",\"consecutive_failures\":" + std::to_string(h.consecutive_failures) +
         ",\"last_error\":" + (h.last_error.empty() ? std::string("null") : codec::json_string(h.last_error)) +
         ",\"last_error_at\":" + (h.last_error.empty() ? std::string("null") : std::to_string(h.last_error_at));
}

// QUAR-6: a seat's quarantine state; quarantined_until in Unix seconds (rounded up).
std::string quarantine_json(const SeatView& s, const WorkersSnapshot& snapshot) {
  std::string until = "null";
  if (s.state == SeatState::kQuarantined) {
    const Micros left = std::max<Micros>(s.quarantined_until - snapshot.core_now, 0);
    until = std::to_string(snapshot.wall_now_unix + (left + kMicrosPerSecond - 1) / kMicrosPerSecond);
  }
  return ",\"quarantine\":{\"state\":" + codec::json_string(seat_state_name(s.state)) +
         ",\"consecutive_failures\":" + std::to_string(s.consecutive_failures) +
         ",\"strikes\":" + std::to_string(s.strikes) + ",\"quarantined_until\":" + until + "}";
}

void append_worker(std::string& out, const WorkerView& w, const WorkersSnapshot& snapshot,
                   const std::map<Key, const KeyView*>& by_key) {
  static const WorkerHealth kNone;
  const auto found = snapshot.health.find(w.id);
  const WorkerHealth& health = found == snapshot.health.end() ? kNone : found->second;
  out += "{\"id\":" + std::to_string(w.id) + ",\"address\":" + codec::json_string(w.address) +
         ",\"connected_since\":" + std::to_string(value_or(snapshot.joined_wall_unix, w.id, 0)) +
         ",\"open_attempts\":" + std::to_string(w.open_attempts) +
         ",\"abandoned_attempts\":" + std::to_string(w.abandoned_attempts) + health_json(health) +
         ",\"gpus\":" + value_or(snapshot.gpus_json, w.id, std::string("[]")) + ",\"keys\":[";
  for (std::size_t j = 0; j < w.seats.size(); ++j) {
    const SeatView& s = w.seats[j];
    if (j != 0) out += ',';
    const auto key = by_key.find(s.key);
    out += std::string("{") + key_fields(s.key) + ",\"capacity\":" + std::to_string(s.capacity) +
           ",\"in_use\":" + std::to_string(s.in_use) +
           ",\"price\":" + price_json(key == by_key.end() ? nullptr : key->second);
    const auto recent = health.recent.find(s.key);
    out += ",\"latency_p50_ms\":" +
           ms_json(recent == health.recent.end() ? std::nullopt : WorkerHealthBook::median(recent->second)) +
           quarantine_json(s, snapshot) + "}";
  }
  out += "]}";
}

void append_key(std::string& out, const KeyView& k) {
  out += std::string("{") + key_fields(k.key) + ",\"capacity\":" + std::to_string(k.capacity) +
         ",\"in_use\":" + std::to_string(k.in_use) + ",\"waiting\":" + std::to_string(k.waiting) +
         ",\"workers\":" + std::to_string(k.workers) + ",\"offered\":" + (k.capacity > 0 ? "true" : "false") +
         ",\"price\":" + price_json(&k) + "}";
}

}  // namespace

std::string workers_json(const WorkersSnapshot& snapshot) {
  std::map<Key, const KeyView*> by_key;
  for (const KeyView& k : snapshot.keys) by_key[k.key] = &k;
  std::string out = "{\"workers\":[";
  for (std::size_t i = 0; i < snapshot.workers.size(); ++i) {
    if (i != 0) out += ',';
    append_worker(out, snapshot.workers[i], snapshot, by_key);
  }
  out += "],\"keys\":[";
  for (std::size_t i = 0; i < snapshot.keys.size(); ++i) {
    if (i != 0) out += ',';
    append_key(out, snapshot.keys[i]);
  }
  out += "]}";
  return out;
}

}  // namespace aipool::net
