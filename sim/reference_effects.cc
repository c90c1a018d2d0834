// The reference model's effects (reference_model.h): when two are the same
// decision, and how one reads in a failure message.
#include "sim/reference_model.h"

namespace aipool::sim {

bool Effect::same_decision(const Effect& other) const {
  if (kind != other.kind) return false;
  switch (kind) {
    case Kind::kSend:
      return worker == other.worker && task == other.task && job == other.job && key == other.key;
    case Kind::kClose:
      return worker == other.worker;
    case Kind::kOutcome:
      return job == other.job && status == other.status && task == other.task &&
             worker == other.worker && attempts == other.attempts;
    case Kind::kEnd:
      return task == other.task && job == other.job && worker == other.worker && end == other.end;
  }
  return false;
}

std::string describe_effect(const Effect& effect) {
  switch (effect.kind) {
    case Effect::Kind::kSend:
      return "send task " + std::to_string(effect.task) + " of job " + std::to_string(effect.job) +
             " (" + key_name(effect.key) + ") to worker " + std::to_string(effect.worker);
    case Effect::Kind::kClose:
      return "close worker " + std::to_string(effect.worker);
    case Effect::Kind::kOutcome:
      return "outcome of job " + std::to_string(effect.job) + ": " +
             std::string(job_status_name(effect.status)) + ", last task " +
             std::to_string(effect.task) + " on worker " + std::to_string(effect.worker) + ", " +
             std::to_string(effect.attempts) + " attempt(s)";
    case Effect::Kind::kEnd:
      return "task " + std::to_string(effect.task) + " of job " + std::to_string(effect.job) +
             " on worker " + std::to_string(effect.worker) + " ends: " +
             std::string(attempt_end_name(effect.end));
  }
  return "?";
}

}  // namespace aipool::sim
