// File: reference_model.h
// A deliberately simple model of spec/core.md: plain vectors and maps, linear
// scans, no cleverness, so that it is obviously the spec. The simulator and the
// property tests feed it the same events as the real Broker and compare, event by
// event, what each did: the effects (job notices sent, streams closed, job
// outcomes, in order), the answers (join and report verdicts, job ids) and the
// state (rotation queues, slots, waiting jobs, attempts, armed timers).
//
// Where the spec leaves an order open, the model fixes it the way the core
// documents it, and says so here:
//  - A key with no live worker and no waiting job is forgotten at the end of the
//    event (CAP-6); keys_() holds only the others.
//  - Follow-up work of one event runs in FIFO order, after the event itself: a
//    freed slot "pumps" its key's wait queue, a failed attempt "places" its job
//    again, a leaving worker "checks" each of its keys (ADM-4). A retry is queued
//    before the pump of the slot it freed (RETRY-1 before ADM-2).
//  - A leaving worker's attempts end in the order they were made (SEL-6); its
//    keys are checked in key order.
//  - A join is checked for its secret (CONN-1), then its number of adverts
//    (CONN-7), then its id (CONN-3), then what it offers (CONN-2) once the adverts
//    with too long a model id (CONN-8) and the keys outside the model list
//    (LIST-1) are dropped. Repeated keys in one advertisement add up; capacities are capped
//    at 2^20.
//  - A report is checked for its secret (RES-4), then whether the TaskID was ever
//    issued (RES-5, TASK-6), then whether the attempt ended (TASK-4), then its
//    worker (TASK-2).
//  - Quarantine (QUAR-1..QUAR-5): a seat's state changes in the order the core
//    makes them: an attempt's start after its timer is armed; its end after
//    everything else the end does (the retry placed, the slot released, the
//    outcome delivered). Any change of a seat's state queues a pump of its key
//    after the work queued so far; a leaving worker's keys are pumped after they
//    are checked. Cool-downs are numbered 1, 2, 3, ... in the order they start.
//  - Attempts are named by their numbers, 1, 2, 3, ... (TASK-1); the core's
//    TaskIDs are those numbers under its key, and the simulator and the property
//    tests translate between the two at the core's edge.
//
// Contract: single-threaded value type (copyable: rapidcheck copies it). Each
// event method clears effects() and appends what the spec says happens, in order.
// The caller tells it the environment: the time (set_now) and which streams are
// broken so that a send to them fails (set_stream_broken).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/attempt_observer.h"
#include "core/broker.h"
#include "seams/types.h"
#include "sim/timer_ids.h"

namespace aipool::sim {

struct ModelConfig {
  std::string secret;
  Micros attempt_timeout = 300 * kMicrosPerSecond;
  Micros job_deadline = 900 * kMicrosPerSecond;
  Micros slot_reclaim = 300 * kMicrosPerSecond;
  std::size_t queue_limit = 256;
  // LIST-1: when set, only these keys are offered; when unset, any (LIST-2).
  std::optional<std::vector<Key>> model_list;
  std::size_t max_models_per_worker = 1024;  // CONN-7
  std::size_t max_model_id_bytes = 256;      // CONN-8
  // TIME-5: per pipeline (0: the values above) and per listed key (LIST-4; 0: not set).
  std::array<Micros, kPipelineCount> pipeline_attempt_timeout{};
  std::array<Micros, kPipelineCount> pipeline_job_deadline{};
  std::map<Key, std::pair<Micros, Micros>> model_timeouts{};  // attempt timeout, job deadline
  std::uint32_t quarantine_after = 3;                    // QUAR-2; 0: off
  Micros quarantine_cooldown = 30 * kMicrosPerSecond;    // QUAR-2
  Micros quarantine_max_cooldown = 600 * kMicrosPerSecond;
};

// One thing the core does to the outside world, as both the model and the
// simulated seams record it (kEnd through the Broker's AttemptObserver).
struct Effect {
  enum class Kind : std::uint8_t { kSend, kClose, kOutcome, kEnd };
  Kind kind = Kind::kSend;
  WorkerId worker = 0;  // kSend, kClose; kOutcome: the last attempt's worker (0 if none)
  TaskId task = 0;      // kSend; kOutcome: the last attempt (0 if none)
  JobId job = 0;        // kSend, kOutcome
  Key key;              // kSend
  JobStatus status = JobStatus::kOk;  // kOutcome
  std::uint32_t attempts = 0;         // kOutcome
  AttemptEnd end = AttemptEnd::kResult;  // kEnd: how attempt `task` of `job` on `worker` ended (TASK-3)
  // kOutcome, model side: text the outcome's message must contain (empty: anything).
  std::string must_contain;
  std::string must_contain_too;
  // kOutcome, core side: the outcome's message.
  std::string message;

  // Equal as decisions: the message hints are checked separately.
  bool same_decision(const Effect& other) const;
};
std::string describe_effect(const Effect& effect);

// Counts of rare paths taken, for the simulator's "sometimes" probes.
struct ModelStats {
  std::uint64_t retries = 0;             // an attempt for a job that already had one (RETRY-1)
  std::uint64_t left_mid_task = 0;       // a worker left with open attempts (CONN-5)
  std::uint64_t waits_all_busy = 0;      // a job waited because every slot was taken (ADM-2)
  std::uint64_t waits_retrying = 0;      // a retrying job waited (RETRY-3)
  std::uint64_t wait_dispatches = 0;     // a waiting job was dispatched as a slot freed
  std::uint64_t late_released = 0;       // a late report released a held slot (SLOT-2)
  std::uint64_t slots_reclaimed = 0;     // a held slot was reclaimed by its timer (SLOT-3)
  std::uint64_t send_failures = 0;       // a send failed and the worker was closed (CONN-4)
  std::uint64_t queue_full = 0;          // ADM-3
  std::uint64_t all_failed = 0;          // RETRY-2
  std::uint64_t deadlines = 0;           // TIME-3
  std::uint64_t attempt_timeouts = 0;    // TIME-2
  std::uint64_t cancels_running = 0;     // a running job was cancelled (SLOT-1)
  std::uint64_t no_worker_waiting = 0;   // ADM-4: a waiting job lost its last worker
  std::uint64_t skipped_full = 0;        // a scan skipped a full or tried worker (SEL-2)
  std::uint64_t keys_forgotten = 0;      // a key went with its last worker (CAP-6)
  std::uint64_t quarantines = 0;         // a seat was quarantined (QUAR-2)
  std::uint64_t probes = 0;              // a probe was sent (QUAR-3)
  std::uint64_t probes_cleared = 0;      // a probe's result cleared its seat (QUAR-5)
  std::uint64_t blocked_skipped = 0;     // a scan skipped a blocked seat for a healthy one (QUAR-4)
  std::uint64_t blocked_taken = 0;       // a blocked seat took a job: nothing else was left (QUAR-4)
};

class ReferenceModel {
 public:
  struct Seat {
    Key key;
    std::uint32_t capacity = 0;
    std::uint32_t in_use = 0;
    // QUAR-1: the quarantine state.
    SeatState state = SeatState::kHealthy;
    std::uint32_t failures = 0;
    std::uint32_t strikes = 0;
    Micros until = 0;            // kQuarantined
    std::uint64_t cooldown = 0;  // kQuarantined: its number
    TaskId probe = 0;            // kProbing
  };
  struct Worker {
    WorkerId id = 0;
    bool live = false;
    std::vector<Seat> seats;  // sorted by key, one per key
  };
  struct KeyState {
    Key key;
    std::vector<WorkerId> rotation;  // SEL-1: head first
    std::vector<JobId> waiting;      // ADM-2, RETRY-3: head first
  };
  struct Job {
    JobId id = 0;
    Key key;
    std::vector<WorkerId> tried;  // in order
    TaskId running = 0;           // 0 while waiting or between attempts
    bool waiting = false;
    TaskId last_task = 0;
    std::string last_worker_error;  // empty unless the last failure was a worker's report
  };
  struct Task {
    JobId job = 0;
    WorkerId worker = 0;
    Key key;
    bool abandoned = false;
  };
  struct Timer {
    TimerName name;
    Micros at = 0;
    std::uint64_t seq = 0;
  };

  explicit ReferenceModel(ModelConfig config);

  // ---- the environment
  void set_now(Micros now) { now_ = now; }
  Micros now() const { return now_; }
  void set_stream_broken(WorkerId id, bool broken);

  // ---- events (each starts a step: effects() then holds what it did)
  JoinVerdict join(WorkerId id, std::string_view secret, const std::vector<Advert>& adverts);
  void leave(WorkerId id);
  JobId submit(const Key& key);
  void cancel(JobId id);
  // `rejected_input`: the worker rejected the request itself (RETRY-6).
  ReportVerdict report(std::string_view credentials, TaskId task, std::optional<WorkerId> from,
                       bool ok, const std::string& error, bool rejected_input = false);
  void timer_fired(TimerName timer);
  // For drivers without a clock of their own (the property tests): fires every
  // armed timer due at or before `until` in (time, arming order), then sets the
  // time to `until`. Effects of all of them accumulate in one step.
  void advance_to(Micros until);

  // ---- what the last step did
  const std::vector<Effect>& effects() const { return effects_; }
  // The last join's keys: ignored because not listed (LIST-1), in the order they
  // were first advertised; and offered, in key order.
  const std::vector<Key>& join_ignored() const { return join_ignored_; }
  const std::vector<Key>& join_offered() const { return join_offered_; }
  // Jobs that began to wait, each with the number of effects before it.
  const std::vector<std::pair<std::size_t, JobId>>& waits() const { return waits_; }

  // ---- state
  const std::vector<Worker>& workers() const { return workers_; }  // every worker ever accepted
  const Worker* live_worker(WorkerId id) const;
  const std::vector<KeyState>& keys() const { return keys_; }
  const KeyState* key_state(const Key& key) const;
  // CAP-6: the keys the orchestrator holds: those of live workers or waiting jobs,
  // and the listed ones; sorted.
  std::vector<Key> held_keys() const;
  const std::map<JobId, Job>& jobs() const { return jobs_; }
  const std::map<TaskId, Task>& tasks() const { return tasks_; }
  const std::vector<Timer>& timers() const { return timers_; }
  std::optional<Micros> next_timer_at() const;
  TaskId last_task_id() const { return next_task_ - 1; }
  JobId last_job_id() const { return next_job_ - 1; }
  bool offers(const Key& key) const;
  std::size_t open_attempts_of(WorkerId id) const;
  const ModelStats& stats() const { return stats_; }
  const ModelConfig& config() const { return config_; }

 private:
  enum class WorkKind : std::uint8_t { kPlace, kPump, kCheckKey };
  enum class Verdict : std::uint8_t { kResult, kCounted, kUncounted };  // QUAR-1
  struct Work {
    WorkKind kind;
    JobId job = 0;  // kPlace
    Key key;        // kPump, kCheckKey
  };

  void begin_step();
  void fire(TimerName timer);
  void drain();
  void place(Job& job);
  void pump(const Key& key);
  void check_key(const Key& key);
  std::optional<WorkerId> pick(const Key& key, const std::vector<WorkerId>& tried);
  void send(Job& job, WorkerId worker);
  bool tried_every_live_worker(const Job& job) const;
  bool any_free_slot(const Key& key) const;
  void enqueue(Job& job, bool at_head);
  void unqueue(Job& job);
  void abandon_running(Job& job);
  void release_task(TaskId task);
  void remove_worker(WorkerId id);
  void finish(Job& job, JobStatus status, std::string must_contain, std::string must_contain_too);
  // TIME-5: the key's attempt timeout and job deadline.
  Micros attempt_timeout_for(const Key& key) const;
  Micros job_deadline_for(const Key& key) const;
  // Quarantine (reference_quarantine.cc).
  static bool blocked(const Seat& seat);
  bool skips_blocked(const Key& key, const std::vector<WorkerId>& tried) const;
  void seat_sent(WorkerId worker, const Key& key, TaskId task);
  void seat_ended(WorkerId worker, const Key& key, TaskId task, Verdict verdict);
  void quarantine(Seat& seat);
  void cooldown_ended(std::uint64_t number);
  void ended(TaskId task, AttemptEnd end);
  std::size_t traced_effects() const;  // effects that are not kEnd
  void arm(TimerKind kind, std::uint64_t target, Micros at);
  void cancel_timer(TimerKind kind, std::uint64_t target);

  Worker* find_live(WorkerId id);
  Seat* seat_of(WorkerId worker, const Key& key);
  const Seat* seat_of(WorkerId worker, const Key& key) const;
  KeyState& key_state_or_add(const Key& key);

  ModelConfig config_;
  Micros now_ = 0;
  std::vector<Worker> workers_;
  std::vector<WorkerId> ever_used_;
  std::vector<WorkerId> broken_;
  std::vector<KeyState> keys_;
  std::map<JobId, Job> jobs_;
  std::map<TaskId, Task> tasks_;
  std::vector<Timer> timers_;
  std::deque<Work> work_;
  std::vector<Effect> effects_;
  std::vector<Key> join_ignored_;
  std::vector<Key> join_offered_;
  std::vector<std::pair<std::size_t, JobId>> waits_;
  ModelStats stats_;
  JobId next_job_ = 1;
  TaskId next_task_ = 1;
  std::uint64_t next_cooldown_ = 1;
  std::uint64_t next_timer_seq_ = 1;
};

}  // namespace aipool::sim
