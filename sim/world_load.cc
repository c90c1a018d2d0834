// The world's clients and forgers (world.h): the generated submit load with
// its cancels and bursts, forged uploads and joins (each must be refused), and
// the load of other, unsimulated orchestrators on the workers' slots.
#include <algorithm>

#include "sim/world.h"

namespace aipool::sim {

void World::on_submit(const Event& event) {
  if (healed_) return;
  Orchestrator& o = *orchs_[event.orch];
  const std::uint32_t key = load_prng_.chance(config_.unknown_key)
                                ? nobody_key_
                                : static_cast<std::uint32_t>(load_prng_.uniform(std::max<std::uint32_t>(config_.keys, 1)));
  const JobId id = core_submit(o, key, false, "");
  if (load_prng_.chance(config_.cancel)) {
    Event cancel = at_delay(static_cast<Micros>(load_prng_.uniform(static_cast<std::uint64_t>(config_.cancel_delay_max) + 1)),
                            EventKind::kCancel);
    cancel.orch = o.index;
    cancel.a = id;
    schedule(cancel);
  }
  schedule_forgeries();
  if ((event.flags & kSubmitChained) != 0) schedule_next_submits();
}

// Now and then a forged upload or a forged join, a little later.
void World::schedule_forgeries() {
  if (fault_prng_.chance(config_.forged_upload)) {
    Event forged = at_delay(draw(seconds(5)), EventKind::kForged);
    forged.orch = static_cast<std::uint8_t>(fault_prng_.uniform(orchs_.size()));
    forged.flags = static_cast<std::uint16_t>(fault_prng_.uniform(3));
    schedule(forged);
  }
  if (fault_prng_.chance(config_.forged_join) && !workers_.empty()) {
    Event forged = at_delay(draw(seconds(5)), EventKind::kForgedJoin);
    forged.orch = static_cast<std::uint8_t>(fault_prng_.uniform(orchs_.size()));
    const std::uint16_t kinds[] = {static_cast<std::uint16_t>(ForgeKind::kBadSecret),
                                   static_cast<std::uint16_t>(ForgeKind::kReusedId),
                                   static_cast<std::uint16_t>(ForgeKind::kNothing)};
    forged.flags = kinds[fault_prng_.uniform(3)];
    forged.worker = static_cast<std::uint32_t>(fault_prng_.uniform(workers_.size()));
    schedule(forged);
  }
}

// A chained submit schedules the next one, and sometimes a burst at once, up to
// config_.jobs in all.
void World::schedule_next_submits() {
  auto submit_at = [this](Micros delay, std::uint16_t flags) {
    Event next = at_delay(delay, EventKind::kSubmit);
    next.orch = static_cast<std::uint8_t>(load_prng_.uniform(orchs_.size()));
    next.flags = flags;
    schedule(next);
    ++submits_scheduled_;
  };
  if (load_prng_.chance(config_.burst)) {
    const std::uint64_t n = load_prng_.between(1, std::max<std::uint32_t>(config_.burst_max, 1));
    for (std::uint64_t i = 0; i < n && submits_scheduled_ < config_.jobs; ++i) submit_at(0, 0);
  }
  if (submits_scheduled_ < config_.jobs) {
    submit_at(1 + static_cast<Micros>(load_prng_.uniform(static_cast<std::uint64_t>(config_.submit_interval_max) + 1)),
              kSubmitChained);
  }
}

void World::on_forged(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  const auto last = static_cast<TaskId>(o.broker->attempts_made());
  Report report;
  report.credentials = secret_;
  report.ok = true;
  report.result = shared_result_;
  const auto any_task = [&]() -> TaskId {  // the TaskID of an attempt made (or of the first)
    return o.id_of(last > 0 ? static_cast<TaskId>(fault_prng_.between(1, static_cast<std::uint64_t>(last))) : 1);
  };
  std::string what;
  switch (static_cast<ForgeKind>(event.flags)) {
    case ForgeKind::kBadSecret:
      report.credentials = "not-the-secret";
      report.task = any_task();
      what = "with a wrong secret";
      break;
    case ForgeKind::kUnknownTask: {  // TASK-6
      if (fault_prng_.one_in(4)) {
        report.task = -static_cast<TaskId>(fault_prng_.uniform(3));
        what = "for a task never issued";
        break;
      }
      const auto ahead = static_cast<TaskId>(fault_prng_.between(1, 1000));
      if (ahead % 2 == 0) {  // the TaskID of an attempt not made yet
        report.task = o.id_of(last + ahead);
        what = "for a task never issued";
      } else {  // a TaskID of another run: a small number under another key
        const SipKey& key = o.task_ids.key();
        report.task = static_cast<TaskId>(IdCipher(SipKey{~key.k0, ~key.k1}).encode(static_cast<std::uint64_t>(ahead)));
        what = "for a task of another run";
      }
      break;
    }
    default: {
      report.task = any_task();
      const std::optional<TaskView> task = o.broker->task(report.task);
      report.from = (task ? task->worker : 0) + 1 + fault_prng_.uniform(5);
      what = "from the wrong worker";
      break;
    }
  }
  const ReportVerdict verdict = core_report(o, report, true);
  if (tracing()) {
    trace(orch_prefix(o.index) + "forged post of task " + std::to_string(o.number_of(report.task)) + " " + what +
          ": " + std::string(report_verdict_name(verdict)));
  }
  world_probes_.hit(Probe::kForgedRefused);
}

void World::on_forged_join(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  JoinRequest request;
  request.secret = secret_;
  request.address = "sim://forger";
  request.adverts = workers_[event.worker]->adverts();
  switch (static_cast<ForgeKind>(event.flags)) {
    case ForgeKind::kBadSecret:
      request.id = next_worker_id_++;
      request.secret = "not-the-secret";
      break;
    case ForgeKind::kReusedId:
      if (o.accepted_ids.empty()) return;
      request.id = fault_prng_.pick(o.accepted_ids);
      break;
    default:
      request.id = next_worker_id_++;
      for (Advert& advert : request.adverts) advert.capacity = 0;
      break;
  }
  std::string message;
  const JoinVerdict verdict = core_join(o, request, &message);
  if (tracing()) trace(orch_prefix(o.index) + "forged join as worker " + std::to_string(request.id) + ": " + message);
  if (verdict == JoinVerdict::kAccepted) {
    fail(FailureKind::kInvariant, "CONN-1", "a forged join was accepted as worker " + std::to_string(request.id));
    return;
  }
  world_probes_.hit(Probe::kForgedRefused);
}

void World::on_foreign_give(const Event& event) {
  SimWorker& worker = *workers_[event.worker];
  if (worker.alive() && worker.incarnation() == event.d) worker.release(event.c);
}

void World::on_foreign_take(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (worker.alive() && worker.try_acquire(event.c)) {
    Event give = at_delay(draw_between(seconds(1), config_.foreign_hold_max), EventKind::kForeignGive);
    give.worker = event.worker;
    give.c = event.c;
    give.d = worker.incarnation();
    schedule(give);
  }
  Event next = at_delay(1 + draw(config_.foreign_interval_max), EventKind::kForeignTake);
  next.worker = event.worker;
  next.c = fault_prng_.pick(worker.key_indices());
  schedule(next);
}

}  // namespace aipool::sim
