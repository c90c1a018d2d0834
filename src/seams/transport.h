// File: transport.h
// Seam: the orchestrator's side of the per-worker job streams. The core hands a
// job notice for one worker to this interface; production writes a NotifyAIJob on
// that worker's gRPC stream (WIRE-4), the simulator delivers it as an event.
//
// Contract:
//  - send() queues the notice for the worker and returns true, or returns false if
//    the worker's stream is already broken (a send failure, CONN-4). It never
//    blocks on the network and never calls back into the core (DET-2).
//  - close() ends the worker's stream with `reason`; afterwards the driver reports
//    the end with Broker::worker_left as for any other end (a second report of the
//    same end is harmless, CONN-4).
//  - The notice's fields stay valid only during the call; keep `payload` (shared)
//    to hold on to the bytes.
#pragma once

#include <string>
#include <string_view>

#include "seams/types.h"

namespace aipool {

struct JobNotice {
  WorkerId worker = 0;
  TaskId task = 0;
  Pipeline pipeline = Pipeline::kTextToImage;
  std::string_view model;
  Payload payload;  // the job's request JSON (WIRE-4)
};

class WorkerTransport {
 public:
  virtual ~WorkerTransport() = default;
  virtual bool send(const JobNotice& notice) = 0;
  virtual void close(WorkerId worker, std::string_view reason) = 0;
};

}  // namespace aipool
