#include "core/quarantine.h"

#include "core/check.h"
#include "core/timer_id.h"

namespace aipool {

std::string_view seat_state_name(SeatState state) {
  switch (state) {
    case SeatState::kHealthy: return "healthy";
    case SeatState::kQuarantined: return "quarantined";
    case SeatState::kProbeReady: return "probe ready";
    case SeatState::kProbing: return "probing";
  }
  return "?";
}

bool Quarantine::attempt_sent(Seat& seat, std::uint64_t number) {
  if (seat.health.state != SeatState::kProbeReady) return false;
  set_state(seat, SeatState::kProbing);  // QUAR-3: one probe at a time
  seat.health.probe = number;
  return true;
}

bool Quarantine::attempt_ended(Seat& seat, std::uint64_t number, AttemptVerdict verdict) {
  SeatHealth& health = seat.health;
  const bool probe = health.state == SeatState::kProbing && health.probe == number;
  switch (verdict) {
    case AttemptVerdict::kResult: {  // QUAR-1, QUAR-5: a result clears the seat
      const bool changed = health.state != SeatState::kHealthy;
      end_cooldown(seat);
      set_state(seat, SeatState::kHealthy);
      health.failures = 0;
      health.strikes = 0;
      health.probe = 0;
      return changed;
    }
    case AttemptVerdict::kCounted:
      ++health.failures;
      if (config_.after == 0) return false;  // QUAR-2: off
      if (probe || (health.state == SeatState::kHealthy && health.failures >= config_.after)) {
        quarantine(seat);  // QUAR-2, QUAR-5
        return true;
      }
      return false;  // QUAR-4: an attempt taken while blocked changes nothing else
    case AttemptVerdict::kUncounted:
      if (!probe) return false;
      set_state(seat, SeatState::kProbeReady);  // QUAR-5: it proved nothing
      health.probe = 0;
      return true;
  }
  return false;
}

Seat* Quarantine::cooldown_ended(std::uint64_t number) {
  const auto it = cooling_.find(number);
  if (it == cooling_.end()) return nullptr;  // TIME-4
  Seat& seat = *it->second;
  cooling_.erase(it);
  seat.health.cooldown = 0;
  seat.health.until = 0;
  set_state(seat, SeatState::kProbeReady);  // QUAR-3
  return &seat;
}

void Quarantine::seat_leaving(Seat& seat) {
  end_cooldown(seat);
  set_state(seat, SeatState::kHealthy);  // only to keep the blocked count right
}

// QUAR-2: cool-down = min(base * 2^(strikes-1), cap), doubled without overflow.
void Quarantine::quarantine(Seat& seat) {
  SeatHealth& health = seat.health;
  ++health.strikes;
  Micros cooldown = config_.cooldown;
  for (std::uint32_t i = 1; i < health.strikes && cooldown < config_.max_cooldown; ++i) cooldown *= 2;
  if (cooldown > config_.max_cooldown) cooldown = config_.max_cooldown;
  health.probe = 0;
  health.until = clock_.now() + cooldown;
  health.cooldown = next_cooldown_++;
  cooling_.emplace(health.cooldown, &seat);
  clock_.arm_timer(timer_id(TimerKind::kCooldown, health.cooldown), health.until);
  set_state(seat, SeatState::kQuarantined);
}

void Quarantine::end_cooldown(Seat& seat) {
  if (seat.health.state != SeatState::kQuarantined) return;
  clock_.cancel_timer(timer_id(TimerKind::kCooldown, seat.health.cooldown));
  cooling_.erase(seat.health.cooldown);
  seat.health.cooldown = 0;
  seat.health.until = 0;
}

void Quarantine::set_state(Seat& seat, SeatState state) {
  const bool was = seat.health.blocked();
  seat.health.state = state;
  const bool is = seat.health.blocked();
  if (was == is) return;
  AIPOOL_CHECK(seat.key < blocked_.size(), "quarantine: key index not sized");
  if (is) {
    ++blocked_[seat.key];
  } else {
    AIPOOL_CHECK(blocked_[seat.key] > 0, "quarantine: blocked count below 0");
    --blocked_[seat.key];
  }
}

}  // namespace aipool
