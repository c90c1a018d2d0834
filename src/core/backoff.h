// File: backoff.h
// The worker's reconnect delays (RECON-1, RECON-2): exponential with jitter, drawn
// from the injected Random so that tests and the simulator replay them exactly.
//
// Contract: not thread-safe; one Backoff per orchestrator connection.
#pragma once

#include "seams/random.h"
#include "seams/types.h"

namespace aipool {

struct BackoffPolicy {
  Micros initial = kMicrosPerSecond / 2;         // 0.5 s
  std::int64_t factor_num = 3;                   // factor 1.5 = 3/2
  std::int64_t factor_den = 2;
  Micros cap = 30 * kMicrosPerSecond;            // 30 s
  std::int64_t jitter_percent = 50;              // ±50 %
  Micros reset_after = 60 * kMicrosPerSecond;    // a session this long resets the backoff
};

class Backoff {
 public:
  explicit Backoff(Random& random, BackoffPolicy policy = {});
  // The next wait, jittered; advances the un-jittered base for the following one.
  Micros next_delay();
  // A session ended after `session_length`; a long enough one resets the backoff.
  void session_ended(Micros session_length);
  // The un-jittered wait that next_delay() will jitter.
  Micros base() const { return base_; }

 private:
  Random& random_;
  BackoffPolicy policy_;
  Micros base_;
};

}  // namespace aipool
