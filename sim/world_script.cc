// The world driven by a script (scenario.cc): each command acts at the current
// time as one event, is checked like any other event, and then every event due
// at the same time runs (settle).
#include <algorithm>
#include <limits>

#include "sim/trace.h"
#include "sim/world.h"

namespace aipool::sim {
namespace {

bool same_adverts(const std::vector<Advert>& a, const std::vector<Advert>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].key == b[i].key) || a[i].capacity != b[i].capacity) return false;
  }
  return true;
}

}  // namespace

void World::scripted_step(const std::string& what, const std::function<void()>& action) {
  if (failed()) return;
  Event event;
  event.at = now_;
  event.kind = EventKind::kScript;
  ++stats_.events;
  ring_text_[ring_count_ % kRing] = what;
  ring_[ring_count_++ % kRing] = event;
  mix(static_cast<std::uint64_t>(now_));
  action();
  flush_trace();
  after_event(event);
  if (record_ != nullptr) record_->push_back(hash_);
  settle();
}

std::optional<std::uint32_t> World::find_worker(const std::string& name) const {
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i]->name() == name) return i;
  }
  return std::nullopt;
}

std::optional<JobId> World::find_job(std::uint8_t orch, const std::string& name) const {
  const Orchestrator& o = *orchs_[orch];
  for (std::size_t i = 0; i < o.jobs.size(); ++i) {
    if (o.jobs[i].name == name) return i + 1;
  }
  return std::nullopt;
}

std::optional<WorkerId> World::session_id(std::uint32_t worker, std::uint8_t orch) const {
  const WorkerId id = workers_[worker]->session(orch).id;
  if (id == 0) return std::nullopt;
  return id;
}

std::uint32_t World::scripted_worker(const std::string& name, const std::vector<Advert>& adverts) {
  std::vector<std::uint32_t> indices;
  for (const Advert& advert : adverts) indices.push_back(keys_.add(advert.key));
  if (std::optional<std::uint32_t> found = find_worker(name)) {
    SimWorker& worker = *workers_[*found];
    if (!adverts.empty() && !same_adverts(adverts, worker.adverts())) {
      worker.replace_adverts(adverts, indices);
    }
    return *found;
  }
  ExecProfile profile;
  profile.latency_min = kMicrosPerSecond;
  profile.latency_max = kMicrosPerSecond;
  Prng exec = world_prng_.split();
  Prng reconnect = world_prng_.split();
  workers_.push_back(std::make_unique<SimWorker>(name, adverts, indices, profile, exec, reconnect,
                                                 orchs_.size()));
  for (std::size_t o = 0; o < orchs_.size(); ++o) workers_.back()->session(o).serves = true;
  return static_cast<std::uint32_t>(workers_.size() - 1);
}

void World::scripted_exec(std::uint32_t worker, const ExecProfile& profile) {
  workers_[worker]->set_profile(profile);
}

void World::scripted_join(std::uint32_t w, std::uint8_t orch, std::string_view secret) {
  scripted_step("join " + workers_[w]->name(), [&] {
    SimWorker& worker = *workers_[w];
    if (!worker.alive()) worker.restart();
    if (worker.session(orch).up) {
      trace(orch_prefix(orch) + worker.name() + " is already connected");
      return;
    }
    connect(w, orch, secret);
  });
}

JobId World::scripted_submit(std::uint8_t orch, const Key& key, const std::string& name) {
  const std::uint32_t index = keys_.add(key);
  JobId id = 0;
  scripted_step("submit " + name, [&] { id = core_submit(*orchs_[orch], index, false, name); });
  return id;
}

void World::scripted_cancel(std::uint8_t orch, JobId job) {
  scripted_step("cancel job " + std::to_string(job), [&] { core_cancel(*orchs_[orch], job); });
}

void World::scripted_kill(std::uint32_t w) {
  scripted_step("kill " + workers_[w]->name(), [&] {
    SimWorker& worker = *workers_[w];
    trace(worker.name() + " crashes");
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      end_session_on_worker_side(w, static_cast<std::uint8_t>(o), 0);
    }
    worker.crash(std::numeric_limits<Micros>::max());
    std::erase_if(manual_runs_, [w](const auto& run) { return run.second.first == w; });
  });
}

void World::scripted_leave(std::uint32_t w) {
  scripted_step("leave " + workers_[w]->name(), [&] {
    trace(workers_[w]->name() + " disconnects");
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      end_session_on_worker_side(w, static_cast<std::uint8_t>(o), 0);
    }
  });
}

void World::scripted_break(std::uint32_t w, std::uint8_t orch) {
  scripted_step("break " + workers_[w]->name(), [&] {
    trace(orch_prefix(orch) + workers_[w]->name() + "'s stream breaks (the orchestrator has not noticed)");
    end_session_on_worker_side(w, orch, -1);
  });
}

void World::scripted_post(std::uint8_t orch, std::uint32_t w, TaskId task, bool ok,
                          const std::string& error, std::string_view secret,
                          std::optional<WorkerId> from, bool rejected_input) {
  scripted_step("post task " + std::to_string(task), [&] {
    Orchestrator& o = *orchs_[orch];
    const TaskId id = o.id_of(task);  // `task` is the attempt's number (TASK-1)
    auto run = manual_runs_.find({orch, id});
    if (run != manual_runs_.end() && run->second.first == w) {
      workers_[w]->release(run->second.second);
      manual_runs_.erase(run);
    }
    Report report;
    report.credentials = secret;
    report.task = id;
    report.from = from;
    report.ok = ok;
    report.error = error;
    report.rejected_input = rejected_input;
    if (ok) {
      report.result = std::make_shared<const ResultBody>(
          ResultBody{std::make_shared<const std::string>("task " + std::to_string(id)), {}});
    }
    const ReportVerdict verdict = core_report(o, report, secret != secret_);
    trace(orch_prefix(orch) + workers_[w]->name() + " posts task " + std::to_string(task) +
          (ok ? " ok" : " error \"" + error + "\"") + (rejected_input ? " rejecting the input" : "") +
          (secret != secret_ ? " with a wrong secret" : "") +
          (!from ? " anonymously"
                 : *from != workers_[w]->session(orch).id ? " claiming to be " + session_name(o, *from)
                                                           : "") +
          ": " + std::string(report_verdict_name(verdict)));
    flush_trace();
  });
}

std::string World::scripted_state(std::uint8_t orch) const {
  const Orchestrator& o = *orchs_[orch];
  std::string out;
  const std::vector<WorkerView> views = o.broker->workers();
  for (std::uint32_t k = 0; k < keys_.size(); ++k) {
    const std::optional<KeyView> key = o.broker->key_view(keys_.key(k));
    if (!key) continue;
    std::string line = orch_prefix(orch) + key_name(key->key) + ":";
    const std::vector<WorkerId> rotation = o.broker->rotation(key->key);
    for (std::size_t i = 0; i < rotation.size(); ++i) {
      line += i == 0 ? " " : ", ";
      line += session_name(o, rotation[i]);
      for (const WorkerView& view : views) {
        if (view.id != rotation[i]) continue;
        for (const SeatView& seat : view.seats) {
          if (seat.key != key->key) continue;
          line += " " + std::to_string(seat.in_use) + "/" + std::to_string(seat.capacity);
          if (seat.state == SeatState::kHealthy) continue;  // QUAR-6
          line += " " + std::string(seat_state_name(seat.state));
          if (seat.state == SeatState::kQuarantined) {
            line += " until " + std::to_string(seat.quarantined_until / kMicrosPerSecond) + "s";
          }
          if (seat.state == SeatState::kProbing) line += " task " + std::to_string(o.number_of(seat.probe_task));
          line += " strikes " + std::to_string(seat.strikes);
        }
      }
    }
    if (rotation.empty()) line += " no workers";
    line += " | waiting:";
    if (o.model != nullptr) {
      const ReferenceModel::KeyState* state = o.model->key_state(key->key);
      if (state == nullptr || state->waiting.empty()) line += " none";
      if (state != nullptr) {
        for (JobId id : state->waiting) line += " " + job_name(o, id);
      }
    } else {
      line += " " + std::to_string(key->waiting);
    }
    out += line + "\n";
  }
  std::string jobs = orch_prefix(orch) + "open jobs:";
  for (JobId id : o.open_jobs) {
    const std::optional<JobView> job = o.broker->job(id);
    if (!job) continue;
    jobs += " " + job_name(o, id);
    if (job->state == JobState::kWaiting) {
      jobs += " (waiting)";
    } else {
      const std::optional<TaskView> task = o.broker->task(job->running_task);
      jobs += " (task " + std::to_string(o.number_of(job->running_task)) + " on " +
              (task ? session_name(o, task->worker) : "?") + ")";
    }
  }
  if (o.open_jobs.empty()) jobs += " none";
  return out + jobs;
}

void World::scripted_drain() {
  const Micros bound = now_ + seconds(100000);
  for (const Event* next = peek(); !failed() && next != nullptr && next->at <= bound; next = peek()) {
    step();
  }
  if (failed()) return;
  std::size_t jobs = 0;
  std::size_t attempts = 0;
  for (const auto& o : orchs_) {
    jobs += o->broker->open_jobs();
    attempts += o->broker->live_attempts();
  }
  trace("quiet: " + std::to_string(jobs) + " open job(s), " + std::to_string(attempts) +
        " live attempt(s)");
}

}  // namespace aipool::sim
