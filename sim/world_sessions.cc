// Workers' sessions with the orchestrators (world.h): connecting and joining,
// the churn of the faulty phase (broken streams, crashes, departures), the
// reconnect backoff checked against RECON-1 and RECON-2, and the orchestrator's
// side noticing that a stream ended.
#include <algorithm>

#include "sim/world.h"

namespace aipool::sim {

void World::on_connect(const Event& event) {
  SimWorker& worker = *workers_[event.worker];
  SimWorker::Session& session = worker.session(event.orch);
  session.connect_pending = false;
  if (!worker.alive()) {
    if (!healed_ && now_ < worker.restart_at()) return;  // still down
    worker.restart();
  }
  if (session.up) return;
  connect(event.worker, event.orch, secret_);
}

void World::connect(std::uint32_t w, std::uint8_t orch, std::string_view secret) {
  SimWorker& worker = *workers_[w];
  SimWorker::Session& session = worker.session(orch);
  Orchestrator& o = *orchs_[orch];
  const WorkerId id = next_worker_id_++;
  o.transport->open(id, w);
  // Live from the moment the core accepts it, which may dispatch to it at once.
  o.sessions[id] = SessionInfo{w, true};
  JoinRequest request{id, secret, "sim://" + worker.name(), worker.adverts()};
  std::string message;
  const JoinVerdict verdict = core_join(o, request, &message);
  session.refused = verdict != JoinVerdict::kAccepted;
  if (verdict == JoinVerdict::kNothingOffered) world_probes_.hit(Probe::kListRefused);
  if (verdict != JoinVerdict::kAccepted) {
    o.sessions[id].core_live = false;
    o.transport->forget(id);
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " join refused: " + message);
    flush_trace();
    return;
  }
  o.accepted_ids.push_back(id);
  session.id = id;
  session.up = true;
  session.started_at = now_;
  if (++session.sessions > 1) world_probes_.hit(Probe::kReregistered);
  if (tracing()) {
    std::string line = orch_prefix(o.index) + worker.name() + " joins as worker " + std::to_string(id) + " (";
    for (std::size_t i = 0; i < worker.adverts().size(); ++i) {
      if (i > 0) line += ", ";
      line += key_name(worker.adverts()[i].key) + " cap=" + std::to_string(worker.adverts()[i].capacity);
    }
    trace(line + ")");
    flush_trace();
  }
}

// The worker's end of a session goes down; the orchestrator hears of it after
// `detect` (never if `notify` is false: it finds out when a send fails).
void World::end_session_on_worker_side(std::uint32_t w, std::uint8_t orch, Micros detect) {
  SimWorker::Session& session = workers_[w]->session(orch);
  if (!session.up) return;
  session.up = false;
  Orchestrator& o = *orchs_[orch];
  o.transport->break_stream(session.id, detect, detect >= 0);
  if (o.model) o.model->set_stream_broken(session.id, true);
}

// RECON-1, RECON-2: the worker reconnects after its backoff, and the backoff
// is checked against the rule.
void World::schedule_reconnect(std::uint32_t w, std::uint8_t orch) {
  SimWorker::Session& session = workers_[w]->session(orch);
  Backoff& backoff = *session.backoff;
  const Micros session_length = now_ - session.started_at;
  backoff.session_ended(session_length);
  if (session_length >= seconds(60) && backoff.base() != millis(500)) {
    fail(FailureKind::kInvariant, "RECON-2",
         workers_[w]->name() + "'s backoff did not reset after a " + std::to_string(session_length) +
             "us session");
    return;
  }
  const Micros base = backoff.base();
  const Micros delay = backoff.next_delay();
  if (delay < base - base / 2 || delay > std::min(base + base / 2, kReconnectCap)) {
    fail(FailureKind::kInvariant, "RECON-1",
         workers_[w]->name() + " waits " + std::to_string(delay) + "us to reconnect, base " +
             std::to_string(base) + "us");
    return;
  }
  schedule_connect(w, static_cast<std::uint8_t>(orch), delay);
}

// A kConnect of `worker` to `orch` after `delay`; the session waits for it.
void World::schedule_connect(std::uint32_t worker, std::uint8_t orch, Micros delay) {
  Event connect = at_delay(delay, EventKind::kConnect);
  connect.worker = worker;
  connect.orch = orch;
  schedule(connect);
  workers_[worker]->session(orch).connect_pending = true;
}

void World::schedule_churn(std::uint32_t w, Micros after) {
  const std::uint64_t total = config_.weight_crash + config_.weight_leave + config_.weight_break;
  std::uint64_t r = fault_prng_.uniform(std::max<std::uint64_t>(total, 1));
  Event event = at_delay(after, EventKind::kStreamBreak);
  event.worker = w;
  event.d = static_cast<std::uint32_t>(1 + draw(config_.downtime_max));
  if (r < config_.weight_crash) {
    event.kind = EventKind::kCrash;
  } else if (r - config_.weight_crash < config_.weight_leave) {
    event.kind = EventKind::kLeave;
  } else {
    std::vector<std::uint8_t> served;
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      if (workers_[w]->session(o).serves) served.push_back(static_cast<std::uint8_t>(o));
    }
    event.orch = served.empty() ? 0 : fault_prng_.pick(served);
  }
  schedule(event);
}

void World::on_stream_break(const Event& event) {
  if (healed_) return;
  if (config_.session_max > 0) schedule_churn(event.worker, 1 + draw(config_.session_max));
  SimWorker::Session& session = workers_[event.worker]->session(event.orch);
  if (!session.up) return;
  if (tracing()) {
    trace(orch_prefix(event.orch) + workers_[event.worker]->name() + "'s stream breaks");
  }
  end_session_on_worker_side(event.worker, event.orch,
                             orchs_[event.orch]->transport->draw_detect_delay());
  schedule_reconnect(event.worker, event.orch);
}

void World::on_crash(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (config_.session_max > 0) schedule_churn(event.worker, event.d + 1 + draw(config_.session_max));
  if (!worker.alive()) return;
  if (tracing()) trace(worker.name() + " crashes");
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    end_session_on_worker_side(event.worker, static_cast<std::uint8_t>(o),
                               orchs_[o]->transport->draw_detect_delay());
  }
  worker.crash(now_ + event.d);
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    if (!worker.session(o).serves) continue;
    schedule_connect(event.worker, static_cast<std::uint8_t>(o), event.d);
  }
}

void World::on_leave(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (config_.session_max > 0) schedule_churn(event.worker, event.d + 1 + draw(config_.session_max));
  if (tracing()) trace(worker.name() + " disconnects");
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    if (!worker.session(o).up) continue;
    end_session_on_worker_side(event.worker, static_cast<std::uint8_t>(o), 0);
    schedule_connect(event.worker, static_cast<std::uint8_t>(o), event.d);
  }
}

void World::on_stream_end(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  const WorkerId id = event.b;
  core_leave(o, id, "stream ended");
  o.transport->forget(id);
  auto it = o.sessions.find(id);
  if (it != o.sessions.end()) it->second.core_live = false;
}

}  // namespace aipool::sim
