// The Broker's read-only side (broker.h): the names of its enums for logs, and the
// views of workers, keys, jobs and tasks that /workers, the simulator's checker and
// the tests read. Nothing here changes the core's state.
#include <algorithm>

#include "core/broker.h"

namespace aipool {

std::string_view job_status_name(JobStatus status) {
  switch (status) {
    case JobStatus::kOk: return "ok";
    case JobStatus::kNoWorker: return "no worker";
    case JobStatus::kQueueFull: return "queue full";
    case JobStatus::kAllFailed: return "all workers failed";
    case JobStatus::kRejected: return "rejected input";
    case JobStatus::kDeadline: return "deadline";
    case JobStatus::kCancelled: return "cancelled";
  }
  return "?";
}

std::string_view attempt_end_name(AttemptEnd end) {
  switch (end) {
    case AttemptEnd::kResult: return "result";
    case AttemptEnd::kWorkerError: return "worker error";
    case AttemptEnd::kSendFailure: return "send failure";
    case AttemptEnd::kDisconnect: return "disconnect";
    case AttemptEnd::kTimeout: return "attempt timeout";
    case AttemptEnd::kCancelled: return "job cancelled";
    case AttemptEnd::kDeadline: return "job deadline";
  }
  return "?";
}

std::string_view report_verdict_name(ReportVerdict verdict) {
  switch (verdict) {
    case ReportVerdict::kAccepted: return "accepted";
    case ReportVerdict::kUnauthorized: return "unauthorized";
    case ReportVerdict::kUnknownTask: return "unknown task";
    case ReportVerdict::kWrongWorker: return "wrong worker";
    case ReportVerdict::kEnded: return "ended";
    case ReportVerdict::kLateReleased: return "late, slot released";
  }
  return "?";
}

std::vector<WorkerView> Broker::workers() const {
  std::vector<WorkerView> out;
  for (WorkerId id : pool_.worker_ids()) {
    const Worker* worker = pool_.find(id);
    WorkerView view;
    view.id = id;
    view.address = worker->address;
    view.joined_at = worker->joined_at;
    for (const Seat& seat : worker->seats) {
      view.seats.push_back(view_of(seat));
    }
    for (std::uint64_t number : worker->tasks) {
      if (tasks_.find(number)->abandoned) {
        ++view.abandoned_attempts;
      } else {
        ++view.open_attempts;
      }
    }
    out.push_back(std::move(view));
  }
  return out;
}

SeatView Broker::view_of(const Seat& seat) const {
  const SeatHealth& health = seat.health;
  const TaskId probe = health.state == SeatState::kProbing ? static_cast<TaskId>(task_ids_.encode(health.probe)) : 0;
  return SeatView{pool_.key(seat.key), seat.capacity, seat.in_use, health.state, health.failures,
                  health.strikes, health.until, probe};
}

std::optional<SeatView> Broker::seat_view(WorkerId id, const Key& key) const {
  const Worker* worker = pool_.find(id);
  const std::optional<std::uint32_t> index = pool_.find_key(key);
  if (worker == nullptr || !index) return std::nullopt;
  for (const Seat& seat : worker->seats) {
    if (seat.key == *index) return view_of(seat);
  }
  return std::nullopt;
}

std::vector<KeyView> Broker::keys() const {
  std::vector<KeyView> out;
  for (std::uint32_t i = 0; i < pool_.key_slots(); ++i) {
    if (pool_.key_live(i)) out.push_back(*key_view(pool_.key(i)));
  }
  std::sort(out.begin(), out.end(), [](const KeyView& a, const KeyView& b) { return a.key < b.key; });
  return out;
}

std::optional<KeyView> Broker::key_view(const Key& key) const {
  const std::optional<std::uint32_t> index = pool_.find_key(key);
  if (!index) return std::nullopt;
  KeyView view;
  view.key = key;
  const CapacityLedger::Totals& totals = pool_.ledger().totals(*index);
  view.capacity = totals.capacity;
  view.in_use = totals.in_use;
  view.waiting = *index < wait_.size() ? wait_[*index].size() : 0;
  view.workers = pool_.queue(*index).size();
  view.offer = offer_for(key);
  return view;
}

std::optional<JobView> Broker::job(JobId id) const {
  const Job* job = jobs_.find(id);
  if (job == nullptr) return std::nullopt;
  JobView view;
  view.state = job->waiting ? JobState::kWaiting : JobState::kRunning;
  view.key = pool_.key(job->key);
  view.running_task = job->running != 0 ? tasks_.find(job->running)->id : 0;
  view.tried = job->tried;
  return view;
}

std::size_t Broker::wait_position(JobId id) const {
  const Job* job = jobs_.find(id);
  if (job == nullptr || !job->waiting) return 0;
  std::size_t position = 1;
  for (const JobId waiting : wait_[job->key]) {
    if (waiting == id) return position;
    ++position;
  }
  return 0;
}

std::optional<TaskView> Broker::task(TaskId id) const {
  const Task* task = id > 0 ? tasks_.find(task_ids_.decode(static_cast<std::uint64_t>(id))) : nullptr;
  if (task == nullptr) return std::nullopt;
  return TaskView{task->job, task->worker, pool_.key(task->seat->key), task->abandoned};
}

TaskId Broker::last_task_id() const {
  return next_attempt_ > 1 ? static_cast<TaskId>(task_ids_.encode(next_attempt_ - 1)) : 0;
}

std::vector<WorkerId> Broker::rotation(const Key& key) const {
  std::vector<WorkerId> out;
  const std::optional<std::uint32_t> index = pool_.find_key(key);
  if (!index) return out;
  for (const Seat* seat : pool_.queue(*index).order()) out.push_back(seat->worker);
  return out;
}

}  // namespace aipool
