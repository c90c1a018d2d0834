// File: os_random.h
// The production binding of the Random seam (src/seams/random.h): 64 bits at a time
// from the OS entropy source (getrandom(2)). Used for the worker's reconnect jitter
// (RECON-1) and the orchestrator's id keys at each start (TASK-1, CONN-6); tests
// and the simulator inject deterministic sources instead.
//
// Contract: thread-safe (getrandom keeps no state in this object). next_u64() never
// fails: if getrandom is unavailable it falls back to std::random_device.
#pragma once

#include <cstdint>

#include "seams/random.h"

namespace aipool::net {

class OsRandom final : public Random {
 public:
  std::uint64_t next_u64() override;
};

}  // namespace aipool::net
