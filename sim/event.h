// File: event.h
// One thing that happens in the simulated world at one instant. A plain struct
// (48 bytes) so that millions fit in the EventQueue without allocation; what the
// integer fields mean depends on the kind (see each kind's comment).
//
// Contract: plain data; `seq` is set by EventQueue::push.
#pragma once

#include <cstdint>

#include "seams/types.h"

namespace aipool::sim {

enum class EventKind : std::uint8_t {
  kTimer,        // orch; a = TimerId armed by that orchestrator's Broker
  kConnect,      // worker registers with orch (a new session, a new WorkerId)
  kStreamBreak,  // worker's stream to orch breaks; both ends notice later
  kStreamEnd,    // orch notices the end of session a (WorkerId): worker_left
  kNotice,       // a job notice reaches worker: orch, a = TaskId, b = WorkerId, c = key
  kExecDone,     // worker's executor finishes: orch, a = TaskId, b = WorkerId, c = key,
                 // flags = ExecOutcome, d = incarnation
  kUpload,       // a result upload reaches orch: a = TaskId, b = poster WorkerId,
                 // flags = UploadFlags, c = error text index
  kForged,       // a forged upload reaches orch: flags = ForgeKind, a = TaskId, b = WorkerId
  kForgedJoin,   // a forged registration reaches orch: flags = ForgeKind, b = WorkerId
  kSubmit,       // a client submits to orch: a = key index (kNoKey: a key nobody offers)
  kCancel,       // a client cancels: orch, a = JobId
  kCrash,        // worker's process dies; it restarts after d microseconds
  kLeave,        // worker disconnects from every orchestrator on purpose
  kForeignTake,  // another (unsimulated) orchestrator takes one of worker's slots: c = key
  kForeignGive,  // ... and gives it back: c = key
  kHeal,         // faults stop; the liveness phase begins
  kQuietCheck,   // the liveness bound: every job has its outcome, every slot is free
  kProbe,        // liveness probe: orch submits one job for key c
  kScript,       // a scenario step (no effect of its own)
};

const char* event_kind_name(EventKind kind);

enum class ExecOutcome : std::uint16_t { kOk = 0, kError = 1 };

// Bits of Event::flags for kSubmit.
enum SubmitFlags : std::uint16_t {
  kSubmitChained = 1,  // a generated submit that schedules the next one
};

// Bits of Event::flags for kUpload.
enum UploadFlags : std::uint16_t {
  kUploadOk = 1,
  kUploadDuplicate = 2,    // a second upload of the same result
  kUploadAtCapacity = 4,   // the worker refused the job (MULTI-2)
  kUploadAnonymous = 8,    // the transport cannot tell the poster (Report::from unset)
  kUploadManual = 16,      // posted by a scenario command
};

enum class ForgeKind : std::uint16_t {
  kBadSecret = 0,    // RES-4 / CONN-1
  kUnknownTask = 1,  // RES-5
  kWrongWorker = 2,  // TASK-2
  kReusedId = 3,     // kForgedJoin: a join with an id used before (CONN-3)
  kNothing = 4,      // kForgedJoin: a join that offers nothing (CONN-2)
};

struct Event {
  Micros at = 0;
  std::uint64_t seq = 0;
  EventKind kind = EventKind::kScript;
  std::uint8_t orch = 0;
  std::uint16_t flags = 0;
  std::uint32_t worker = 0;  // physical worker index
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::uint32_t c = 0;
  std::uint32_t d = 0;
};

constexpr std::uint64_t kNoKey = ~std::uint64_t{0};

}  // namespace aipool::sim
