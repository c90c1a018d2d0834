// File: world.h
// The simulated world: one or more orchestrators, each the real Broker (the same
// src/core code production runs) on a SimClock and a SimTransport, the simulated
// workers and clients around them, and an EventQueue ordered by (time, sequence).
// One thread; time jumps from event to event and never sleeps.
//
// A generated run (run()) has two phases (TigerBeetle's VOPR):
//  1. Safety, [0, duration): client load and every fault of the WorldConfig
//     (churn, crashes, broken streams, lost notices, slow, failing and hanging
//     executors, duplicate, late and forged uploads, foreign load, stale timers).
//     After every event the checker runs (checker.h) and, at CheckLevel::kFull, the
//     reference model is compared decision by decision.
//  2. Liveness, from `duration` on: faults and load stop, every worker comes back
//     and new executions succeed. The stated bound: by
//        quiet_at = duration + job_deadline + max(slot_reclaim, longest hang
//                   (attempt_timeout + 2 slot_reclaim), foreign hold,
//                   downtime + 30 s reconnect cap) + 60 s
//     every job has its outcome, no slot is in use, no attempt is live and every
//     worker is registered again; then each orchestrator gets one probe job per
//     key it offers, 30 s apart, each of which must succeed within 30 s; the
//     world must fall quiet by quiet_at + 30 s per orchestrator + 30 s +
//     job_deadline + slot_reclaim + 60 s; and at the end every job has exactly
//     one outcome and every attempt ended exactly once (TASK-3, TASK-5).
// A failure stops the run; failure() names the rule and recent_events() the
// events before it.
//
// Contract: single-threaded; the World owns everything it drives. The scripted_*
// methods are for the scenario runner and act at the current time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/attempt_observer.h"
#include "core/broker.h"
#include "sim/checker.h"
#include "sim/event.h"
#include "sim/event_queue.h"
#include "sim/key_table.h"
#include "sim/prng.h"
#include "sim/reference_model.h"
#include "sim/sim_clock.h"
#include "sim/sim_transport.h"
#include "sim/sim_worker.h"
#include "sim/world_config.h"

namespace aipool::sim {

enum class FailureKind : std::uint8_t { kNone, kInvariant, kLiveness, kNondeterminism };
const char* failure_kind_name(FailureKind kind);

struct Failure {
  FailureKind kind = FailureKind::kNone;
  std::string rule;
  std::string message;
  Micros at = 0;
  std::uint64_t event = 0;  // 1-based index of the event during which it was seen
};

struct RunStats {
  std::uint64_t events = 0;
  std::uint64_t jobs = 0;  // submitted, probes included
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t attempts = 0;  // job notices the cores sent
  std::uint64_t retries = 0;   // attempts beyond a job's first
  Micros sim_time = 0;
};

// A job as its client sees it.
struct ClientJob {
  std::uint32_t key = 0;
  Micros submitted_at = 0;
  Micros done_at = -1;
  std::uint32_t outcomes = 0;
  JobStatus status = JobStatus::kOk;
  std::vector<WorkerId> tried;  // the workers it was sent to, in order
  bool probe = false;
  std::string name;
};

// An attempt as the world saw it sent.
struct SentTask {
  JobId job = 0;
  WorkerId worker = 0;
  bool result_delivered = false;
  bool ended = false;  // the core said how it ended (AttemptObserver)
};

class World;

// Hands the Broker's attempt ends to the world (checking runs only).
class AttemptRecorder final : public AttemptObserver {
 public:
  AttemptRecorder(World& world, std::uint8_t orch) : world_(world), orch_(orch) {}
  void attempt_started(const AttemptEvent& event) override;
  void attempt_ended(const AttemptEvent& event) override;

 private:
  World& world_;
  std::uint8_t orch_;
};

// A WorkerId the world handed out, and whether the core holds it live.
struct SessionInfo {
  std::uint32_t worker = 0;  // physical worker index
  bool core_live = false;
};

struct Orchestrator {
  std::uint8_t index = 0;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<SimTransport> transport;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<AttemptRecorder> recorder;  // checking runs only
  std::unique_ptr<ReferenceModel> model;  // CheckLevel::kFull only
  std::vector<ClientJob> jobs;            // by JobId - 1 (without checks: probes only)
  JobId submitted = 0;
  std::set<JobId> open_jobs;
  std::unordered_map<TaskId, SentTask> tasks;
  std::unordered_map<WorkerId, SessionInfo> sessions;
  std::vector<WorkerId> accepted_ids;  // ever accepted, in order
  std::vector<std::uint32_t> listed;   // LIST-1: the keys of its model list; empty: none
  std::vector<Effect> effects;         // what the core did during the current call
  TaskId last_task = 0;                // the number of the last attempt seen sent
  // TASK-1: the core's TaskIDs are its attempts' numbers under a key the world draws
  // from the seed. The world traces and compares numbers (as the reference model
  // does) and posts TaskIDs; ids not above 0 stand for themselves.
  IdCipher task_ids{SipKey{}};
  TaskId number_of(TaskId id) const {
    return id > 0 ? static_cast<TaskId>(task_ids.decode(static_cast<std::uint64_t>(id))) : id;
  }
  TaskId id_of(TaskId number) const {
    return number > 0 ? static_cast<TaskId>(task_ids.encode(static_cast<std::uint64_t>(number))) : number;
  }
};

class World final : public TransportObserver {
 public:
  // `scripted`: no generated load, churn or faults; scenario commands drive it.
  explicit World(const WorldConfig& config, bool scripted = false);
  ~World() override;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // ---- running
  void run();                     // a generated run, both phases, then the final checks
  void run_until(Micros until);   // events due up to `until`; then the time is `until`
  void settle() { run_until(now_); }
  bool step();                    // one event; false when none is left or after a failure

  // ---- scripted control (scenario.cc), at the current time; each settles after
  std::uint32_t scripted_worker(const std::string& name, const std::vector<Advert>& adverts);
  std::optional<std::uint32_t> find_worker(const std::string& name) const;
  std::string worker_name(std::uint32_t worker) const;
  void scripted_exec(std::uint32_t worker, const ExecProfile& profile);
  void scripted_join(std::uint32_t worker, std::uint8_t orch, std::string_view secret);
  JobId scripted_submit(std::uint8_t orch, const Key& key, const std::string& name);
  void scripted_cancel(std::uint8_t orch, JobId job);
  void scripted_kill(std::uint32_t worker);
  void scripted_leave(std::uint32_t worker);
  void scripted_break(std::uint32_t worker, std::uint8_t orch);
  void scripted_post(std::uint8_t orch, std::uint32_t worker, TaskId task, bool ok,
                     const std::string& error, std::string_view secret,
                     std::optional<WorkerId> from, bool rejected_input = false);
  std::string scripted_state(std::uint8_t orch) const;
  void scripted_drain();
  std::optional<JobId> find_job(std::uint8_t orch, const std::string& name) const;
  // The worker's latest session id with that orchestrator; nullopt if it never joined.
  std::optional<WorkerId> session_id(std::uint32_t worker, std::uint8_t orch) const;
  const std::string& secret() const { return secret_; }

  // ---- determinism: a running hash of (time, event, effects) after every event
  void record_hashes(std::vector<std::uint64_t>* out) { record_ = out; }
  void expect_hashes(const std::vector<std::uint64_t>* expected) { expected_ = expected; }
  std::uint64_t hash() const { return hash_; }

  // ---- output
  void set_trace(std::function<void(const std::string&)> sink) { trace_ = std::move(sink); }
  bool failed() const { return failure_.kind != FailureKind::kNone; }
  const Failure& failure() const { return failure_; }
  const RunStats& stats() const { return stats_; }
  ProbeCounts probes() const;
  std::string recent_events() const;
  std::string describe_event(const Event& event) const;
  Micros now() const { return now_; }
  std::size_t pending_events() const { return queue_.size(); }
  const WorldConfig& config() const { return config_; }
  std::size_t orchestrator_count() const { return orchs_.size(); }
  const Orchestrator& orchestrator(std::size_t i) const { return *orchs_[i]; }
  std::size_t worker_count() const { return workers_.size(); }
  const KeyTable& keys() const { return keys_; }

  // TransportObserver.
  void on_send(std::uint8_t orch, const JobNotice& notice, std::uint32_t key, bool ok) override;
  void on_close(std::uint8_t orch, WorkerId worker, std::string_view reason) override;
  // From AttemptRecorder: TASK-3, an attempt ends exactly once.
  void on_attempt_ended(std::uint8_t orch, const AttemptEvent& event);
  // From AttemptRecorder: QUAR-4, checked as the core sends.
  void on_attempt_started(std::uint8_t orch, const AttemptEvent& event);

 private:
  // set-up, and making and timing events (world_setup.cc)
  void make_orchestrators();
  void make_generated_world();
  void add_generated_worker(Prng& setup, std::uint32_t w);
  ExecProfile draw_profile(Prng& prng);
  void schedule(Event event) { queue_.push(event); }
  Event at_delay(Micros delay, EventKind kind) const;
  Micros draw(Micros max);
  Micros draw_between(Micros low, Micros high);

  // the loop (world.cc)
  void handle(const Event& event);
  void after_event(const Event& event);
  void compact_queue();
  // The next event, merged from the queue and the clocks' timer lanes; nullptr
  // when there is none. pop_next() removes what peek() returned.
  const Event* peek();
  Event pop_next();
  Event take_peeked(const Event* next);  // removes what the last peek() returned

  // workers' sessions and churn (world_sessions.cc)
  void on_connect(const Event& event);
  void connect(std::uint32_t worker, std::uint8_t orch, std::string_view secret);
  void on_stream_break(const Event& event);
  void on_stream_end(const Event& event);
  void on_crash(const Event& event);
  void on_leave(const Event& event);
  void schedule_churn(std::uint32_t worker, Micros after);
  void schedule_reconnect(std::uint32_t worker, std::uint8_t orch);
  void schedule_connect(std::uint32_t worker, std::uint8_t orch, Micros delay);
  void end_session_on_worker_side(std::uint32_t worker, std::uint8_t orch, Micros detect);

  // executions and uploads (world_exec.cc)
  void on_notice(const Event& event);
  void on_exec_done(const Event& event);
  void on_upload(const Event& event);
  void schedule_upload(std::uint8_t orch, std::uint32_t worker, TaskId task, WorkerId from,
                       bool ok, std::uint32_t error, Micros delay);

  // clients, forgers and foreign load (world_load.cc)
  void on_submit(const Event& event);
  void schedule_forgeries();
  void schedule_next_submits();
  void on_forged(const Event& event);
  void on_forged_join(const Event& event);
  void on_foreign_take(const Event& event);
  void on_foreign_give(const Event& event);

  // the liveness phase (world_liveness.cc)
  void on_heal();
  void on_quiet_check();
  bool check_settled();
  bool check_listed_prices();
  bool check_reconnected();
  void schedule_probes();
  void on_probe(const Event& event);
  void final_checks();

  // scripted control (world_script.cc)
  void scripted_step(const std::string& what, const std::function<void()>& action);

  // the core, through the model and the checks (world_core.cc)
  JoinVerdict core_join(Orchestrator& o, const JoinRequest& request, std::string* message);
  void core_leave(Orchestrator& o, WorkerId id, std::string_view reason);
  JobId core_submit(Orchestrator& o, std::uint32_t key, bool probe, const std::string& name);
  void core_cancel(Orchestrator& o, JobId id);
  ReportVerdict core_report(Orchestrator& o, const Report& report, bool forged);
  void core_timer(Orchestrator& o, TimerId id, bool stale);
  void on_outcome(std::uint8_t orch, const JobOutcome& outcome);
  const SimWorker* send_target(const Orchestrator& o, const JobNotice& notice, std::uint32_t key);
  void trace_outcome(const Orchestrator& o, const JobOutcome& outcome);
  bool deliver_result(Orchestrator& o, const JobOutcome& outcome);
  void begin_call(Orchestrator& o);
  void end_call(Orchestrator& o);
  void fail(FailureKind kind, std::string rule, std::string message);
  void mix(std::uint64_t value);

  // names and the trace (trace.cc)
  std::string job_name(const Orchestrator& o, JobId job) const;
  std::string session_name(const Orchestrator& o, WorkerId id) const;
  std::string orch_prefix(std::uint8_t orch) const;
  void trace(const std::string& line);
  void flush_trace();  // the lines held back during a core call, after its headline
  bool tracing() const { return static_cast<bool>(trace_); }

  static constexpr Micros kReconnectCap = seconds(30);  // RECON-1
  static constexpr Micros kProbeBound = seconds(30);    // a probe job's outcome, after the heal
  static constexpr Micros kProbeGap = seconds(30);      // between two orchestrators' probes

  WorldConfig config_;
  bool scripted_;
  bool checking_;  // per-job payloads and results, the world's own records
  Micros now_ = 0;
  EventQueue<Event> queue_;
  Event peeked_;                   // a lane timer, as peek() returns it
  SimClock* peeked_clock_ = nullptr;  // the clock whose lane peek() chose; nullptr: the queue
  KeyTable keys_;
  std::uint32_t nobody_key_ = 0;  // a key no worker offers (ADM-1)
  std::vector<std::unique_ptr<Orchestrator>> orchs_;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  std::map<std::pair<std::uint8_t, TaskId>, std::pair<std::uint32_t, std::uint32_t>> manual_runs_;
  Prng world_prng_;     // root; split into the others
  Prng load_prng_;      // client load
  Prng fault_prng_;     // churn, forgeries, foreign load
  Prng upload_prng_;    // upload delays and anonymity
  Prng reject_prng_;    // which worker errors reject the input; seeded apart from the root
  WorkerId next_worker_id_ = 1;
  std::uint64_t submits_scheduled_ = 0;
  std::uint64_t jobs_submitted_ = 0;
  bool healed_ = false;
  Micros quiet_at_ = 0;
  Micros hard_stop_ = 0;
  Micros hang_max_ = 0;
  std::vector<std::pair<std::uint8_t, JobId>> probe_jobs_;
  ProbeCounts world_probes_;
  RunStats stats_;
  Failure failure_;
  std::uint64_t hash_ = 0x243F6A8885A308D3ULL;
  std::vector<std::uint64_t>* record_ = nullptr;
  const std::vector<std::uint64_t>* expected_ = nullptr;
  std::function<void(const std::string&)> trace_;
  std::optional<Violation> effect_violation_;  // reported after the invariants of the event
  bool hold_trace_ = false;  // inside a core call: its effects wait for the headline
  std::vector<std::string> held_trace_;
  std::size_t held_base_ = 0;  // held_trace_'s size when the current core call began
  static constexpr std::size_t kRing = 24;
  std::array<Event, kRing> ring_{};
  std::array<std::string, kRing> ring_text_{};  // for kScript events: the command
  std::uint64_t ring_count_ = 0;
  Payload shared_payload_;
  ResultPtr shared_result_;
  std::string secret_ = "sim-secret";
};

}  // namespace aipool::sim
