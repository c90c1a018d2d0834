// File: workers_json.h
// The body of GET /workers: live workers with their slots, GPUs and prices, and the
// totals per key (spec/api.md). Pure rendering of the core's views.
//
// Contract: pure, thread-safe; strings are JSON-escaped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/broker.h"
#include "net/worker_health.h"

namespace aipool::net {

struct WorkersSnapshot {
  std::vector<WorkerView> workers;
  std::vector<KeyView> keys;
  std::map<WorkerId, std::int64_t> joined_wall_unix;  // connected since, Unix seconds
  std::map<WorkerId, std::string> gpus_json;          // a JSON array per worker (MODEL-19)
  std::map<WorkerId, WorkerHealth> health;            // API-13; absent: no attempt yet
  // QUAR-6: the core's clock and the Unix time at the snapshot, to turn a seat's
  // quarantined_until (core clock) into Unix seconds.
  Micros core_now = 0;
  std::int64_t wall_now_unix = 0;
};

std::string workers_json(const WorkersSnapshot& snapshot);

}  // namespace aipool::net
