#include "sim/reference_model.h"

#include <algorithm>

namespace aipool::sim {

ReferenceModel::ReferenceModel(ModelConfig config) : config_(std::move(config)) {}

void ReferenceModel::set_stream_broken(WorkerId id, bool broken) {
  auto it = std::find(broken_.begin(), broken_.end(), id);
  if (broken && it == broken_.end()) broken_.push_back(id);
  if (!broken && it != broken_.end()) broken_.erase(it);
}

void ReferenceModel::begin_step() {
  effects_.clear();
  waits_.clear();
}

// ---------------------------------------------------------------- lookups

ReferenceModel::Worker* ReferenceModel::find_live(WorkerId id) {
  for (Worker& worker : workers_) {
    if (worker.id == id && worker.live) return &worker;
  }
  return nullptr;
}

const ReferenceModel::Worker* ReferenceModel::live_worker(WorkerId id) const {
  for (const Worker& worker : workers_) {
    if (worker.id == id && worker.live) return &worker;
  }
  return nullptr;
}

ReferenceModel::Seat* ReferenceModel::seat_of(WorkerId worker, const Key& key) {
  Worker* w = find_live(worker);
  if (w == nullptr) return nullptr;
  for (Seat& seat : w->seats) {
    if (seat.key == key) return &seat;
  }
  return nullptr;
}

const ReferenceModel::Seat* ReferenceModel::seat_of(WorkerId worker, const Key& key) const {
  const Worker* w = live_worker(worker);
  if (w == nullptr) return nullptr;
  for (const Seat& seat : w->seats) {
    if (seat.key == key) return &seat;
  }
  return nullptr;
}

const ReferenceModel::KeyState* ReferenceModel::key_state(const Key& key) const {
  for (const KeyState& state : keys_) {
    if (state.key == key) return &state;
  }
  return nullptr;
}

ReferenceModel::KeyState& ReferenceModel::key_state_or_add(const Key& key) {
  for (KeyState& state : keys_) {
    if (state.key == key) return state;
  }
  keys_.push_back(KeyState{key, {}, {}});
  return keys_.back();
}

std::vector<Key> ReferenceModel::held_keys() const {
  std::vector<Key> out;
  for (const KeyState& state : keys_) out.push_back(state.key);
  if (config_.model_list) out.insert(out.end(), config_.model_list->begin(), config_.model_list->end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// CAP-1, CAP-3: offered iff some live worker advertises it (capacities are > 0).
bool ReferenceModel::offers(const Key& key) const {
  const KeyState* state = key_state(key);
  return state != nullptr && !state->rotation.empty();
}

std::size_t ReferenceModel::open_attempts_of(WorkerId id) const {
  std::size_t count = 0;
  for (const auto& [task_id, task] : tasks_) {
    if (task.worker == id && !task.abandoned) ++count;
  }
  return count;
}

std::optional<Micros> ReferenceModel::next_timer_at() const {
  std::optional<Micros> earliest;
  for (const Timer& timer : timers_) {
    if (!earliest || timer.at < *earliest) earliest = timer.at;
  }
  return earliest;
}

// ---------------------------------------------------------------- timers

void ReferenceModel::arm(TimerKind kind, std::uint64_t target, Micros at) {
  cancel_timer(kind, target);  // arming an armed timer replaces it (seams/clock.h)
  timers_.push_back(Timer{TimerName{kind, target}, at, next_timer_seq_++});
}

void ReferenceModel::cancel_timer(TimerKind kind, std::uint64_t target) {
  const TimerName name{kind, target};
  std::erase_if(timers_, [&name](const Timer& timer) { return timer.name == name; });
}

// ---------------------------------------------------------------- events

JoinVerdict ReferenceModel::join(WorkerId id, std::string_view secret,
                                 const std::vector<Advert>& adverts) {
  begin_step();
  join_ignored_.clear();
  join_offered_.clear();
  if (secret != config_.secret) return JoinVerdict::kInvalidSecret;  // CONN-1
  if (adverts.size() > config_.max_models_per_worker) return JoinVerdict::kTooManyModels;  // CONN-7
  if (std::find(ever_used_.begin(), ever_used_.end(), id) != ever_used_.end()) {
    return JoinVerdict::kIdReused;  // CONN-3
  }
  std::vector<std::pair<Key, std::uint64_t>> merged;
  for (const Advert& advert : adverts) {
    if (advert.capacity == 0) continue;
    if (advert.key.model.size() > config_.max_model_id_bytes) continue;  // CONN-8
    if (config_.model_list && std::find(config_.model_list->begin(), config_.model_list->end(),
                                        advert.key) == config_.model_list->end()) {
      if (std::find(join_ignored_.begin(), join_ignored_.end(), advert.key) == join_ignored_.end()) {
        join_ignored_.push_back(advert.key);  // LIST-1: named in the answer, not offered
      }
      continue;
    }
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&advert](const auto& entry) { return entry.first == advert.key; });
    if (it == merged.end()) {
      merged.emplace_back(advert.key, advert.capacity);
    } else {
      it->second += advert.capacity;
    }
  }
  if (merged.empty()) return JoinVerdict::kNothingOffered;  // CONN-2
  std::sort(merged.begin(), merged.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Worker worker;
  worker.id = id;
  worker.live = true;
  for (const auto& [key, capacity] : merged) {
    const auto capped = static_cast<std::uint32_t>(std::min<std::uint64_t>(capacity, 1U << 20));
    worker.seats.push_back(Seat{key, capped, 0});
    join_offered_.push_back(key);
  }
  ever_used_.push_back(id);
  workers_.push_back(worker);
  for (const Seat& seat : worker.seats) {
    key_state_or_add(seat.key).rotation.push_back(id);  // SEL-1: at the back
  }
  for (const Seat& seat : worker.seats) work_.push_back(Work{WorkKind::kPump, 0, seat.key});
  drain();
  return JoinVerdict::kAccepted;
}

void ReferenceModel::leave(WorkerId id) {
  begin_step();
  remove_worker(id);
  drain();
}

JobId ReferenceModel::submit(const Key& key) {
  begin_step();
  const JobId id = next_job_++;
  if (!offers(key)) {  // ADM-1
    Effect outcome;
    outcome.kind = Effect::Kind::kOutcome;
    outcome.job = id;
    outcome.status = JobStatus::kNoWorker;
    outcome.must_contain = "no worker offers pipeline " + std::string(pipeline_name(key.pipeline)) +
                           " with model " + key.model;
    effects_.push_back(outcome);
    return id;
  }
  Job& job = jobs_[id];
  job.id = id;
  job.key = key;
  arm(TimerKind::kDeadline, id, now_ + job_deadline_for(key));  // TIME-3, TIME-5
  work_.push_back(Work{WorkKind::kPlace, id, {}});
  drain();
  return id;
}

void ReferenceModel::cancel(JobId id) {
  begin_step();
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;  // TASK-5: it already has its outcome
  const TaskId running = it->second.running;
  const std::optional<Task> task = running != 0 ? std::optional<Task>(tasks_.at(running)) : std::nullopt;
  if (running != 0) {
    ++stats_.cancels_running;
    ended(running, AttemptEnd::kCancelled);
  }
  abandon_running(it->second);  // SLOT-1
  finish(it->second, JobStatus::kCancelled, "", "");
  if (task) seat_ended(task->worker, task->key, running, Verdict::kUncounted);  // QUAR-5
  drain();
}

ReportVerdict ReferenceModel::report(std::string_view credentials, TaskId task_id,
                                     std::optional<WorkerId> from, bool ok,
                                     const std::string& error, bool rejected_input) {
  begin_step();
  if (credentials != config_.secret) return ReportVerdict::kUnauthorized;          // RES-4
  if (task_id <= 0 || task_id >= next_task_) return ReportVerdict::kUnknownTask;  // RES-5
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return ReportVerdict::kEnded;  // TASK-4
  const Task task = it->second;
  if (from && *from != task.worker) return ReportVerdict::kWrongWorker;  // TASK-2
  if (task.abandoned) {  // SLOT-2
    cancel_timer(TimerKind::kReclaim, static_cast<std::uint64_t>(task_id));
    release_task(task_id);
    ++stats_.late_released;
    drain();
    return ReportVerdict::kLateReleased;
  }
  Job& job = jobs_.at(task.job);
  cancel_timer(TimerKind::kAttempt, static_cast<std::uint64_t>(task_id));
  job.running = 0;
  ended(task_id, ok ? AttemptEnd::kResult : AttemptEnd::kWorkerError);  // TASK-3
  if (ok) {
    release_task(task_id);
    finish(job, JobStatus::kOk, "", "");
  } else if (rejected_input) {  // RETRY-6: ends the job, no retry
    release_task(task_id);
    finish(job, JobStatus::kRejected, error, "");
  } else {
    job.last_worker_error = error.empty() ? "worker error" : error;
    work_.push_back(Work{WorkKind::kPlace, job.id, {}});  // RETRY-1
    release_task(task_id);
  }
  seat_ended(task.worker, task.key, task_id,
             ok ? Verdict::kResult
             : rejected_input || error == "worker at capacity" ? Verdict::kUncounted  // QUAR-1, MULTI-2
                                                               : Verdict::kCounted);
  drain();
  return ReportVerdict::kAccepted;
}

void ReferenceModel::timer_fired(TimerName timer) {
  begin_step();
  fire(timer);
  drain();
}

void ReferenceModel::advance_to(Micros until) {
  begin_step();
  for (;;) {
    auto due = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->at > until) continue;
      if (due == timers_.end() || it->at < due->at || (it->at == due->at && it->seq < due->seq)) {
        due = it;
      }
    }
    if (due == timers_.end()) break;
    now_ = std::max(now_, due->at);
    const TimerName name = due->name;
    fire(name);
    drain();
  }
  now_ = std::max(now_, until);
}

void ReferenceModel::fire(TimerName timer) {
  cancel_timer(timer.kind, timer.target);  // it fired; a stale firing finds nothing (TIME-4)
  switch (timer.kind) {
    case TimerKind::kAttempt: {  // TIME-2
      auto it = tasks_.find(static_cast<TaskId>(timer.target));
      if (it == tasks_.end() || it->second.abandoned) return;  // TIME-4
      Job& job = jobs_.at(it->second.job);
      job.last_worker_error.clear();
      ++stats_.attempt_timeouts;
      const Task task = it->second;
      ended(static_cast<TaskId>(timer.target), AttemptEnd::kTimeout);
      abandon_running(job);
      work_.push_back(Work{WorkKind::kPlace, job.id, {}});  // RETRY-1
      seat_ended(task.worker, task.key, static_cast<TaskId>(timer.target), Verdict::kCounted);  // QUAR-1
      return;
    }
    case TimerKind::kDeadline: {  // TIME-3
      auto it = jobs_.find(timer.target);
      if (it == jobs_.end()) return;  // TIME-4
      const TaskId running = it->second.running;
      const std::optional<Task> task = running != 0 ? std::optional<Task>(tasks_.at(running)) : std::nullopt;
      if (running != 0) ended(running, AttemptEnd::kDeadline);
      abandon_running(it->second);
      const Micros deadline = job_deadline_for(it->second.key);
      finish(it->second, JobStatus::kDeadline, "job deadline exceeded",
             deadline % kMicrosPerSecond == 0 ? "after " + std::to_string(deadline / kMicrosPerSecond) + " s" : "");
      if (task) seat_ended(task->worker, task->key, running, Verdict::kUncounted);  // QUAR-5
      return;
    }
    case TimerKind::kReclaim: {  // SLOT-3
      auto it = tasks_.find(static_cast<TaskId>(timer.target));
      if (it == tasks_.end() || !it->second.abandoned) return;  // TIME-4
      ++stats_.slots_reclaimed;
      release_task(static_cast<TaskId>(timer.target));
      return;
    }
    case TimerKind::kCooldown:  // QUAR-3
      cooldown_ended(timer.target);
      return;
    case TimerKind::kUnknown:
      return;
  }
}

// ---------------------------------------------------------------- follow-up work

void ReferenceModel::drain() {
  while (!work_.empty()) {
    const Work work = work_.front();
    work_.pop_front();
    switch (work.kind) {
      case WorkKind::kPlace: {
        auto it = jobs_.find(work.job);
        if (it != jobs_.end() && it->second.running == 0 && !it->second.waiting) place(it->second);
        break;
      }
      case WorkKind::kPump:
        pump(work.key);
        break;
      case WorkKind::kCheckKey:
        check_key(work.key);
        break;
    }
  }
  // CAP-6: keys nobody offers or waits for are forgotten (listed ones stay held).
  std::erase_if(keys_, [this](const KeyState& state) {
    if (!state.rotation.empty() || !state.waiting.empty()) return false;
    const bool listed = config_.model_list && std::find(config_.model_list->begin(), config_.model_list->end(),
                                                        state.key) != config_.model_list->end();
    if (!listed) ++stats_.keys_forgotten;
    return true;
  });
}

bool ReferenceModel::any_free_slot(const Key& key) const {
  const KeyState* state = key_state(key);
  if (state == nullptr) return false;
  for (WorkerId id : state->rotation) {
    const Seat* seat = seat_of(id, key);
    if (seat != nullptr && seat->in_use < seat->capacity) return true;
  }
  return false;
}

// RETRY-2, ADM-4: every live worker of the key has been tried for this job.
bool ReferenceModel::tried_every_live_worker(const Job& job) const {
  std::size_t live_tried = 0;
  for (WorkerId id : job.tried) {
    if (seat_of(id, job.key) != nullptr) ++live_tried;
  }
  const KeyState* state = key_state(job.key);
  return live_tried >= (state == nullptr ? 0 : state->rotation.size());
}

void ReferenceModel::place(Job& job) {
  if (std::optional<WorkerId> worker = pick(job.key, job.tried)) {
    send(job, *worker);
    return;
  }
  if (!offers(job.key) || tried_every_live_worker(job)) {
    if (job.tried.empty()) {  // ADM-4
      finish(job, JobStatus::kNoWorker,
             "no worker offers pipeline " + std::string(pipeline_name(job.key.pipeline)) +
                 " with model " + job.key.model,
             "");
    } else {  // RETRY-2
      finish(job, JobStatus::kAllFailed, "all workers failed", job.last_worker_error);
    }
    return;
  }
  enqueue(job, /*at_head=*/!job.tried.empty());  // ADM-2, RETRY-3
}

// ADM-2: waiting jobs are dispatched in order as slots free; a job that has tried
// every free worker stays and later jobs may still go.
void ReferenceModel::pump(const Key& key) {
  std::size_t i = 0;
  for (;;) {
    KeyState& state = key_state_or_add(key);
    if (i >= state.waiting.size() || !any_free_slot(key)) break;
    Job& job = jobs_.at(state.waiting[i]);
    std::optional<WorkerId> worker = pick(key, job.tried);
    if (!worker) {
      ++i;
      continue;
    }
    KeyState& again = key_state_or_add(key);
    again.waiting.erase(again.waiting.begin() + static_cast<std::ptrdiff_t>(i));
    job.waiting = false;
    ++stats_.wait_dispatches;
    send(job, *worker);
  }
}

// ADM-4: after a worker left, waiting jobs of its keys that can no longer be
// served fail.
void ReferenceModel::check_key(const Key& key) {
  const std::vector<JobId> waiting = key_state_or_add(key).waiting;
  for (JobId id : waiting) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !it->second.waiting) continue;
    Job& job = it->second;
    if (!offers(key) || (!job.tried.empty() && tried_every_live_worker(job))) {
      ++stats_.no_worker_waiting;
      if (job.tried.empty()) {
        finish(job, JobStatus::kNoWorker,
               "no worker offers pipeline " + std::string(pipeline_name(key.pipeline)) +
                   " with model " + key.model,
               "");
      } else {
        finish(job, JobStatus::kAllFailed, "all workers failed", job.last_worker_error);
      }
    }
  }
}

void ReferenceModel::send(Job& job, WorkerId worker) {
  const TaskId task_id = next_task_++;  // TASK-1
  Seat* seat = seat_of(worker, job.key);
  ++seat->in_use;  // CAP-4
  tasks_[task_id] = Task{job.id, worker, job.key, false};
  if (!job.tried.empty()) ++stats_.retries;
  job.running = task_id;
  job.last_task = task_id;
  job.tried.push_back(worker);
  arm(TimerKind::kAttempt, static_cast<std::uint64_t>(task_id), now_ + attempt_timeout_for(job.key));
  seat_sent(worker, job.key, task_id);  // QUAR-3
  Effect sent;
  sent.kind = Effect::Kind::kSend;
  sent.worker = worker;
  sent.task = task_id;
  sent.job = job.id;
  sent.key = job.key;
  effects_.push_back(sent);
  if (std::find(broken_.begin(), broken_.end(), worker) == broken_.end()) return;
  // CONN-4: the send failed; the attempt ends, the job moves on, the worker leaves.
  ++stats_.send_failures;
  cancel_timer(TimerKind::kAttempt, static_cast<std::uint64_t>(task_id));
  job.running = 0;
  job.last_worker_error.clear();
  ended(task_id, AttemptEnd::kSendFailure);
  work_.push_back(Work{WorkKind::kPlace, job.id, {}});
  release_task(task_id);
  Effect closed;
  closed.kind = Effect::Kind::kClose;
  closed.worker = worker;
  effects_.push_back(closed);
  remove_worker(worker);
}

void ReferenceModel::enqueue(Job& job, bool at_head) {
  std::vector<JobId>& waiting = key_state_or_add(job.key).waiting;
  if (!at_head) {
    if (waiting.size() >= config_.queue_limit) {  // ADM-3
      ++stats_.queue_full;
      finish(job, JobStatus::kQueueFull, "wait queue full", "");
      return;
    }
    waiting.push_back(job.id);
    ++stats_.waits_all_busy;
  } else {  // RETRY-3: after the jobs already retrying, ahead of those not started
    auto pos = waiting.begin();
    while (pos != waiting.end() && !jobs_.at(*pos).tried.empty()) ++pos;
    waiting.insert(pos, job.id);
    ++stats_.waits_retrying;
  }
  job.waiting = true;
  waits_.emplace_back(traced_effects(), job.id);
}

void ReferenceModel::unqueue(Job& job) {
  if (!job.waiting) return;
  std::vector<JobId>& waiting = key_state_or_add(job.key).waiting;
  waiting.erase(std::find(waiting.begin(), waiting.end(), job.id));
  job.waiting = false;
}

// SLOT-1: the running attempt ends but keeps its slot until a late report, the
// worker's leaving, or the reclaim timer.
void ReferenceModel::abandon_running(Job& job) {
  unqueue(job);
  if (job.running == 0) return;
  const auto target = static_cast<std::uint64_t>(job.running);
  cancel_timer(TimerKind::kAttempt, target);
  tasks_.at(job.running).abandoned = true;
  arm(TimerKind::kReclaim, target, now_ + config_.slot_reclaim);
  job.running = 0;
}

void ReferenceModel::release_task(TaskId task_id) {
  const Task task = tasks_.at(task_id);
  tasks_.erase(task_id);
  Seat* seat = seat_of(task.worker, task.key);
  --seat->in_use;  // CAP-4: given back exactly once
  work_.push_back(Work{WorkKind::kPump, 0, task.key});
}

// CONN-5, SEL-4.
void ReferenceModel::remove_worker(WorkerId id) {
  Worker* worker = find_live(id);
  if (worker == nullptr) return;  // CONN-4: it left already
  bool had_open = false;
  for (auto it = tasks_.begin(); it != tasks_.end();) {  // TaskID order
    if (it->second.worker != id) {
      ++it;
      continue;
    }
    const auto target = static_cast<std::uint64_t>(it->first);
    if (it->second.abandoned) {
      cancel_timer(TimerKind::kReclaim, target);
    } else {
      had_open = true;
      Job& job = jobs_.at(it->second.job);
      cancel_timer(TimerKind::kAttempt, target);
      job.running = 0;
      job.last_worker_error.clear();
      ended(it->first, AttemptEnd::kDisconnect);
      work_.push_back(Work{WorkKind::kPlace, job.id, {}});  // RETRY-1: disconnect
    }
    it = tasks_.erase(it);
  }
  if (had_open) ++stats_.left_mid_task;
  worker->live = false;
  for (Seat& seat : worker->seats) {
    std::vector<WorkerId>& rotation = key_state_or_add(seat.key).rotation;
    rotation.erase(std::find(rotation.begin(), rotation.end(), id));
    seat.in_use = 0;  // the slots vanish with the worker
  }
  for (Seat& seat : worker->seats) {
    if (seat.state == SeatState::kQuarantined) cancel_timer(TimerKind::kCooldown, seat.cooldown);
    seat.state = SeatState::kHealthy;  // QUAR-1: the state goes with the worker
  }
  for (const Seat& seat : worker->seats) work_.push_back(Work{WorkKind::kCheckKey, 0, seat.key});
  for (const Seat& seat : worker->seats) work_.push_back(Work{WorkKind::kPump, 0, seat.key});  // QUAR-4
}

// TASK-3: the attempt ends now, exactly once, for this reason.
void ReferenceModel::ended(TaskId task_id, AttemptEnd end) {
  const Task& task = tasks_.at(task_id);
  Effect effect;
  effect.kind = Effect::Kind::kEnd;
  effect.task = task_id;
  effect.job = task.job;
  effect.worker = task.worker;
  effect.end = end;
  effects_.push_back(std::move(effect));
}

std::size_t ReferenceModel::traced_effects() const {
  std::size_t n = 0;
  for (const Effect& effect : effects_) n += effect.kind == Effect::Kind::kEnd ? 0 : 1;
  return n;
}

void ReferenceModel::finish(Job& job, JobStatus status, std::string must_contain,
                            std::string must_contain_too) {
  unqueue(job);
  cancel_timer(TimerKind::kDeadline, job.id);
  if (status == JobStatus::kAllFailed) ++stats_.all_failed;
  if (status == JobStatus::kDeadline) ++stats_.deadlines;
  Effect outcome;
  outcome.kind = Effect::Kind::kOutcome;
  outcome.job = job.id;
  outcome.status = status;
  outcome.task = job.last_task;
  outcome.worker = job.tried.empty() ? 0 : job.tried.back();
  outcome.attempts = static_cast<std::uint32_t>(job.tried.size());
  outcome.must_contain = std::move(must_contain);
  outcome.must_contain_too = std::move(must_contain_too);
  effects_.push_back(outcome);
  jobs_.erase(job.id);  // TASK-5: exactly once
}

}  // namespace aipool::sim
