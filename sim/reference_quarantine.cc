// The reference model's selection (SEL-2 with QUAR-4) and quarantine (spec/core.md
// QUAR-1..QUAR-5), written the plain way: linear scans over the key's rotation, no
// counts kept.
#include <algorithm>

#include "sim/reference_model.h"

namespace aipool::sim {

// SEL-2: the first worker from the head with a free slot, not yet tried for the
// job, takes the attempt; it and every worker scanned before it go to the back in
// scan order. No such worker: the order is unchanged.
// QUAR-4: while the job has an untried seat that is not blocked, blocked seats count
// as tried.
std::optional<WorkerId> ReferenceModel::pick(const Key& key, const std::vector<WorkerId>& tried) {
  const bool skip = skips_blocked(key, tried);
  KeyState& state = key_state_or_add(key);
  for (std::size_t i = 0; i < state.rotation.size(); ++i) {
    const WorkerId id = state.rotation[i];
    const Seat* seat = seat_of(id, key);
    const bool free = seat != nullptr && seat->in_use < seat->capacity;
    const bool untried = std::find(tried.begin(), tried.end(), id) == tried.end();
    if (free && untried && skip && blocked(*seat)) ++stats_.blocked_skipped;
    if (free && untried && !(skip && blocked(*seat))) {
      if (blocked(*seat)) ++stats_.blocked_taken;
      if (i > 0) ++stats_.skipped_full;
      std::rotate(state.rotation.begin(), state.rotation.begin() + static_cast<std::ptrdiff_t>(i + 1),
                  state.rotation.end());
      return id;
    }
  }
  return std::nullopt;
}

// TIME-5: the listed key's own value, else its pipeline's, else the default.
Micros ReferenceModel::attempt_timeout_for(const Key& key) const {
  const auto own = config_.model_timeouts.find(key);
  if (own != config_.model_timeouts.end() && own->second.first > 0) return own->second.first;
  const Micros pipeline = config_.pipeline_attempt_timeout[static_cast<std::size_t>(key.pipeline)];
  return pipeline > 0 ? pipeline : config_.attempt_timeout;
}

Micros ReferenceModel::job_deadline_for(const Key& key) const {
  const auto own = config_.model_timeouts.find(key);
  if (own != config_.model_timeouts.end() && own->second.second > 0) return own->second.second;
  const Micros pipeline = config_.pipeline_job_deadline[static_cast<std::size_t>(key.pipeline)];
  return pipeline > 0 ? pipeline : config_.job_deadline;
}

bool ReferenceModel::blocked(const Seat& seat) {
  return seat.state == SeatState::kQuarantined || seat.state == SeatState::kProbing;
}

// QUAR-4: the key has a live seat that the job has not tried and that is not blocked
// (free or not).
bool ReferenceModel::skips_blocked(const Key& key, const std::vector<WorkerId>& tried) const {
  const KeyState* state = key_state(key);
  if (state == nullptr) return false;
  for (WorkerId id : state->rotation) {
    const Seat* seat = seat_of(id, key);
    if (seat == nullptr || blocked(*seat)) continue;
    if (std::find(tried.begin(), tried.end(), id) == tried.end()) return true;
  }
  return false;
}

// QUAR-3: a probe-ready seat's next attempt is its probe.
void ReferenceModel::seat_sent(WorkerId worker, const Key& key, TaskId task) {
  Seat* seat = seat_of(worker, key);
  if (seat->state != SeatState::kProbeReady) return;
  seat->state = SeatState::kProbing;
  seat->probe = task;
  ++stats_.probes;
  work_.push_back(Work{WorkKind::kPump, 0, key});
}

void ReferenceModel::seat_ended(WorkerId worker, const Key& key, TaskId task, Verdict verdict) {
  Seat* seat = seat_of(worker, key);
  if (seat == nullptr) return;  // the worker left
  const SeatState before = seat->state;
  const bool probe = seat->state == SeatState::kProbing && seat->probe == task;
  if (verdict == Verdict::kResult) {  // QUAR-1: a result clears the seat
    if (seat->state == SeatState::kQuarantined) cancel_timer(TimerKind::kCooldown, seat->cooldown);
    if (probe) ++stats_.probes_cleared;
    seat->state = SeatState::kHealthy;
    seat->failures = 0;
    seat->strikes = 0;
    seat->until = 0;
    seat->cooldown = 0;
    seat->probe = 0;
  } else if (verdict == Verdict::kCounted) {
    ++seat->failures;
    const bool reached = seat->state == SeatState::kHealthy && seat->failures >= config_.quarantine_after;
    if (config_.quarantine_after > 0 && (probe || reached)) quarantine(*seat);  // QUAR-2, QUAR-5
  } else if (probe) {  // QUAR-5: a probe that proved nothing
    seat->state = SeatState::kProbeReady;
    seat->probe = 0;
  }
  if (seat->state != before) {
    work_.push_back(Work{WorkKind::kPump, 0, key});
  }
}

// QUAR-2: cool-down = min(base * 2^(strikes-1), cap).
void ReferenceModel::quarantine(Seat& seat) {
  ++seat.strikes;
  Micros cooldown = config_.quarantine_cooldown;
  for (std::uint32_t i = 1; i < seat.strikes; ++i) {
    cooldown = std::min(cooldown * 2, config_.quarantine_max_cooldown);
  }
  cooldown = std::min(cooldown, config_.quarantine_max_cooldown);
  seat.state = SeatState::kQuarantined;
  seat.probe = 0;
  seat.until = now_ + cooldown;
  seat.cooldown = next_cooldown_++;
  arm(TimerKind::kCooldown, seat.cooldown, seat.until);
  ++stats_.quarantines;
}

// QUAR-3: the cool-down ended; the seat may take one probe.
void ReferenceModel::cooldown_ended(std::uint64_t number) {
  for (Worker& worker : workers_) {
    if (!worker.live) continue;
    for (Seat& seat : worker.seats) {
      if (seat.state != SeatState::kQuarantined || seat.cooldown != number) continue;
      seat.state = SeatState::kProbeReady;
      seat.until = 0;
      seat.cooldown = 0;
      work_.push_back(Work{WorkKind::kPump, 0, seat.key});
      return;
    }
  }
}

}  // namespace aipool::sim
