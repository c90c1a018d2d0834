#include "core/broker.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/check.h"
#include "core/secret.h"
#include "core/slot_gate.h"
#include "core/timer_id.h"

namespace aipool {
namespace {

std::string seconds_text(Micros micros) {
  const Micros whole = micros / kMicrosPerSecond;
  const Micros millis = (micros % kMicrosPerSecond) / 1000;
  std::string out = std::to_string(whole);
  if (millis != 0) {
    std::string frac = std::to_string(millis);
    out += '.';
    out.append(3 - frac.size(), '0');
    out += frac;
    while (out.back() == '0') out.pop_back();
  }
  return out + " s";
}

}  // namespace

// DET-2: marks the Broker busy for the length of a public call; a second entry
// while busy is a callback re-entering the core, which is a bug.
class Broker::Entry {
 public:
  explicit Entry(Broker& broker) : broker_(broker) {
    AIPOOL_CHECK(!broker.inside_, "Broker re-entered from a seam or a callback (DET-2)");
    broker.inside_ = true;
  }
  ~Entry() { broker_.inside_ = false; }
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;

 private:
  Broker& broker_;
};

namespace {
const SipKey& checked_task_id_key(const BrokerConfig& config) {
  AIPOOL_CHECK(config.task_id_key.has_value(), "Broker needs a task_id_key drawn from a Random (TASK-1)");
  return *config.task_id_key;
}
}  // namespace

Broker::Broker(BrokerConfig config, Clock& clock, WorkerTransport& transport)
    : config_(std::move(config)),
      clock_(clock),
      transport_(transport),
      quarantine_(config_.quarantine, clock),
      task_ids_(checked_task_id_key(config_)) {
  AIPOOL_CHECK(!config_.secret.empty(), "Broker needs a non-empty secret");
  AIPOOL_CHECK(config_.attempt_timeout > 0, "attempt_timeout must be positive");
  AIPOOL_CHECK(config_.job_deadline > 0, "job_deadline must be positive");
  AIPOOL_CHECK(config_.slot_reclaim > 0, "slot_reclaim must be positive");
  for (int p = 0; p < kPipelineCount; ++p) {
    AIPOOL_CHECK(config_.pipeline_attempt_timeout[p] >= 0 && config_.pipeline_job_deadline[p] >= 0,
                 "per-pipeline timeouts must not be negative");
  }
  AIPOOL_CHECK(config_.quarantine.cooldown > 0, "quarantine cooldown must be positive");
  AIPOOL_CHECK(config_.quarantine.max_cooldown >= config_.quarantine.cooldown,
               "quarantine max cooldown must be at least the cooldown");
  if (config_.model_list) {
    // Listed keys are interned up front so that views report them with their prices.
    for (const ModelOffer& offer : *config_.model_list) pool_.intern_key(offer.key);
    listed_keys_ = pool_.key_slots();
    wait_.resize(pool_.key_slots());
    quarantine_.resize(pool_.key_slots());
    for (std::uint32_t key = 0; key < listed_keys_; ++key) set_key_times(key);
  }
}

Broker::Job& Broker::job_at(JobId id) {
  Job* job = jobs_.find(id);
  AIPOOL_CHECK(job != nullptr, "job missing from the table");
  return *job;
}

Broker::Task& Broker::task_at(std::uint64_t number) {
  Task* task = tasks_.find(number);
  AIPOOL_CHECK(task != nullptr, "task missing from the table");
  return *task;
}

const ModelOffer* Broker::offer_for(const Key& key) const {
  if (!config_.model_list) return nullptr;
  for (const ModelOffer& offer : *config_.model_list) {
    if (offer.key == key) return &offer;
  }
  return nullptr;
}

// ---------------------------------------------------------------- workers

JoinResult Broker::worker_joined(const JoinRequest& request) {
  Entry entry(*this);
  std::map<Key, std::uint64_t> merged;
  JoinResult result = judge_join(request, merged);  // broker_join.cc
  if (result.verdict != JoinVerdict::kAccepted) return result;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> seats;
  for (const auto& [key, capacity] : merged) {
    const std::uint32_t capped = static_cast<std::uint32_t>(std::min<std::uint64_t>(capacity, 1U << 20));
    seats.emplace_back(pool_.intern_key(key), capped);
    result.offered_keys.push_back(key);
  }
  wait_.resize(pool_.key_slots());
  quarantine_.resize(pool_.key_slots());
  for (const auto& [key_index, capacity] : seats) set_key_times(key_index);
  pool_.add(request.id, request.address, clock_.now(), seats);
  for (const auto& [key_index, capacity] : seats) work_.push_back({WorkKind::kPump, key_index});
  drain();
  return result;
}

void Broker::worker_left(WorkerId id, std::string_view reason) {
  Entry entry(*this);
  remove_worker(id, reason);
  drain();
}

void Broker::remove_worker(WorkerId id, std::string_view reason) {
  Worker* worker = pool_.find(id);
  if (worker == nullptr) return;  // CONN-4: already gone
  std::vector<std::uint64_t> numbers = worker->tasks;
  std::sort(numbers.begin(), numbers.end());  // SEL-6: retries in the order the attempts were made
  for (std::uint64_t number : numbers) {
    Task& task = task_at(number);
    if (task.abandoned) {
      clock_.cancel_timer(timer_id(TimerKind::kReclaim, number));
    } else {
      Job& job = job_at(task.job);
      AIPOOL_CHECK(job.running == number, "open task not the job's running attempt");
      clock_.cancel_timer(timer_id(TimerKind::kAttempt, number));
      job.running = 0;
      job.last_error = "worker " + std::to_string(id) + " disconnected (" + std::string(reason) + ")";
      notify_ended(task, AttemptEnd::kDisconnect, job.last_error);
      work_.push_back({WorkKind::kPlace, job.id});  // RETRY-1
    }
    tasks_.erase(number);  // the slot goes with the worker's seat below (CONN-5)
  }
  std::unique_ptr<Worker> removed = pool_.remove(id);
  for (Seat& seat : removed->seats) {
    quarantine_.seat_leaving(seat);  // QUAR-1: the state goes with the worker
    work_.push_back({WorkKind::kCheckKey, seat.key});
  }
  // QUAR-4: a waiting job may be left with only blocked seats untried.
  for (const Seat& seat : removed->seats) work_.push_back({WorkKind::kPump, seat.key});
}

// ---------------------------------------------------------------- jobs

JobId Broker::submit(const Key& key, Payload request, JobCallback on_done) {
  Entry entry(*this);
  const JobId id = next_job_++;
  const std::optional<std::uint32_t> key_index = pool_.find_key(key);
  if (!key_index || !pool_.ledger().offers(*key_index)) {
    JobOutcome outcome;
    outcome.job = id;
    outcome.status = JobStatus::kNoWorker;  // ADM-1
    outcome.message = "no worker offers pipeline " + std::string(pipeline_name(key.pipeline)) +
                      " with model " + key.model;
    on_done(outcome);
    return id;
  }
  Job& job = jobs_.emplace(id);
  job.id = id;
  job.key = *key_index;
  job.request = std::move(request);
  job.on_done = std::move(on_done);
  job.submitted_at = clock_.now();
  job.attempt_timeout = key_times_[job.key].attempt;  // TIME-5
  job.job_deadline = key_times_[job.key].deadline;
  clock_.arm_timer(timer_id(TimerKind::kDeadline, id), job.submitted_at + job.job_deadline);
  work_.push_back({WorkKind::kPlace, id});
  drain();
  return id;
}

void Broker::cancel(JobId id) {
  Entry entry(*this);
  Job* job = jobs_.find(id);
  if (job == nullptr) return;
  Seat* seat = nullptr;
  const std::uint64_t number = job->running;
  if (number != 0) {
    seat = task_at(number).seat;
    notify_ended(task_at(number), AttemptEnd::kCancelled, "job cancelled");
  }
  abandon_running(*job);
  finish(*job, JobStatus::kCancelled, "cancelled by the client", nullptr);
  if (seat != nullptr) seat_ended(*seat, number, AttemptVerdict::kUncounted);  // QUAR-5
  drain();
}

std::optional<ReportVerdict> Broker::judge(const Report& report, std::uint64_t& number) {
  if (!same_secret(report.credentials, config_.secret)) return ReportVerdict::kUnauthorized;
  // TASK-6: the TaskID back to its attempt's number; 0 for an id outside the range.
  number = report.task > 0 ? task_ids_.decode(static_cast<std::uint64_t>(report.task)) : 0;
  if (number == 0 || number >= next_attempt_) return ReportVerdict::kUnknownTask;
  Task* found = tasks_.find(number);
  if (found == nullptr) return ReportVerdict::kEnded;
  Task& task = *found;
  if (report.from && *report.from != task.worker) return ReportVerdict::kWrongWorker;
  // What this report will touch, far apart in memory: load it all at once.
  __builtin_prefetch(task.owner);
  __builtin_prefetch(task.seat);
  jobs_.prefetch(task.job);
  if (task.abandoned) {  // SLOT-2
    clock_.cancel_timer(timer_id(TimerKind::kReclaim, number));
    release_task(number);
    drain();
    return ReportVerdict::kLateReleased;
  }
  return std::nullopt;
}

ReportVerdict Broker::stream_head(const Report& head, JobId& job) {
  Entry entry(*this);
  std::uint64_t number = 0;
  if (std::optional<ReportVerdict> verdict = judge(head, number)) return *verdict;
  job = task_at(number).job;  // LLM-5: the attempt stays open
  return ReportVerdict::kAccepted;
}

bool Broker::bind(TaskId task) {
  Entry entry(*this);
  const std::uint64_t number = task > 0 ? task_ids_.decode(static_cast<std::uint64_t>(task)) : 0;
  const Task* found = number == 0 || number >= next_attempt_ ? nullptr : tasks_.find(number);
  if (found == nullptr || found->abandoned) return false;
  Job& job = job_at(found->job);
  if (job.running != number) return false;
  job.bound = true;  // RETRY-7
  return true;
}

ReportVerdict Broker::report(const Report& report) {
  Entry entry(*this);
  std::uint64_t number = 0;
  if (std::optional<ReportVerdict> verdict = judge(report, number)) return *verdict;
  Task& task = task_at(number);
  Job& job = job_at(task.job);
  Seat& seat = *task.seat;
  clock_.cancel_timer(timer_id(TimerKind::kAttempt, number));
  job.running = 0;
  notify_ended(task, report.ok ? AttemptEnd::kResult : AttemptEnd::kWorkerError,
               report.ok ? std::string_view{} : std::string_view(report.error));
  if (report.ok) {
    release_task(number);
    finish(job, JobStatus::kOk, "", report.result);
  } else if (report.rejected_input) {  // RETRY-6: no other worker would accept it
    job.last_error = report.error;
    release_task(number);
    finish(job, JobStatus::kRejected, report.error, nullptr);
  } else {
    job.last_error = report.error.empty() ? "worker error" : report.error;
    work_.push_back({WorkKind::kPlace, job.id});  // RETRY-1, placed before the pump
#ifdef AIPOOL_BUG_INJECTION
    if ((config_.bugs_for_test & kBugLeakSlotOnFailure) != 0) {  // forgets the task, keeps the slot
      std::erase(task.owner->tasks, number);
      tasks_.erase(number);
      drain();
      return ReportVerdict::kAccepted;
    }
#endif
    release_task(number);
  }
  // QUAR-1: a worker full of other orchestrators' jobs (MULTI-2) is busy, not sick.
  const bool uncounted = report.rejected_input || report.error == SlotGate::kAtCapacity;
  seat_ended(seat, number,
             report.ok   ? AttemptVerdict::kResult
             : uncounted ? AttemptVerdict::kUncounted
                         : AttemptVerdict::kCounted);
  drain();
  return ReportVerdict::kAccepted;
}

void Broker::timer_fired(TimerId id) {
  Entry entry(*this);
  const auto kind = static_cast<TimerKind>(id >> kTimerKindShift);
  const std::uint64_t target = id & kTimerTargetMask;
  switch (kind) {
    case TimerKind::kAttempt: {  // TIME-2
      Task* task = tasks_.find(target);
      if (task == nullptr || task->abandoned) return;  // TIME-4
      Job& job = job_at(task->job);
      job.last_error = "attempt timeout: task " + std::to_string(task->id) + " on worker " +
                       std::to_string(task->worker) + " took longer than " +
                       seconds_text(job.attempt_timeout);
      notify_ended(*task, AttemptEnd::kTimeout, job.last_error);
      abandon_running(job);
      work_.push_back({WorkKind::kPlace, job.id});
      seat_ended(*task->seat, target, AttemptVerdict::kCounted);  // QUAR-1
      break;
    }
    case TimerKind::kDeadline: {  // TIME-3
      Job* job = jobs_.find(target);
      if (job == nullptr) return;  // TIME-4
      const std::uint64_t number = job->running;
      Seat* seat = number != 0 ? task_at(number).seat : nullptr;
      if (number != 0) notify_ended(task_at(number), AttemptEnd::kDeadline, "job deadline");
      abandon_running(*job);
      finish(*job, JobStatus::kDeadline,
             "job deadline exceeded after " + seconds_text(job->job_deadline), nullptr);
      if (seat != nullptr) seat_ended(*seat, number, AttemptVerdict::kUncounted);  // QUAR-5
      break;
    }
    case TimerKind::kReclaim: {  // SLOT-3
      const Task* task = tasks_.find(target);
      if (task == nullptr || !task->abandoned) return;  // TIME-4
      release_task(target);
      break;
    }
    case TimerKind::kCooldown:  // QUAR-3
      cooldown_ended(target);
      break;
    default:
      return;  // not one of ours
  }
  drain();
}

// ---------------------------------------------------------------- internals

void Broker::drain() {
  // Items pushed while draining are appended and taken in turn (FIFO); the
  // vector keeps its capacity, so steady work allocates nothing.
  for (std::size_t next = 0; next < work_.size(); ++next) {
    const Work work = work_[next];
    switch (work.kind) {
      case WorkKind::kPlace: {
        Job* job = jobs_.find(work.target);
        if (job != nullptr && job->running == 0 && !job->waiting) place(*job);
        break;
      }
      case WorkKind::kPump:
        pump(static_cast<std::uint32_t>(work.target));
        break;
      case WorkKind::kCheckKey:
        check_key(static_cast<std::uint32_t>(work.target));
        break;
    }
  }
  work_.clear();
  if (!unused_keys_.empty()) forget_unused_keys();
}

// CAP-6: at the end of a call no work refers to a key that no worker offers and no
// job waits for (ADM-4 ended those), so its index can go.
void Broker::forget_unused_keys() {
#ifdef AIPOOL_BUG_INJECTION
  if ((config_.bugs_for_test & kBugKeepUnusedKeys) != 0) unused_keys_.clear();
#endif
  for (std::uint32_t key : unused_keys_) {
    if (key < listed_keys_ || !pool_.key_live(key) || !pool_.queue(key).empty() || !wait_[key].empty()) continue;
    pool_.forget_key(key);
  }
  unused_keys_.clear();
}

void Broker::place(Job& job) {
  if (job.bound) {  // RETRY-7: its output has reached the client; no other worker may take over
    finish(job, JobStatus::kAllFailed, "stream failed: " + job.last_error, nullptr);
    return;
  }
#ifdef AIPOOL_BUG_INJECTION
  if (bug_selection_for_test()) {
    if (Seat* seat = bug_pick_for_test(job)) {
      send_attempt(job, *seat);
      return;
    }
  } else
#endif
  if (Seat* seat = pick_for(job)) {  // SEL-2, QUAR-4
    send_attempt(job, *seat);
    return;
  }
  if (!pool_.ledger().offers(job.key) || tried_every_live_worker(job)) {
    if (job.tried.empty()) {
      finish(job, JobStatus::kNoWorker, no_worker_message(job.key), nullptr);  // ADM-4
    } else {
      finish(job, JobStatus::kAllFailed, "all workers failed; last error: " + job.last_error,
             nullptr);  // RETRY-2
    }
    return;
  }
  enqueue(job, /*at_head=*/!job.tried.empty());  // ADM-2, RETRY-3
}

void Broker::pump(std::uint32_t key) {
  std::list<JobId>& queue = wait_[key];
  for (auto it = queue.begin(); it != queue.end() && pool_.queue(key).any_free();) {
    Job& job = job_at(*it);
    Seat* seat =
#ifdef AIPOOL_BUG_INJECTION
        bug_selection_for_test() ? bug_pick_for_test(job) :
#endif
        pick_for(job);
    if (seat == nullptr) {
      ++it;  // this job has tried every free worker; later jobs may still fit
      continue;
    }
    it = queue.erase(it);
    job.waiting = false;
    send_attempt(job, *seat);
  }
}

void Broker::check_key(std::uint32_t key) {
  if (!pool_.ledger().offers(key)) unused_keys_.push_back(key);  // CAP-6
  std::list<JobId>& queue = wait_[key];
  for (auto it = queue.begin(); it != queue.end();) {
    Job& job = job_at(*it);
    ++it;  // finish() unlinks the job
    if (!pool_.ledger().offers(key) || (!job.tried.empty() && tried_every_live_worker(job))) {
      if (job.tried.empty()) {
        finish(job, JobStatus::kNoWorker, no_worker_message(key), nullptr);  // ADM-4
      } else {
        finish(job, JobStatus::kAllFailed, "all workers failed; last error: " + job.last_error,
               nullptr);
      }
    }
  }
}

bool Broker::send_attempt(Job& job, Seat& seat) {
  const std::uint64_t number = next_attempt_++;  // TASK-1
  const auto task_id = static_cast<TaskId>(task_ids_.encode(number));
  const WorkerId worker_id = seat.worker;
  pool_.take_slot(seat);
  Task& task = tasks_.emplace(number, Task{task_id, job.id, worker_id, &seat, seat.owner, false, clock_.now()});
  task.owner->tasks.push_back(number);
  job.running = number;
  job.last_task = task_id;
  job.tried.push_back(worker_id);
  clock_.arm_timer(timer_id(TimerKind::kAttempt, number), clock_.now() + job.attempt_timeout);
  seat_sent(seat, number);  // QUAR-3
  const Key& key = pool_.key(job.key);
  if (observer_ != nullptr) {
    observer_->attempt_started(AttemptEvent{task_id, job.id, worker_id, &key, clock_.now(), 0, AttemptEnd::kResult, {},
                                            job.submitted_at, static_cast<std::uint32_t>(job.tried.size())});
  }
  JobNotice notice{worker_id, task_id, key.pipeline, key.model, job.request};
  if (transport_.send(notice)) return true;
  // A send failure ends the attempt and the worker (CONN-4), and the job moves on.
  clock_.cancel_timer(timer_id(TimerKind::kAttempt, number));
  job.running = 0;
  job.last_error = "sending task " + std::to_string(task_id) + " to worker " +
                   std::to_string(worker_id) + " failed";
  notify_ended(task, AttemptEnd::kSendFailure, job.last_error);
  work_.push_back({WorkKind::kPlace, job.id});
  release_task(number);
  transport_.close(worker_id, "send failed");
  remove_worker(worker_id, "send failed");
  return false;
}

bool Broker::tried_every_live_worker(const Job& job) const {
  std::size_t live_tried = 0;
  for (WorkerId id : job.tried) {
    const Worker* worker = pool_.find(id);
    if (worker == nullptr) continue;
    for (const Seat& seat : worker->seats) {
      if (seat.key == job.key) ++live_tried;
    }
  }
  return live_tried >= pool_.queue(job.key).size();
}

void Broker::enqueue(Job& job, bool at_head) {
  std::list<JobId>& queue = wait_[job.key];
  if (!at_head) {
    if (queue.size() >= config_.queue_limit) {  // ADM-3
      finish(job, JobStatus::kQueueFull,
             "wait queue full for " + key_name(pool_.key(job.key)) + " (" + std::to_string(queue.size()) +
                 " jobs waiting, limit " + std::to_string(config_.queue_limit) + ")",
             nullptr);
      return;
    }
    job.wait_pos = queue.insert(queue.end(), job.id);
  } else {
    // RETRY-3: after the jobs already retrying, ahead of jobs that have not started.
    auto pos = queue.begin();
    while (pos != queue.end() && !job_at(*pos).tried.empty()) ++pos;
    job.wait_pos = queue.insert(pos, job.id);
  }
  job.waiting = true;
}

void Broker::unqueue(Job& job) {
  if (!job.waiting) return;
  wait_[job.key].erase(job.wait_pos);
  job.waiting = false;
}

void Broker::release_task(std::uint64_t number) {
  const Task task = task_at(number);
  tasks_.erase(number);
  Worker* worker = task.owner;
  AIPOOL_CHECK(worker != nullptr && worker->id == task.worker, "task bound to a worker that is gone");
  auto pos = std::find(worker->tasks.begin(), worker->tasks.end(), number);
  AIPOOL_CHECK(pos != worker->tasks.end(), "task missing from its worker");
  *pos = worker->tasks.back();
  worker->tasks.pop_back();
  pool_.give_slot(*task.seat);  // CAP-4
  work_.push_back({WorkKind::kPump, task.seat->key});
}

void Broker::abandon_running(Job& job) {
  unqueue(job);
  if (job.running == 0) return;
  const std::uint64_t target = job.running;
  Task& task = task_at(job.running);
  clock_.cancel_timer(timer_id(TimerKind::kAttempt, target));
  task.abandoned = true;  // SLOT-1: the slot stays taken
#ifdef AIPOOL_BUG_INJECTION
  if ((config_.bugs_for_test & kBugNoSlotReclaim) == 0)
#endif
  clock_.arm_timer(timer_id(TimerKind::kReclaim, target), clock_.now() + config_.slot_reclaim);
  job.running = 0;
}

void Broker::finish(Job& job, JobStatus status, std::string message, ResultPtr result) {
  AIPOOL_CHECK(job.running == 0, "job finished while an attempt is open");
  unqueue(job);
  clock_.cancel_timer(timer_id(TimerKind::kDeadline, job.id));
  JobOutcome outcome;
  outcome.job = job.id;
  outcome.status = status;
  outcome.message = std::move(message);
  outcome.result = std::move(result);
  outcome.attempts = static_cast<std::uint32_t>(job.tried.size());
  if (!job.tried.empty()) outcome.last_worker = job.tried.back();
  outcome.last_task = job.last_task;
  JobCallback on_done = std::move(job.on_done);
  jobs_.erase(job.id);
  on_done(outcome);  // TASK-5: exactly once, after the job is gone
}

void Broker::notify_ended(const Task& task, AttemptEnd end, std::string_view detail) {
  if (observer_ == nullptr) return;
  observer_->attempt_ended(AttemptEvent{task.id, task.job, task.worker, &pool_.key(task.seat->key), task.sent_at,
                                        clock_.now(), end, detail});
}

std::string Broker::no_worker_message(std::uint32_t key) const {
  const Key& k = pool_.key(key);
  return "no worker offers pipeline " + std::string(pipeline_name(k.pipeline)) + " with model " +
         k.model;
}

#ifdef AIPOOL_BUG_INJECTION
bool Broker::bug_selection_for_test() const {
  return (config_.bugs_for_test & (kBugFirstFit | kBugRetryTriedWorker)) != 0;
}

// The deliberately wrong selections of the negative tests.
Seat* Broker::bug_pick_for_test(const Job& job) {
  const bool any_worker = (config_.bugs_for_test & kBugRetryTriedWorker) != 0;
  const bool skip = skips_blocked(job);  // QUAR-4 kept: each bug breaks one rule only
  const auto eligible = [&job, any_worker, skip](const Seat& seat) {
    if (skip && seat.health.blocked()) return false;
    return any_worker || std::find(job.tried.begin(), job.tried.end(), seat.worker) == job.tried.end();
  };
  if ((config_.bugs_for_test & kBugFirstFit) == 0) return pool_.pick(job.key, eligible);
  for (WorkerId id : pool_.worker_ids()) {  // first fit: lowest id, no rotation
    Seat* seat = pool_.find(id)->seat_for(job.key);
    if (seat != nullptr && seat->has_free_slot() && eligible(*seat)) return seat;
  }
  return nullptr;
}
#endif

}  // namespace aipool
