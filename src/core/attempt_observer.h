// File: attempt_observer.h
// An optional listener told of every attempt the Broker starts and ends, for the
// orchestrator's one log line per attempt (API-11) and for tests. Not a seam: the
// core works the same with or without one.
//
// Contract: called by the Broker during its own calls, on the Broker's thread; it
// must not call back into the Broker (DET-2) and should be quick.
#pragma once

#include <cstdint>
#include <string_view>

#include "seams/types.h"

namespace aipool {

// How an attempt ended (TASK-3).
enum class AttemptEnd { kResult, kWorkerError, kSendFailure, kDisconnect, kTimeout, kCancelled, kDeadline };
std::string_view attempt_end_name(AttemptEnd end);

struct AttemptEvent {
  TaskId task = 0;
  JobId job = 0;
  WorkerId worker = 0;
  const Key* key = nullptr;
  Micros sent_at = 0;
  Micros ended_at = 0;  // 0 in attempt_started
  AttemptEnd end = AttemptEnd::kResult;
  std::string_view detail;  // the worker error or other reason, when there is one
  // In attempt_started: when the job was submitted, and which attempt of it this is
  // (1 for the first); 0 in attempt_ended.
  Micros job_submitted_at = 0;
  std::uint32_t attempt = 0;
};

class AttemptObserver {
 public:
  virtual ~AttemptObserver() = default;
  virtual void attempt_started(const AttemptEvent& event) = 0;
  virtual void attempt_ended(const AttemptEvent& event) = 0;
};

}  // namespace aipool
