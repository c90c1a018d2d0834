// The liveness phase (world.h): the faults stop, everything must settle within
// the stated bound, and a probe job per key must succeed; then the final checks.
#include <algorithm>

#include "sim/world.h"

namespace aipool::sim {

void World::on_heal() {
  healed_ = true;
  if (tracing()) trace("faults stop; liveness phase");
  for (const auto& o : orchs_) {
    TransportFaults faults = o->transport->faults();
    faults.notice_drop = Ratio{0, 1};
    o->transport->set_faults(faults);
    o->clock->set_stale_ratio(Ratio{0, 1});
  }
  for (std::uint32_t w = 0; w < workers_.size(); ++w) {
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      SimWorker::Session& session = workers_[w]->session(o);
      if (!session.serves || session.up || session.connect_pending) continue;
      schedule_connect(w, static_cast<std::uint8_t>(o), draw(seconds(1)));
    }
  }
}

void World::on_quiet_check() {
  if (!check_settled() || !check_listed_prices() || !check_reconnected()) return;
  schedule_probes();
}

// TIME-3, SLOT-3, CAP-4: at the liveness bound every job has its outcome and no
// attempt or slot is held. False after a failure.
bool World::check_settled() {
  for (const auto& o : orchs_) {
    const std::string where = orch_prefix(o->index);
    if (o->broker->open_jobs() != 0 && o->open_jobs.empty()) {
      fail(FailureKind::kLiveness, "TIME-3", where + "jobs have no outcome at the liveness bound");
      return false;
    }
    if (!o->open_jobs.empty()) {
      const JobId id = *o->open_jobs.begin();
      fail(FailureKind::kLiveness, "TIME-3",
           where + job_name(*o, id) + " (submitted at " + std::to_string(o->jobs[id - 1].submitted_at) +
               "us) has no outcome at the liveness bound");
      return false;
    }
    if (o->broker->live_attempts() != 0) {
      fail(FailureKind::kLiveness, "SLOT-3",
           where + std::to_string(o->broker->live_attempts()) + " attempt(s) still hold slots at the liveness bound");
      return false;
    }
    for (const KeyView& key : o->broker->keys()) {
      if (key.in_use != 0) {
        fail(FailureKind::kLiveness, "CAP-4",
             where + key_name(key.key) + " still has " + std::to_string(key.in_use) + " slot(s) in use");
        return false;
      }
    }
  }
  return true;
}

// LIST-3: every listed key is reported with its price. False after a failure.
bool World::check_listed_prices() {
  for (const auto& o : orchs_) {
    for (std::uint32_t k : o->listed) {
      const std::optional<KeyView> view = o->broker->key_view(keys_.key(k));
      if (!view || view->offer == nullptr || view->offer->price_per_unit != static_cast<double>(k + 1) / 4 ||
          view->offer->pixels_per_unit != static_cast<std::int64_t>(1 + k)) {
        fail(FailureKind::kInvariant, "LIST-3",
             orch_prefix(o->index) + key_name(keys_.key(k)) + " is not reported with its listed price");
        return false;
      }
    }
  }
  return true;
}

// RECON-1: every worker is registered again with each orchestrator it serves
// (unless refused). False after a failure.
bool World::check_reconnected() {
  for (std::uint32_t w = 0; w < workers_.size(); ++w) {
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      const SimWorker::Session& session = workers_[w]->session(o);
      if (session.serves && !session.up && !session.refused) {
        fail(FailureKind::kLiveness, "RECON-1",
             workers_[w]->name() + " has not reconnected to o" + std::to_string(o + 1) + " by the liveness bound");
        return false;
      }
    }
  }
  return true;
}

// One probe job per key each orchestrator offers; orchestrators kProbeGap apart.
void World::schedule_probes() {
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    std::set<std::uint32_t> offered;
    const std::vector<std::uint32_t>& listed = orchs_[o]->listed;
    for (const auto& worker : workers_) {
      if (!worker->session(o).serves) continue;
      for (std::uint32_t key : worker->key_indices()) {
        if (listed.empty() || std::find(listed.begin(), listed.end(), key) != listed.end()) offered.insert(key);
      }
    }
    for (std::uint32_t key : offered) {
      Event probe = at_delay(kProbeGap * static_cast<Micros>(o), EventKind::kProbe);
      probe.orch = static_cast<std::uint8_t>(o);
      probe.c = key;
      schedule(probe);
    }
  }
}

void World::on_probe(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  const JobId id = core_submit(o, event.c, true, "");
  probe_jobs_.emplace_back(o.index, id);
}

void World::final_checks() {
  for (const auto& o : orchs_) {
    const std::string where = orch_prefix(o->index);
    for (std::size_t i = 0; i < o->jobs.size(); ++i) {
      const ClientJob& job = o->jobs[i];
      const JobId id = i + 1;
      if (!checking_ && !job.probe) continue;  // no record was kept
      if (job.outcomes != 1) {
        fail(FailureKind::kLiveness, "TASK-5",
             where + job_name(*o, id) + " ended the run with " + std::to_string(job.outcomes) + " outcome(s)");
        return;
      }
      if (job.probe && (job.status != JobStatus::kOk || job.done_at - job.submitted_at > kProbeBound)) {
        fail(FailureKind::kLiveness, "LIVENESS",
             where + "probe " + job_name(*o, id) + " for " + key_name(keys_.key(job.key)) + " ended " +
                 std::string(job_status_name(job.status)) + " after " +
                 std::to_string(job.done_at - job.submitted_at) + "us, in a healed world");
        return;
      }
    }
    for (const auto& [task, sent] : o->tasks) {
      if (!sent.ended) {
        fail(FailureKind::kLiveness, "TASK-3",
             where + "task " + std::to_string(o->number_of(task)) + " never ended");
        return;
      }
    }
    if (o->broker->open_jobs() != 0 || o->broker->live_attempts() != 0) {
      fail(FailureKind::kLiveness, "CAP-4", where + "the core still holds jobs or attempts at the end");
      return;
    }
    for (const KeyView& key : o->broker->keys()) {
      if (key.in_use != 0) {
        fail(FailureKind::kLiveness, "CAP-4",
             where + key_name(key.key) + " ends with " + std::to_string(key.in_use) + " slot(s) in use");
        return;
      }
    }
  }
}

ProbeCounts World::probes() const {
  ProbeCounts counts = world_probes_;
  for (const auto& o : orchs_) {
    if (!o->model) continue;
    const ModelStats& s = o->model->stats();
    counts.hit(Probe::kRetry, s.retries);
    counts.hit(Probe::kLeftMidTask, s.left_mid_task);
    counts.hit(Probe::kAllBusy, s.waits_all_busy);
    counts.hit(Probe::kRetryWaited, s.waits_retrying);
    counts.hit(Probe::kLateResult, s.late_released);
    counts.hit(Probe::kSlotReclaimed, s.slots_reclaimed);
    counts.hit(Probe::kSendFailure, s.send_failures);
    counts.hit(Probe::kQueueFull, s.queue_full);
    counts.hit(Probe::kAllFailed, s.all_failed);
    counts.hit(Probe::kAttemptTimeout, s.attempt_timeouts);
    counts.hit(Probe::kDeadline, s.deadlines);
    counts.hit(Probe::kCancelRunning, s.cancels_running);
    counts.hit(Probe::kKeyForgotten, s.keys_forgotten);
    counts.hit(Probe::kQuarantined, s.quarantines);
    counts.hit(Probe::kBlockedSkipped, s.blocked_skipped);
    counts.hit(Probe::kProbeCleared, s.probes_cleared);
  }
  return counts;
}

}  // namespace aipool::sim
