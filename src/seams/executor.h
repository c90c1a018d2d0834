// File: executor.h
// Seam: the worker's GPU (or CPU) executor. The worker hands one job to it and is
// told the outcome through a callback. Production binds it to libtorch and the
// built-in models (src/exec); tests and the simulator use deterministic fakes.
//
// Contract:
//  - supports(key) is constant for the executor's lifetime.
//  - execute() starts the job and returns without waiting for it; `done` is called
//    exactly once, from any thread, with the outcome. The executor does not limit
//    concurrency: the worker's SlotGate (src/core/slot_gate.h) does (MULTI-2).
//  - The request's bytes stay valid until `done` runs (they are shared).
//  - A streamed job (llm with "stream": true, spec/llm.md LLM-4) comes with a
//    `stream` sink: the executor passes it each chunk of the result (one JSON object,
//    as the client will see it after `data: `) as it is produced, from any one thread
//    at a time, and then calls `done` once: ok (the stream is complete; body unused)
//    or failed (its error). When the sink returns false the consumer has gone (the
//    client left, LLM-6): the executor stops the job as soon as it can (RUN-7) and
//    calls `done` with a failure. An executor that cannot stream a key fails the job.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "seams/types.h"

namespace aipool {

struct ExecRequest {
  Key key;
  TaskId task = 0;
  Payload request_json;  // the job's request JSON as received (WIRE-4)
  // Set for a streamed job only (see above); returns false once the consumer has gone.
  std::function<bool(std::string_view chunk_json)> stream = nullptr;
};

struct ExecResult {
  bool ok = false;
  std::string error;  // when !ok: the worker error text sent to the orchestrator
  ResultBody body;    // when ok: the response JSON and its files (RES-2, RES-3)
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual bool supports(const Key& key) const = 0;
  virtual void execute(const ExecRequest& request, std::function<void(ExecResult)> done) = 0;
};

}  // namespace aipool
