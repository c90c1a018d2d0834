// File: broker.h
// The orchestrator's core: the seed's RemoteAIWorkerManager as a deterministic
// state machine (spec/core.md). Events come in through the public methods; effects
// go out through the seams: job notices through WorkerTransport, timers through
// Clock, and each job's outcome through the completion callback given at submit.
//
// Contract:
//  - Single-threaded: production calls it under one mutex, the simulator from its
//    one thread. No method blocks.
//  - Nothing the Broker calls (transport, clock, completion callbacks) may call
//    back into it during that call (DET-2); re-entry aborts.
//  - Every submitted job gets exactly one outcome (TASK-5), possibly before
//    submit() returns (an immediate refusal, for example).
//  - Deterministic (SEL-6): the same sequence of calls with the same clock readings
//    gives the same effects in the same order.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/attempt_observer.h"
#include "core/id_cipher.h"
#include "core/id_table.h"
#include "core/quarantine.h"
#include "core/worker_pool.h"
#include "seams/clock.h"
#include "seams/transport.h"
#include "seams/types.h"

namespace aipool {

struct BrokerConfig {
  std::string secret;
  // CONN-7: a registration advertising more models than this is refused.
  std::size_t max_models_per_worker = 1024;
  // CONN-8: an advert whose model id is longer than this (in bytes) is skipped.
  std::size_t max_model_id_bytes = 256;
  Micros attempt_timeout = 300 * kMicrosPerSecond;  // TIME-2
  Micros job_deadline = 900 * kMicrosPerSecond;     // TIME-3
  // TIME-5: per pipeline, by Pipeline value; 0: attempt_timeout / job_deadline. A
  // model list offer's own values (ModelOffer, LIST-4) come first.
  std::array<Micros, kPipelineCount> pipeline_attempt_timeout{};
  std::array<Micros, kPipelineCount> pipeline_job_deadline{};
  Micros slot_reclaim = 300 * kMicrosPerSecond;     // SLOT-3
  std::size_t queue_limit = 256;                    // ADM-2, per key
  QuarantineConfig quarantine;                      // QUAR-2
  // LIST-1: when set, only these keys are offered; when empty, any (LIST-2).
  std::optional<std::vector<ModelOffer>> model_list;
  // TASK-1: the key of the TaskID permutation, drawn from a Random (draw_id_key)
  // for each Broker. Required: the Broker refuses to start without one.
  std::optional<SipKey> task_id_key;
#ifdef AIPOOL_BUG_INJECTION
  // Negative tests only: a set of kBug* flags. Exists only in aipool_core_buggy
  // (sim/CMakeLists.txt), never in the production aipool_core.
  std::uint32_t bugs_for_test = 0;
#endif
};

#ifdef AIPOOL_BUG_INJECTION
// Deliberate bugs that the simulator's negative tests must catch.
enum : std::uint32_t {
  kBugLeakSlotOnFailure = 1,  // a worker error does not give its slot back (CAP-4)
  kBugFirstFit = 2,           // selection takes the first free worker, no rotation (SEL-2)
  kBugRetryTriedWorker = 4,   // a retry may go to a worker already tried (RETRY-1, RETRY-4)
  kBugNoSlotReclaim = 8,      // an abandoned attempt's slot is never reclaimed by time (SLOT-3)
  kBugKeepUnusedKeys = 16,    // a key no live worker offers is never forgotten (CAP-6)
  kBugQuarantineIgnored = 32, // selection never skips a blocked seat (QUAR-4)
};
#endif

// A worker's registration: its id, the secret it presented and what it offers (WIRE-3).
struct JoinRequest {
  WorkerId id = 0;
  std::string_view secret;
  std::string address;
  std::vector<Advert> adverts;
  // CONN-7: how many model adverts the registration holds, when a reader stopped
  // before copying them all into `adverts`; 0: adverts.size().
  std::size_t advertised = 0;
};

enum class JoinVerdict { kAccepted, kInvalidSecret, kNothingOffered, kIdReused, kTooManyModels };

struct JoinResult {
  JoinVerdict verdict = JoinVerdict::kAccepted;
  std::string message;            // empty when accepted; says what to fix otherwise
  std::vector<Key> ignored_keys;  // LIST-1: advertised but not in the model list
  std::vector<Key> offered_keys;  // what this worker now serves
  std::vector<std::string> skipped;  // CONN-8: adverts skipped, each with the reason
};

enum class JobStatus {
  kOk,          // the worker's result
  kNoWorker,    // ADM-1, ADM-4 (HTTP 503)
  kQueueFull,   // ADM-3 (HTTP 503)
  kAllFailed,   // RETRY-2 (HTTP 502), with the last worker's error
  kRejected,    // RETRY-6 (HTTP 400), with the worker's error: the input is at fault
  kDeadline,    // TIME-3 (HTTP 504)
  kCancelled,   // the client went away
};
std::string_view job_status_name(JobStatus status);

struct JobOutcome {
  JobId job = 0;
  JobStatus status = JobStatus::kOk;
  std::string message;      // the reason, for a failure
  ResultPtr result;         // the worker's result, for kOk
  TaskId last_task = 0;     // the last attempt's TaskID (TASK-1), 0 if none was made
  WorkerId last_worker = 0; // the worker of the last attempt
  std::uint32_t attempts = 0;
};
using JobCallback = std::function<void(const JobOutcome&)>;

// What a worker posts to /aiResults (RES-1..RES-6), as the core sees it.
struct Report {
  std::string_view credentials;
  TaskId task = 0;
  // The poster, when the transport can tell (TASK-2); nullopt when it cannot.
  std::optional<WorkerId> from;
  bool ok = false;
  std::string error;  // worker error text when !ok
  // RETRY-6: when !ok, the worker rejected the request itself (RES-7); not retried.
  bool rejected_input = false;
  ResultPtr result;   // when ok
};

enum class ReportVerdict {
  kAccepted,      // 200: the attempt ended with this report
  kUnauthorized,  // 401 (RES-4): nothing changed
  kUnknownTask,   // 404 (RES-5): never issued; nothing changed
  kWrongWorker,   // 409 (TASK-2): bound to another worker; nothing changed
  kEnded,         // 409 (TASK-4): already ended; nothing changed
  kLateReleased,  // 409 (SLOT-2): already ended; its held slot was released
};
std::string_view report_verdict_name(ReportVerdict verdict);

// Read-only views for /workers, tests and the simulator's checks.
struct SeatView {
  Key key;
  std::uint32_t capacity = 0;
  std::uint32_t in_use = 0;
  // QUAR-6: the seat's quarantine state.
  SeatState state = SeatState::kHealthy;
  std::uint32_t consecutive_failures = 0;
  std::uint32_t strikes = 0;
  Micros quarantined_until = 0;  // kQuarantined only, on the core's clock
  TaskId probe_task = 0;         // kProbing only: the probe's TaskID
};
struct WorkerView {
  WorkerId id = 0;
  std::string address;
  Micros joined_at = 0;
  std::vector<SeatView> seats;
  std::size_t open_attempts = 0;
  std::size_t abandoned_attempts = 0;
};
struct KeyView {
  Key key;
  std::uint64_t capacity = 0;
  std::uint64_t in_use = 0;
  std::size_t waiting = 0;
  std::size_t workers = 0;
  const ModelOffer* offer = nullptr;  // LIST-3; nullptr without a model list
};
enum class JobState { kWaiting, kRunning };
struct JobView {
  JobState state = JobState::kWaiting;
  Key key;
  TaskId running_task = 0;
  std::vector<WorkerId> tried;  // in order
};
struct TaskView {
  JobId job = 0;
  WorkerId worker = 0;
  Key key;
  bool abandoned = false;
};

class Broker {
 public:
  Broker(BrokerConfig config, Clock& clock, WorkerTransport& transport);
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // CONN-1..3, LIST-1: a worker's registration. On kAccepted the worker is live and
  // may be sent jobs at once (the transport must already know `id`).
  JoinResult worker_joined(const JoinRequest& request);
  // CONN-4, CONN-5: the worker's stream ended. Idempotent.
  void worker_left(WorkerId id, std::string_view reason);

  // ADM-1..3: a validated job (RETRY-5). `on_done` gets its one outcome (TASK-5).
  JobId submit(const Key& key, Payload request, JobCallback on_done);
  // The client went away: the job ends as kCancelled if it had no outcome yet.
  void cancel(JobId job);
  // RES-4, RES-5, TASK-2..4, SLOT-2.
  ReportVerdict report(const Report& report);
  // LLM-5: a streamed result's head, judged as report() judges a post (RES-4, RES-5,
  // TASK-2, TASK-4, SLOT-2) without ending the attempt: kAccepted, with the
  // attempt's job in `job`, while the attempt is open. The stream's end is a report().
  ReportVerdict stream_head(const Report& head, JobId& job);
  // RETRY-7: binds the open attempt `task` to its job, which is then never retried;
  // false (nothing changed) when `task` is not its job's open attempt.
  bool bind(TaskId task);
  // A timer armed through the Clock came due (TIME-2, TIME-3, SLOT-3, TIME-4).
  void timer_fired(TimerId id);

  // Tells `observer` (nullptr: nobody) of every attempt started and ended.
  void set_observer(AttemptObserver* observer) { observer_ = observer; }

  // Views (no side effects).
  const BrokerConfig& config() const { return config_; }
  std::vector<WorkerView> workers() const;
  // One seat's view; nullopt when the worker is not live or does not offer the key.
  std::optional<SeatView> seat_view(WorkerId worker, const Key& key) const;
  std::vector<KeyView> keys() const;
  std::optional<KeyView> key_view(const Key& key) const;
  std::optional<JobView> job(JobId job) const;
  // The job's place in its key's wait queue (ADM-2), 1 for the head; 0 when it is
  // not waiting. Walks the queue: O(its length).
  std::size_t wait_position(JobId job) const;
  std::optional<TaskView> task(TaskId task) const;
  // The key's rotation queue, head first (SEL-1).
  std::vector<WorkerId> rotation(const Key& key) const;
  std::size_t open_jobs() const { return jobs_.size(); }
  std::size_t live_attempts() const { return tasks_.size(); }  // open + abandoned
  // TASK-1: attempts made so far (the counter's last number) and the TaskID of the
  // last one (0 if none); the permutation between attempt numbers and TaskIDs.
  std::uint64_t attempts_made() const { return next_attempt_ - 1; }
  TaskId last_task_id() const;
  const IdCipher& task_ids() const { return task_ids_; }

 private:
  struct Job {
    JobId id = 0;
    std::uint32_t key = 0;
    Payload request;
    JobCallback on_done;
    std::vector<WorkerId> tried;
    std::uint64_t running = 0;  // the open attempt's number (TASK-1); 0 while waiting
    bool waiting = false;
    std::list<JobId>::iterator wait_pos;
    std::string last_error;
    TaskId last_task = 0;  // the last attempt's TaskID
    Micros submitted_at = 0;
    Micros attempt_timeout = 0;  // TIME-5: its key's, taken at submit
    Micros job_deadline = 0;
    bool bound = false;  // RETRY-7: its open attempt's stream has reached the client
  };
  // An attempt, kept by its number (TASK-1); `id` is its TaskID on the wire.
  struct Task {
    TaskId id = 0;
    JobId job = 0;
    WorkerId worker = 0;
    Seat* seat = nullptr;
    Worker* owner = nullptr;  // the worker, live while the task is (remove_worker ends its tasks)
    bool abandoned = false;
    Micros sent_at = 0;
  };
  enum class WorkKind { kPlace, kPump, kCheckKey };
  struct Work {
    WorkKind kind;
    std::uint64_t target;  // JobId for kPlace, key index otherwise
  };
  class Entry;  // re-entry guard (DET-2)

  // CONN-1, CONN-7, CONN-3, CONN-8, LIST-1, CONN-2 in that order (broker_join.cc); when
  // accepted, `merged` holds the capacity per key to seat.
  JoinResult judge_join(const JoinRequest& request, std::map<Key, std::uint64_t>& merged) const;
  std::string nothing_offered_message(const JoinResult& result) const;
  // TIME-5 (broker_join.cc): works out the key's attempt timeout and job deadline.
  void set_key_times(std::uint32_t key);

  // The checks report() and stream_head() share; a verdict when they end the call
  // (SLOT-2's release done), nullopt with the attempt's number when it is open.
  std::optional<ReportVerdict> judge(const Report& report, std::uint64_t& number);
  void drain();
  void place(Job& job);
  void pump(std::uint32_t key);
  void check_key(std::uint32_t key);
  void forget_unused_keys();
  bool send_attempt(Job& job, Seat& seat);
  // QUAR-4 (broker_quarantine.cc): whether blocked seats are out of bounds for the
  // job, that is the key has a live seat the job has not tried that is not blocked.
  bool skips_blocked(const Job& job) const;
  Seat* pick_for(Job& job);
  // QUAR-1..QUAR-5: tells the Quarantine how an attempt on `seat` ended (or that it
  // was sent, `sent`), and dispatches the key's waiting jobs when the seat's state changed.
  void seat_sent(Seat& seat, std::uint64_t number);
  void seat_ended(Seat& seat, std::uint64_t number, AttemptVerdict verdict);
  void cooldown_ended(std::uint64_t number);
  bool tried_every_live_worker(const Job& job) const;
  void enqueue(Job& job, bool at_head);
  void unqueue(Job& job);
  void release_task(std::uint64_t number);
  void abandon_running(Job& job);
  void remove_worker(WorkerId id, std::string_view reason);
  void finish(Job& job, JobStatus status, std::string message, ResultPtr result);
  void notify_ended(const Task& task, AttemptEnd end, std::string_view detail);
  std::string no_worker_message(std::uint32_t key) const;
  const ModelOffer* offer_for(const Key& key) const;
  Job& job_at(JobId id);
  Task& task_at(std::uint64_t number);
#ifdef AIPOOL_BUG_INJECTION
  bool bug_selection_for_test() const;
  Seat* bug_pick_for_test(const Job& job);
#endif
  SeatView view_of(const Seat& seat) const;

  BrokerConfig config_;
  Clock& clock_;
  WorkerTransport& transport_;
  WorkerPool pool_;
  Quarantine quarantine_;
  IdTable<Job> jobs_;    // by JobId (increasing)
  IdTable<Task> tasks_;  // open and abandoned attempts, by attempt number (TASK-1)
  std::vector<std::list<JobId>> wait_;      // per key index
  struct KeyTimes {
    Micros attempt = 0;
    Micros deadline = 0;
  };
  std::vector<KeyTimes> key_times_;  // per key index (TIME-5)
  std::vector<Work> work_;  // drained to empty by every public call
  // CAP-6: keys whose last worker left during this call, forgotten at its end if
  // still unused; key indices below listed_keys_ are the model list's, never forgotten.
  std::vector<std::uint32_t> unused_keys_;
  std::size_t listed_keys_ = 0;
  JobId next_job_ = 1;
  IdCipher task_ids_;
  std::uint64_t next_attempt_ = 1;
  bool inside_ = false;
  AttemptObserver* observer_ = nullptr;
};

}  // namespace aipool
