// The Broker's side of quarantine (spec/core.md QUAR-1..QUAR-7): which seats a job
// may take, and what an attempt's start and end tell the Quarantine. The state
// machine itself is in quarantine.cc.
#include <algorithm>

#include "core/broker.h"

namespace aipool {

bool Broker::skips_blocked(const Job& job) const {
  const std::uint32_t blocked = quarantine_.blocked_count(job.key);
  if (blocked == 0) return false;  // QUAR-7: nothing to skip, nothing to count
#ifdef AIPOOL_BUG_INJECTION
  if ((config_.bugs_for_test & kBugQuarantineIgnored) != 0) return false;
#endif
  // The live seats of the key that are not blocked, less those the job tried (a job
  // tries a worker at most once, RETRY-4).
  std::size_t open = pool_.queue(job.key).size() - blocked;
  for (WorkerId id : job.tried) {
    const Worker* worker = pool_.find(id);
    if (worker == nullptr) continue;
    for (const Seat& seat : worker->seats) {
      if (seat.key == job.key && !seat.health.blocked()) --open;
    }
  }
  return open > 0;
}

// SEL-2 with QUAR-4: the first seat from the head with a free slot that the job has
// not tried and, while the job has an untried seat that is not blocked, is not blocked.
Seat* Broker::pick_for(Job& job) {
  const bool skip = skips_blocked(job);
  return pool_.pick(job.key, [&job, skip](const Seat& seat) {
    if (skip && seat.health.blocked()) return false;
    return std::find(job.tried.begin(), job.tried.end(), seat.worker) == job.tried.end();
  });
}

void Broker::seat_sent(Seat& seat, std::uint64_t number) {
  if (quarantine_.attempt_sent(seat, number)) work_.push_back({WorkKind::kPump, seat.key});
}

void Broker::seat_ended(Seat& seat, std::uint64_t number, AttemptVerdict verdict) {
  if (quarantine_.attempt_ended(seat, number, verdict)) work_.push_back({WorkKind::kPump, seat.key});
}

void Broker::cooldown_ended(std::uint64_t number) {
  if (Seat* seat = quarantine_.cooldown_ended(number)) work_.push_back({WorkKind::kPump, seat->key});
}

}  // namespace aipool
