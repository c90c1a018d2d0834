// How the world says what happens: event descriptions for traces and failure
// reports, and the names of jobs, workers and orchestrators in them.
#include "sim/trace.h"

#include "sim/world.h"

namespace aipool::sim {

std::string time_text(Micros t) {
  const Micros whole = t / kMicrosPerSecond;
  Micros frac = t % kMicrosPerSecond;
  std::string out = std::to_string(whole);
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 6 - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out + "s";
}

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kTimer: return "timer";
    case EventKind::kConnect: return "connect";
    case EventKind::kStreamBreak: return "stream-break";
    case EventKind::kStreamEnd: return "stream-end";
    case EventKind::kNotice: return "notice";
    case EventKind::kExecDone: return "exec-done";
    case EventKind::kUpload: return "upload";
    case EventKind::kForged: return "forged-upload";
    case EventKind::kForgedJoin: return "forged-join";
    case EventKind::kSubmit: return "submit";
    case EventKind::kCancel: return "cancel";
    case EventKind::kCrash: return "crash";
    case EventKind::kLeave: return "leave";
    case EventKind::kForeignTake: return "foreign-take";
    case EventKind::kForeignGive: return "foreign-give";
    case EventKind::kHeal: return "heal";
    case EventKind::kQuietCheck: return "quiet-check";
    case EventKind::kProbe: return "probe";
    case EventKind::kScript: return "script";
  }
  return "?";
}

const char* profile_kind_name(ProfileKind kind) {
  switch (kind) {
    case ProfileKind::kFast: return "fast";
    case ProfileKind::kSlow: return "slow";
    case ProfileKind::kFailing: return "failing";
    case ProfileKind::kHanging: return "hanging";
    case ProfileKind::kManual: return "manual";
  }
  return "?";
}

std::string World::orch_prefix(std::uint8_t orch) const {
  if (orchs_.size() <= 1) return "";
  return "o" + std::to_string(orch + 1) + ": ";
}

std::string World::job_name(const Orchestrator& o, JobId job) const {
  if (job >= 1 && job <= o.jobs.size() && !o.jobs[job - 1].name.empty()) return o.jobs[job - 1].name;
  return "j" + std::to_string(job);
}

std::string World::session_name(const Orchestrator& o, WorkerId id) const {
  auto it = o.sessions.find(id);
  if (it == o.sessions.end()) return "worker " + std::to_string(id);
  return workers_[it->second.worker]->name();
}

std::string World::worker_name(std::uint32_t worker) const {
  return worker < workers_.size() ? workers_[worker]->name() : "w?";
}

void World::trace(const std::string& line) {
  if (!trace_) return;
  std::string text = "@" + time_text(now_) + " " + line;
  if (hold_trace_) {
    held_trace_.push_back(std::move(text));
  } else {
    trace_(text);
  }
}

void World::flush_trace() {
  if (!trace_) return;
  for (const std::string& line : held_trace_) trace_(line);
  held_trace_.clear();
}

std::string World::describe_event(const Event& event) const {
  std::string out = "@" + time_text(event.at) + " " + event_kind_name(event.kind);
  const std::string orch = orchs_.size() > 1 ? " o" + std::to_string(event.orch + 1) : "";
  const std::string worker = " " + worker_name(event.worker);
  switch (event.kind) {
    case EventKind::kTimer: {
      const TimerName name = decode_timer(event.a);
      out += orch + " " + timer_kind_name(name.kind) +
             (name.kind == TimerKind::kDeadline   ? " of job "
              : name.kind == TimerKind::kCooldown ? " "
                                                  : " of task ") +
             std::to_string(name.target);
      if (event.flags != 0) out += " (stale)";
      break;
    }
    case EventKind::kConnect:
    case EventKind::kStreamBreak:
      out += worker + orch;
      break;
    case EventKind::kStreamEnd:
      out += orch + " worker " + std::to_string(event.b) + " (" + worker_name(event.worker) + ")";
      break;
    case EventKind::kNotice:
    case EventKind::kExecDone:
      out += orch + " task " + std::to_string(orchs_[event.orch]->number_of(static_cast<TaskId>(event.a))) +
             " at" + worker + " (worker " +
             std::to_string(event.b) + ")";
      if (event.kind == EventKind::kExecDone) out += event.flags == 0 ? " ok" : " error";
      break;
    case EventKind::kUpload:
      out += orch + " task " + std::to_string(orchs_[event.orch]->number_of(static_cast<TaskId>(event.a))) +
             " from" + worker + " (worker " +
             std::to_string(event.b) + ")" + ((event.flags & kUploadOk) != 0 ? " ok" : " error") +
             ((event.flags & kUploadDuplicate) != 0 ? " duplicate" : "") +
             ((event.flags & kUploadAnonymous) != 0 ? " anonymous" : "");
      break;
    case EventKind::kForged:
    case EventKind::kForgedJoin:
      out += orch + " kind " + std::to_string(event.flags);
      break;
    case EventKind::kSubmit:
      out += orch;
      break;
    case EventKind::kCancel:
      out += orch + " job " + std::to_string(event.a);
      break;
    case EventKind::kCrash:
    case EventKind::kLeave:
      out += worker + " for " + time_text(event.d);
      break;
    case EventKind::kForeignTake:
    case EventKind::kForeignGive:
      out += worker + " key " + std::to_string(event.c);
      break;
    case EventKind::kProbe:
      out += orch + " key " + std::to_string(event.c);
      break;
    case EventKind::kHeal:
    case EventKind::kQuietCheck:
    case EventKind::kScript:
      break;
  }
  return out;
}

std::string World::recent_events() const {
  std::string out;
  const std::uint64_t n = ring_count_ < kRing ? ring_count_ : kRing;
  for (std::uint64_t i = ring_count_ - n; i < ring_count_; ++i) {
    const std::string& text = ring_text_[i % kRing];
    out += "  #" + std::to_string(i + 1) + " " +
           (text.empty() ? describe_event(ring_[i % kRing]) : "@" + time_text(ring_[i % kRing].at) + " " + text) + "\n";
  }
  return out;
}

}  // namespace aipool::sim
