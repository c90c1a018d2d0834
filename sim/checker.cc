#include "sim/checker.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace aipool::sim {
namespace {

std::string ids_text(const std::vector<WorkerId>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

Violation violation(std::string rule, std::string message) {
  return Violation{std::move(rule), std::move(message)};
}

struct KeySums {
  std::uint64_t capacity = 0;
  std::uint64_t in_use = 0;
  std::vector<WorkerId> workers;
  std::size_t waiting = 0;
};

// CAP-1, CAP-2, CAP-4, CAP-5, SLOT-1: slots against attempts and the ledger.
std::optional<Violation> check_slots(const std::vector<WorkerView>& workers,
                                     std::map<Key, KeySums>& sums) {
  for (const WorkerView& worker : workers) {
    std::uint64_t held = 0;
    for (const SeatView& seat : worker.seats) {
      if (seat.in_use > seat.capacity) {
        return violation("CAP-2", "worker " + std::to_string(worker.id) + " has in_use " +
                                      std::to_string(seat.in_use) + " > capacity " +
                                      std::to_string(seat.capacity) + " for " + key_name(seat.key));
      }
      held += seat.in_use;
      KeySums& key = sums[seat.key];
      key.capacity += seat.capacity;
      key.in_use += seat.in_use;
      key.workers.push_back(worker.id);
    }
    if (held != worker.open_attempts + worker.abandoned_attempts) {
      return violation("CAP-4", "worker " + std::to_string(worker.id) + " holds " +
                                    std::to_string(held) + " slot(s) but has " +
                                    std::to_string(worker.open_attempts) + " open and " +
                                    std::to_string(worker.abandoned_attempts) +
                                    " abandoned attempt(s)");
    }
  }
  return std::nullopt;
}

// TASK-3, TASK-5, RETRY-4, ADM-2: every open job is in exactly one state.
std::optional<Violation> check_jobs(const Broker& broker, const std::set<JobId>& open_jobs,
                                    std::map<Key, KeySums>& sums, std::size_t& running) {
  if (broker.open_jobs() != open_jobs.size()) {
    return violation("TASK-5", "the core holds " + std::to_string(broker.open_jobs()) +
                                   " job(s) but " + std::to_string(open_jobs.size()) +
                                   " have no outcome yet");
  }
  for (JobId id : open_jobs) {
    const std::optional<JobView> job = broker.job(id);
    const std::string name = "job " + std::to_string(id);
    if (!job) return violation("TASK-5", name + " has no outcome but the core forgot it");
    std::vector<WorkerId> tried = job->tried;
    std::sort(tried.begin(), tried.end());
    if (std::adjacent_find(tried.begin(), tried.end()) != tried.end()) {
      return violation("RETRY-4", name + " tried a worker twice: " + ids_text(job->tried));
    }
    if (job->state == JobState::kWaiting) {
      if (job->running_task != 0) return violation("TASK-3", name + " waits and runs at once");
      ++sums[job->key].waiting;
      continue;
    }
    if (job->running_task == 0) {
      return violation("TASK-3", name + " neither waits nor runs an attempt");
    }
    const std::optional<TaskView> task = broker.task(job->running_task);
    if (!task || task->job != id || task->abandoned) {
      return violation("TASK-3", name + " runs task " + std::to_string(job->running_task) +
                                     " which is not an open attempt of it");
    }
    if (job->tried.empty() || task->worker != job->tried.back()) {
      return violation("TASK-2", name + "'s running attempt is bound to worker " +
                                     std::to_string(task->worker) +
                                     ", not the last worker it tried");
    }
    ++running;
  }
  return std::nullopt;
}

std::string timer_text(const TimerName& name, Micros at) {
  return std::string(timer_kind_name(name.kind)) + " of " + std::to_string(name.target) + " at " +
         std::to_string(at) + "us";
}

const char* timer_rule(TimerKind kind) {
  switch (kind) {
    case TimerKind::kAttempt: return "TIME-2";
    case TimerKind::kDeadline: return "TIME-3";
    case TimerKind::kReclaim: return "SLOT-3";
    case TimerKind::kCooldown: return "QUAR-3";
    case TimerKind::kUnknown: break;
  }
  return "TIME-1";
}

std::optional<Violation> check_timers(const ReferenceModel& model, const SimClock& clock) {
  using Entry = std::tuple<int, std::uint64_t, Micros>;
  std::vector<Entry> core;
  clock.for_each_armed([&core](TimerId id, const SimClock::Armed& armed) {
    const TimerName name = decode_timer(id);
    core.emplace_back(static_cast<int>(name.kind), name.target, armed.at);
  });
  std::vector<Entry> expected;
  for (const ReferenceModel::Timer& timer : model.timers()) {
    expected.emplace_back(static_cast<int>(timer.name.kind), timer.name.target, timer.at);
  }
  std::sort(core.begin(), core.end());
  std::sort(expected.begin(), expected.end());
  if (core == expected) return std::nullopt;
  std::vector<Entry> only_core;
  std::vector<Entry> only_model;
  std::set_difference(core.begin(), core.end(), expected.begin(), expected.end(),
                      std::back_inserter(only_core));
  std::set_difference(expected.begin(), expected.end(), core.begin(), core.end(),
                      std::back_inserter(only_model));
  const Entry& first = only_core.empty() ? only_model.front() : only_core.front();
  const TimerName name{static_cast<TimerKind>(std::get<0>(first)), std::get<1>(first)};
  std::string message = "armed timers differ from the model:";
  for (const Entry& e : only_core) {
    message += " core has " + timer_text({static_cast<TimerKind>(std::get<0>(e)), std::get<1>(e)}, std::get<2>(e)) + ";";
  }
  for (const Entry& e : only_model) {
    message += " model has " + timer_text({static_cast<TimerKind>(std::get<0>(e)), std::get<1>(e)}, std::get<2>(e)) + ";";
  }
  return violation(timer_rule(name.kind), message);
}

// QUAR-1..QUAR-6: each seat's quarantine state against the model's.
std::optional<Violation> check_model_health(const Broker& broker, const WorkerView& view,
                                            const ReferenceModel::Worker& worker) {
  for (std::size_t s = 0; s < view.seats.size(); ++s) {
    const SeatView& core = view.seats[s];
    const ReferenceModel::Seat& model = worker.seats[s];
    const TaskId probe = core.probe_task > 0
                             ? static_cast<TaskId>(broker.task_ids().decode(static_cast<std::uint64_t>(core.probe_task)))
                             : 0;
    const TaskId model_probe = model.state == SeatState::kProbing ? model.probe : 0;
    const Micros model_until = model.state == SeatState::kQuarantined ? model.until : 0;
    if (core.state != model.state || core.consecutive_failures != model.failures ||
        core.strikes != model.strikes || core.quarantined_until != model_until || probe != model_probe) {
      return violation("QUAR-1", "worker " + std::to_string(view.id) + "'s seat for " + key_name(core.key) +
                                     " is " + std::string(seat_state_name(core.state)) + " (failures " +
                                     std::to_string(core.consecutive_failures) + ", strikes " +
                                     std::to_string(core.strikes) + ", until " +
                                     std::to_string(core.quarantined_until) + "us, probe " + std::to_string(probe) +
                                     "), model says " + std::string(seat_state_name(model.state)) + " (failures " +
                                     std::to_string(model.failures) + ", strikes " + std::to_string(model.strikes) +
                                     ", until " + std::to_string(model_until) + "us, probe " +
                                     std::to_string(model_probe) + ")");
    }
  }
  return std::nullopt;
}

std::optional<Violation> check_model_workers(const Broker& broker, const ReferenceModel& model) {
  const std::vector<WorkerView> views = broker.workers();
  std::vector<const ReferenceModel::Worker*> live;
  for (const ReferenceModel::Worker& worker : model.workers()) {
    if (worker.live) live.push_back(&worker);
  }
  std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<WorkerId> core_ids;
  std::vector<WorkerId> model_ids;
  for (const WorkerView& view : views) core_ids.push_back(view.id);
  for (const auto* worker : live) model_ids.push_back(worker->id);
  if (core_ids != model_ids) {
    return violation("CONN-5", "live workers " + ids_text(core_ids) + ", model says " +
                                   ids_text(model_ids));
  }
  for (std::size_t i = 0; i < views.size(); ++i) {
    const WorkerView& view = views[i];
    const ReferenceModel::Worker& worker = *live[i];
    bool same = view.seats.size() == worker.seats.size();
    for (std::size_t s = 0; same && s < view.seats.size(); ++s) {
      same = view.seats[s].key == worker.seats[s].key &&
             view.seats[s].capacity == worker.seats[s].capacity &&
             view.seats[s].in_use == worker.seats[s].in_use;
    }
    if (!same) {
      std::string message = "worker " + std::to_string(view.id) + " seats differ: core";
      for (const SeatView& seat : view.seats) {
        message += " " + key_name(seat.key) + "=" + std::to_string(seat.in_use) + "/" +
                   std::to_string(seat.capacity);
      }
      message += "; model";
      for (const auto& seat : worker.seats) {
        message += " " + key_name(seat.key) + "=" + std::to_string(seat.in_use) + "/" +
                   std::to_string(seat.capacity);
      }
      return violation("CAP-2", message);
    }
    if (auto v = check_model_health(broker, view, worker)) return v;
    std::size_t abandoned = 0;
    std::size_t open = 0;
    for (const auto& [id, task] : model.tasks()) {
      if (task.worker != view.id) continue;
      ++(task.abandoned ? abandoned : open);
    }
    if (open != view.open_attempts || abandoned != view.abandoned_attempts) {
      return violation("SLOT-1", "worker " + std::to_string(view.id) + " has " +
                                     std::to_string(view.open_attempts) + " open/" +
                                     std::to_string(view.abandoned_attempts) +
                                     " abandoned attempts, model says " + std::to_string(open) +
                                     "/" + std::to_string(abandoned));
    }
  }
  return std::nullopt;
}

// The model numbers attempts 1, 2, 3, ...; the core names them by TaskID, the
// number under its permutation (TASK-1).
std::optional<Violation> check_model_jobs(const Broker& broker, const ReferenceModel& model) {
  const IdCipher& ids = broker.task_ids();
  for (const auto& [id, job] : model.jobs()) {
    const std::optional<JobView> view = broker.job(id);
    const std::string name = "job " + std::to_string(id);
    if (!view) return violation("TASK-5", name + " is open in the model but not in the core");
    if (view->tried != job.tried) {
      return violation("RETRY-1", name + " tried " + ids_text(view->tried) + ", model says " +
                                      ids_text(job.tried));
    }
    const auto running = static_cast<TaskId>(view->running_task > 0 ? ids.decode(static_cast<std::uint64_t>(view->running_task)) : 0);
    if (running != job.running) {
      return violation("TASK-3", name + " runs task " + std::to_string(running) + ", model says " +
                                     std::to_string(job.running));
    }
    if ((view->state == JobState::kWaiting) != job.waiting) {
      return violation("ADM-2", name + (job.waiting ? " should wait" : " should not wait"));
    }
  }
  for (const auto& [id, task] : model.tasks()) {
    const std::optional<TaskView> view = broker.task(static_cast<TaskId>(ids.encode(static_cast<std::uint64_t>(id))));
    const std::string name = "task " + std::to_string(id);
    if (!view) return violation("TASK-3", name + " is live in the model but ended in the core");
    if (view->job != task.job || view->worker != task.worker || view->abandoned != task.abandoned) {
      return violation("SLOT-1", name + " is job " + std::to_string(view->job) + " on worker " +
                                     std::to_string(view->worker) +
                                     (view->abandoned ? " (abandoned)" : "") + ", model says job " +
                                     std::to_string(task.job) + " on worker " +
                                     std::to_string(task.worker) +
                                     (task.abandoned ? " (abandoned)" : ""));
    }
  }
  return std::nullopt;
}

const char* outcome_rule(JobStatus status) {
  switch (status) {
    case JobStatus::kOk: return "TASK-5";
    case JobStatus::kNoWorker: return "ADM-1";
    case JobStatus::kQueueFull: return "ADM-3";
    case JobStatus::kAllFailed: return "RETRY-2";
    case JobStatus::kRejected: return "RETRY-6";
    case JobStatus::kDeadline: return "TIME-3";
    case JobStatus::kCancelled: return "TASK-5";
  }
  return "TASK-5";
}

std::string rule_for_mismatch(const Effect* core, const Effect* model) {
  const Effect* any = model != nullptr ? model : core;
  if (core != nullptr && model != nullptr && core->kind == model->kind) {
    if (core->kind == Effect::Kind::kSend) {
      if (core->task != model->task) return "TASK-1";
      if (core->job != model->job) return "ADM-2";
      return "SEL-2";
    }
    if (core->kind == Effect::Kind::kOutcome) return outcome_rule(model->status);
    if (core->kind == Effect::Kind::kEnd) return "TASK-3";
  }
  switch (any->kind) {
    case Effect::Kind::kSend: return "SEL-2";
    case Effect::Kind::kClose: return "CONN-4";
    case Effect::Kind::kOutcome: return outcome_rule(any->status);
    case Effect::Kind::kEnd: return "TASK-3";
  }
  return "SEL-2";
}

}  // namespace

std::optional<Violation> check_core_invariants(const Broker& broker, const std::set<JobId>& open_jobs) {
  const std::vector<WorkerView> workers = broker.workers();
  std::map<Key, KeySums> sums;
  if (auto v = check_slots(workers, sums)) return v;
  std::size_t running = 0;
  if (auto v = check_jobs(broker, open_jobs, sums, running)) return v;
  std::size_t open_attempts = 0;
  std::size_t abandoned = 0;
  for (const WorkerView& worker : workers) {
    open_attempts += worker.open_attempts;
    abandoned += worker.abandoned_attempts;
  }
  if (open_attempts != running || broker.live_attempts() != open_attempts + abandoned) {
    return violation("TASK-3", std::to_string(open_attempts) + " open attempt(s) for " +
                                   std::to_string(running) + " running job(s); " +
                                   std::to_string(broker.live_attempts()) +
                                   " live attempts in the task table");
  }
  for (const KeyView& key : broker.keys()) {
    if (key.workers == 0 && key.offer == nullptr) {
      return violation("CAP-6", "the core holds " + key_name(key.key) + ", which no live worker offers and no list names");
    }
    KeySums& sum = sums[key.key];
    if (key.capacity != sum.capacity || key.in_use != sum.in_use) {
      return violation("CAP-5", "ledger for " + key_name(key.key) + " says " +
                                    std::to_string(key.in_use) + "/" + std::to_string(key.capacity) +
                                    ", live workers sum to " + std::to_string(sum.in_use) + "/" +
                                    std::to_string(sum.capacity));
    }
    std::vector<WorkerId> rotation = broker.rotation(key.key);
    std::sort(rotation.begin(), rotation.end());
    std::sort(sum.workers.begin(), sum.workers.end());
    if (rotation != sum.workers) {
      return violation("SEL-4", "rotation of " + key_name(key.key) + " holds " +
                                    ids_text(rotation) + ", live workers of the key are " +
                                    ids_text(sum.workers));
    }
    if (key.waiting != sum.waiting) {
      return violation("ADM-2", key_name(key.key) + " has " + std::to_string(key.waiting) +
                                    " waiting, jobs in the waiting state: " +
                                    std::to_string(sum.waiting));
    }
    sum.capacity = ~std::uint64_t{0};  // seen
  }
  for (const auto& [key, sum] : sums) {
    if (sum.capacity != ~std::uint64_t{0} && (sum.capacity > 0 || sum.waiting > 0)) {
      return violation("CAP-1", "workers advertise " + key_name(key) + " but the ledger has no such key");
    }
  }
  return std::nullopt;
}

std::optional<Violation> check_against_model(const Broker& broker, const ReferenceModel& model,
                                             const SimClock& clock) {
  if (broker.attempts_made() != static_cast<std::uint64_t>(model.last_task_id())) {
    return violation("TASK-1", std::to_string(broker.attempts_made()) + " attempts made, model says " +
                                   std::to_string(model.last_task_id()));
  }
  if (auto v = check_model_workers(broker, model)) return v;
  std::vector<Key> held;
  for (const KeyView& view : broker.keys()) held.push_back(view.key);
  if (held != model.held_keys()) {
    return violation("CAP-6", "the core holds " + std::to_string(held.size()) + " key(s), the model " +
                                  std::to_string(model.held_keys().size()));
  }
  for (const ReferenceModel::KeyState& state : model.keys()) {
    const std::vector<WorkerId> rotation = broker.rotation(state.key);
    if (rotation != state.rotation) {
      return violation("SEL-2", "rotation of " + key_name(state.key) + " is " + ids_text(rotation) +
                                    ", model says " + ids_text(state.rotation));
    }
    const std::optional<KeyView> view = broker.key_view(state.key);
    const std::size_t waiting = view ? view->waiting : 0;
    if (waiting != state.waiting.size()) {
      return violation("ADM-2", key_name(state.key) + " has " + std::to_string(waiting) +
                                    " waiting, model says " + std::to_string(state.waiting.size()));
    }
  }
  if (broker.open_jobs() != model.jobs().size()) {
    return violation("TASK-5", std::to_string(broker.open_jobs()) + " open jobs, model says " +
                                   std::to_string(model.jobs().size()));
  }
  if (broker.live_attempts() != model.tasks().size()) {
    return violation("TASK-3", std::to_string(broker.live_attempts()) +
                                   " live attempts, model says " +
                                   std::to_string(model.tasks().size()));
  }
  if (auto v = check_model_jobs(broker, model)) return v;
  return check_timers(model, clock);
}

std::optional<Violation> check_quarantine_send(const Broker& broker, const AttemptEvent& event) {
  if (event.key == nullptr) return std::nullopt;
  const std::optional<SeatView> seat = broker.seat_view(event.worker, *event.key);
  if (!seat) return violation("SEL-2", "task " + std::to_string(event.task) + " went to worker " +
                                           std::to_string(event.worker) + ", which has no seat for " +
                                           key_name(*event.key));
  const bool probe = seat->state == SeatState::kProbing && seat->probe_task == event.task;
  const bool blocked = seat->state == SeatState::kQuarantined || seat->state == SeatState::kProbing;
  if (probe || !blocked) return std::nullopt;
  const std::optional<JobView> job = broker.job(event.job);
  if (!job) return std::nullopt;
  for (const WorkerView& worker : broker.workers()) {
    if (std::find(job->tried.begin(), job->tried.end(), worker.id) != job->tried.end()) continue;
    for (const SeatView& other : worker.seats) {
      if (other.key != *event.key || other.state == SeatState::kQuarantined || other.state == SeatState::kProbing) {
        continue;
      }
      return violation("QUAR-4", "job " + std::to_string(event.job) + " went to worker " +
                                     std::to_string(event.worker) + ", whose seat for " + key_name(*event.key) +
                                     " is " + std::string(seat_state_name(seat->state)) +
                                     " (not as its probe), while worker " + std::to_string(worker.id) +
                                     "'s seat is " + std::string(seat_state_name(other.state)) + " and untried");
    }
  }
  return std::nullopt;
}

std::optional<Violation> check_effects(const std::vector<Effect>& core,
                                       const std::vector<Effect>& model) {
  const std::size_t n = std::max(core.size(), model.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Effect* c = i < core.size() ? &core[i] : nullptr;
    const Effect* m = i < model.size() ? &model[i] : nullptr;
    if (c != nullptr && m != nullptr && c->same_decision(*m)) {
      if (c->kind != Effect::Kind::kOutcome) continue;
      for (const std::string* part : {&m->must_contain, &m->must_contain_too}) {
        if (!part->empty() && c->message.find(*part) == std::string::npos) {
          return violation(outcome_rule(m->status),
                           "outcome of job " + std::to_string(c->job) + " says \"" + c->message +
                               "\", which should contain \"" + *part + "\"");
        }
      }
      continue;
    }
    std::string message = "effect " + std::to_string(i + 1) + " differs from the model.\n    core: ";
    for (const Effect& e : core) message += describe_effect(e) + "; ";
    if (core.empty()) message += "(nothing)";
    message += "\n    model: ";
    for (const Effect& e : model) message += describe_effect(e) + "; ";
    if (model.empty()) message += "(nothing)";
    return violation(rule_for_mismatch(c, m), message);
  }
  return std::nullopt;
}

const char* probe_name(Probe probe) {
  switch (probe) {
    case Probe::kRetry: return "retry";
    case Probe::kLeftMidTask: return "left-mid-task";
    case Probe::kAllBusy: return "all-busy";
    case Probe::kRetryWaited: return "retry-waited";
    case Probe::kLateResult: return "late-result";
    case Probe::kSlotReclaimed: return "slot-reclaimed";
    case Probe::kSendFailure: return "send-failure";
    case Probe::kQueueFull: return "queue-full";
    case Probe::kAllFailed: return "all-failed";
    case Probe::kAttemptTimeout: return "attempt-timeout";
    case Probe::kDeadline: return "deadline";
    case Probe::kCancelRunning: return "cancel-running";
    case Probe::kAtCapacity: return "at-capacity";
    case Probe::kReregistered: return "reregistered";
    case Probe::kForgedRefused: return "forged-refused";
    case Probe::kDuplicateRefused: return "duplicate-refused";
    case Probe::kStaleTimer: return "stale-timer";
    case Probe::kListRefused: return "list-refused";
    case Probe::kRejectedInput: return "rejected-input";
    case Probe::kKeyForgotten: return "key-forgotten";
    case Probe::kQuarantined: return "quarantined";
    case Probe::kBlockedSkipped: return "blocked-skipped";
    case Probe::kProbeCleared: return "quarantine-probe-ok";
    case Probe::kCount: break;
  }
  return "?";
}

std::vector<std::string> ProbeCounts::missing() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (hits[i] == 0) out.emplace_back(probe_name(static_cast<Probe>(i)));
  }
  return out;
}

std::string ProbeCounts::describe() const {
  std::string out;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i > 0) out += ' ';
    out += probe_name(static_cast<Probe>(i));
    out += '=';
    out += std::to_string(hits[i]);
  }
  return out;
}

}  // namespace aipool::sim
