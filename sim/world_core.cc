// The world's calls into the real core. Each call is mirrored on the reference
// model first (at CheckLevel::kFull) and the two are compared: the answer, then
// every effect in order (checker.h). The TransportObserver and the completion
// callback record the core's effects and check, as they happen, what no model is
// needed for: attempts are numbered one by one and named by their TaskID (TASK-1), a notice goes only to a live worker
// that advertises the key and was not tried for the job (SEL-1, SEL-4, RETRY-4),
// a job gets one outcome (TASK-5) and a result reaches only the job of its task,
// once (TASK-3).
#include <algorithm>
#include <charconv>

#include "sim/trace.h"
#include "sim/world.h"

namespace aipool::sim {
namespace {

const char* join_verdict_name(JoinVerdict verdict) {
  switch (verdict) {
    case JoinVerdict::kAccepted: return "accepted";
    case JoinVerdict::kInvalidSecret: return "invalid secret";
    case JoinVerdict::kNothingOffered: return "nothing offered";
    case JoinVerdict::kIdReused: return "id reused";
    case JoinVerdict::kTooManyModels: return "too many models";
  }
  return "?";
}

const char* join_rule(JoinVerdict verdict) {
  switch (verdict) {
    case JoinVerdict::kInvalidSecret: return "CONN-1";
    case JoinVerdict::kNothingOffered: return "CONN-2";
    case JoinVerdict::kIdReused: return "CONN-3";
    case JoinVerdict::kTooManyModels: return "CONN-7";
    case JoinVerdict::kAccepted: break;
  }
  return "CONN-3";
}

const char* report_rule(ReportVerdict verdict) {
  switch (verdict) {
    case ReportVerdict::kAccepted: return "TASK-3";
    case ReportVerdict::kUnauthorized: return "CONN-1";
    case ReportVerdict::kUnknownTask: return "TASK-1";
    case ReportVerdict::kWrongWorker: return "TASK-2";
    case ReportVerdict::kEnded: return "TASK-4";
    case ReportVerdict::kLateReleased: return "SLOT-2";
  }
  return "TASK-4";
}

JobId job_of_payload(const Payload& payload) {
  JobId id = 0;
  if (payload) std::from_chars(payload->data(), payload->data() + payload->size(), id);
  return id;
}

}  // namespace

void World::begin_call(Orchestrator& o) {
  hold_trace_ = tracing();
  held_base_ = held_trace_.size();
  o.effects.clear();
  if (o.model) o.model->set_now(now_);
}

void World::end_call(Orchestrator& o) {
  if (o.model && !failed()) {
    if (auto v = check_effects(o.effects, o.model->effects())) {
      // Reported by after_event, once the invariants had their say: a broken
      // invariant names the rule more precisely than the decision it led to.
      if (!effect_violation_) effect_violation_ = Violation{v->rule, orch_prefix(o.index) + v->message};
    } else if (tracing()) {
      // Each effect of the call traced one line: put the waits where they happened.
      const auto& waits = o.model->waits();
      for (auto it = waits.rbegin(); it != waits.rend(); ++it) {
        const std::size_t at = std::min(held_base_ + it->first, held_trace_.size());
        const auto job = o.model->jobs().find(it->second);
        if (job == o.model->jobs().end()) continue;
        held_trace_.insert(held_trace_.begin() + static_cast<std::ptrdiff_t>(at),
                           "@" + time_text(now_) + " " + orch_prefix(o.index) +
                               job_name(o, it->second) + " waits for " + key_name(job->second.key));
      }
    }
  }
  hold_trace_ = false;
}

JoinVerdict World::core_join(Orchestrator& o, const JoinRequest& request, std::string* message) {
  begin_call(o);
  std::optional<JoinVerdict> expected;
  if (o.model) expected = o.model->join(request.id, request.secret, request.adverts);
  const JoinResult result = o.broker->worker_joined(request);
  if (expected && *expected != result.verdict) {
    fail(FailureKind::kInvariant, join_rule(*expected),
         orch_prefix(o.index) + "join of worker " + std::to_string(request.id) + ": core says " +
             join_verdict_name(result.verdict) + ", the spec says " + join_verdict_name(*expected));
  } else if (expected && (result.ignored_keys != o.model->join_ignored() ||
                          result.offered_keys != o.model->join_offered())) {
    fail(FailureKind::kInvariant, "LIST-1",
         orch_prefix(o.index) + "join of worker " + std::to_string(request.id) +
             " names other ignored or offered keys than the model");
  }
  end_call(o);
  if (message != nullptr) *message = result.message;
  return result.verdict;
}

void World::core_leave(Orchestrator& o, WorkerId id, std::string_view reason) {
  if (tracing()) {
    auto it = o.sessions.find(id);
    if (it != o.sessions.end() && it->second.core_live) {
      trace(orch_prefix(o.index) + session_name(o, id) + " (worker " + std::to_string(id) +
            ") left: " + std::string(reason));
    }
  }
  begin_call(o);
  if (o.model) o.model->leave(id);
  o.broker->worker_left(id, reason);
  end_call(o);
  flush_trace();
}

JobId World::core_submit(Orchestrator& o, std::uint32_t key, bool probe, const std::string& name) {
  const JobId predicted = ++o.submitted;
  if (checking_ || probe) {  // without checks (benchmarks) only probes keep a record
    ClientJob job;
    job.key = key;
    job.submitted_at = now_;
    job.probe = probe;
    job.name = name;
    o.jobs.resize(predicted);
    o.jobs[predicted - 1] = std::move(job);
    o.open_jobs.insert(predicted);
  }
  ++stats_.jobs;
  if (tracing()) {
    trace(orch_prefix(o.index) + job_name(o, predicted) + (probe ? " (probe)" : "") +
          " submitted for " + key_name(keys_.key(key)));
  }
  begin_call(o);
  if (o.model) o.model->submit(keys_.key(key));
  const Payload payload =
      checking_ ? std::make_shared<const std::string>(std::to_string(predicted)) : shared_payload_;
  const std::uint8_t index = o.index;
  const JobId id = o.broker->submit(keys_.key(key), payload,
                                    [this, index](const JobOutcome& outcome) { on_outcome(index, outcome); });
  if (id != predicted && !failed()) {
    fail(FailureKind::kInvariant, "TASK-5",
         orch_prefix(o.index) + "submit returned job " + std::to_string(id) + ", expected " +
             std::to_string(predicted));
  }
  end_call(o);
  flush_trace();
  return id;
}

void World::core_cancel(Orchestrator& o, JobId id) {
  if (tracing()) trace(orch_prefix(o.index) + job_name(o, id) + " cancelled by its client");
  begin_call(o);
  if (o.model) o.model->cancel(id);
  o.broker->cancel(id);
  end_call(o);
  flush_trace();
}

ReportVerdict World::core_report(Orchestrator& o, const Report& report, bool forged) {
  begin_call(o);
  const std::size_t jobs_before = o.broker->open_jobs();
  const std::size_t attempts_before = o.broker->live_attempts();
  const std::uint64_t made_before = o.broker->attempts_made();
  std::optional<ReportVerdict> expected;
  const TaskId number = o.number_of(report.task);  // TASK-6: the model works on numbers
  if (o.model) {
    expected = o.model->report(report.credentials, number, report.from, report.ok, report.error,
                               report.rejected_input);
  }
  const ReportVerdict verdict = o.broker->report(report);
  if (expected && *expected != verdict && !failed()) {
    fail(FailureKind::kInvariant, report_rule(*expected),
         orch_prefix(o.index) + "report of task " + std::to_string(number) + ": core says " +
             std::string(report_verdict_name(verdict)) + ", the spec says " +
             std::string(report_verdict_name(*expected)));
  }
  // TASK-4, TASK-2, SLOT-2: a refused report changes nothing; a late one at most frees its slot.
  const bool refused = verdict != ReportVerdict::kAccepted && verdict != ReportVerdict::kLateReleased;
  if (!failed() && (forged && !refused)) {
    fail(FailureKind::kInvariant, report_rule(verdict),
         orch_prefix(o.index) + "a forged report of task " + std::to_string(number) +
             " was " + std::string(report_verdict_name(verdict)));
  }
  if (!failed() && refused &&
      (!o.effects.empty() || o.broker->open_jobs() != jobs_before ||
       o.broker->live_attempts() != attempts_before || o.broker->attempts_made() != made_before)) {
    fail(FailureKind::kInvariant, "TASK-4",
         orch_prefix(o.index) + "a refused report of task " + std::to_string(number) +
             " changed the core");
  }
  // SLOT-2: a late report's content is discarded: on_outcome checks that a job's
  // result is always the one of its last attempt, so a late result cannot end a job.
  end_call(o);
  return verdict;
}

void World::core_timer(Orchestrator& o, TimerId id, bool stale) {
  const TimerName name = decode_timer(id);
  if (stale) world_probes_.hit(Probe::kStaleTimer);
  if (tracing()) {
    const std::string target = name.kind == TimerKind::kDeadline
                                   ? " of " + job_name(o, name.target)
                                   : name.kind == TimerKind::kCooldown ? " " + std::to_string(name.target) + " ends"
                                                                       : " of task " + std::to_string(name.target);
    trace(orch_prefix(o.index) + "timer: " + timer_kind_name(name.kind) + target + (stale ? " (stale)" : ""));
  }
  begin_call(o);
  if (o.model) o.model->timer_fired(name);
  o.broker->timer_fired(id);
  end_call(o);
  flush_trace();
}

// ---------------------------------------------------------------- effects

// SEL-4, SEL-1, LIST-1: the notice's worker is live and advertises the key, and
// the orchestrator lists the key (if it has a model list). The worker; nullptr
// after a failure.
const SimWorker* World::send_target(const Orchestrator& o, const JobNotice& notice,
                                    std::uint32_t key) {
  const std::string where = orch_prefix(o.index);
  const TaskId number = o.number_of(notice.task);
  auto session = o.sessions.find(notice.worker);
  if (session == o.sessions.end() || !session->second.core_live) {
    fail(FailureKind::kInvariant, "SEL-4",
         where + "task " + std::to_string(number) + " went to worker " +
             std::to_string(notice.worker) + ", which is not live");
    return nullptr;
  }
  const SimWorker& worker = *workers_[session->second.worker];
  const std::vector<std::uint32_t>& advertised = worker.key_indices();
  if (std::find(advertised.begin(), advertised.end(), key) == advertised.end()) {
    fail(FailureKind::kInvariant, "SEL-1",
         where + "task " + std::to_string(number) + " for " + key_name(keys_.key(key)) +
             " went to " + worker.name() + ", which does not advertise it");
    return nullptr;
  }
  if (!o.listed.empty() && std::find(o.listed.begin(), o.listed.end(), key) == o.listed.end()) {
    fail(FailureKind::kInvariant, "LIST-1",
         where + "task " + std::to_string(number) + " is for " + key_name(keys_.key(key)) +
             ", which is not in the orchestrator's model list");
    return nullptr;
  }
  return &worker;
}

void World::on_send(std::uint8_t orch, const JobNotice& notice, std::uint32_t key, bool ok) {
  Orchestrator& o = *orchs_[orch];
  ++stats_.attempts;
  mix(static_cast<std::uint64_t>(notice.task) ^ (notice.worker << 32));
  if (!checking_ || failed()) return;
  const JobId job = job_of_payload(notice.payload);
  const std::string where = orch_prefix(orch);
  const TaskId number = o.number_of(notice.task);
  if (number != o.last_task + 1) {
    fail(FailureKind::kInvariant, "TASK-1",
         where + "TaskID " + std::to_string(notice.task) + " is attempt " + std::to_string(number) +
             ", after attempt " + std::to_string(o.last_task));
    return;
  }
  o.last_task = number;
  const SimWorker* const target = send_target(o, notice, key);
  if (target == nullptr) return;
  const SimWorker& worker = *target;
  if (job == 0 || job > o.jobs.size() || o.jobs[job - 1].outcomes != 0) {
    fail(FailureKind::kInvariant, "TASK-5",
         where + "task " + std::to_string(number) + " is for job " + std::to_string(job) +
             ", which is unknown or already has its outcome");
    return;
  }
  ClientJob& client = o.jobs[job - 1];
  if (client.key != key) {
    fail(FailureKind::kInvariant, "SEL-1",
         where + "task " + std::to_string(number) + " carries " + key_name(keys_.key(key)) +
             " but " + job_name(o, job) + " is for " + key_name(keys_.key(client.key)));
    return;
  }
  if (std::find(client.tried.begin(), client.tried.end(), notice.worker) != client.tried.end()) {
    fail(FailureKind::kInvariant, "RETRY-4",
         where + "task " + std::to_string(number) + " sends " + job_name(o, job) + " to " +
             worker.name() + " (worker " + std::to_string(notice.worker) + ") a second time");
    return;
  }
  if (!client.tried.empty()) ++stats_.retries;
  client.tried.push_back(notice.worker);
  o.tasks[notice.task] = SentTask{job, notice.worker, false};
  if (o.model) {
    Effect effect;
    effect.kind = Effect::Kind::kSend;
    effect.worker = notice.worker;
    effect.task = number;
    effect.job = job;
    effect.key = keys_.key(key);
    o.effects.push_back(std::move(effect));
  }
  if (tracing()) {
    trace(where + "task " + std::to_string(number) + ": " + job_name(o, job) + " -> " +
          worker.name() + (ok ? "" : ": send failed"));
  }
}

void World::on_close(std::uint8_t orch, WorkerId worker, std::string_view reason) {
  Orchestrator& o = *orchs_[orch];
  mix(worker ^ 0xC105EULL);
  auto session = o.sessions.find(worker);
  if (session != o.sessions.end()) session->second.core_live = false;
  if (o.model) {
    Effect effect;
    effect.kind = Effect::Kind::kClose;
    effect.worker = worker;
    o.effects.push_back(std::move(effect));
  }
  if (tracing()) {
    trace(orch_prefix(orch) + session_name(o, worker) + " (worker " + std::to_string(worker) +
          ") closed: " + std::string(reason));
  }
}

void World::trace_outcome(const Orchestrator& o, const JobOutcome& outcome) {
  std::string line = orch_prefix(o.index) + job_name(o, outcome.job) + " ";
  if (outcome.status == JobStatus::kOk) {
    line += "ok: result of task " + std::to_string(o.number_of(outcome.last_task)) + " from " +
            session_name(o, outcome.last_worker);
  } else {
    line += "failed (" + std::string(job_status_name(outcome.status)) + "): " + outcome.message;
  }
  trace(line + " [" + std::to_string(outcome.attempts) + " attempt" + (outcome.attempts == 1 ? "" : "s") + "]");
}

// TASK-3: a job's result is the one of the task it names, and reaches it once;
// marks it delivered. False after a failure.
bool World::deliver_result(Orchestrator& o, const JobOutcome& outcome) {
  const std::string where = orch_prefix(o.index);
  auto task = o.tasks.find(outcome.last_task);
  const std::string expected = "task " + std::to_string(outcome.last_task);
  const bool right_result = outcome.result && outcome.result->json && *outcome.result->json == expected;
  if (task == o.tasks.end() || task->second.job != outcome.job ||
      task->second.worker != outcome.last_worker || !right_result) {
    fail(FailureKind::kInvariant, "TASK-3",
         where + job_name(o, outcome.job) + " got a result that is not of its task " +
             std::to_string(o.number_of(outcome.last_task)));
    return false;
  }
  if (task->second.result_delivered) {
    fail(FailureKind::kInvariant, "TASK-3",
         where + "the result of task " + std::to_string(o.number_of(outcome.last_task)) + " was delivered twice");
    return false;
  }
  task->second.result_delivered = true;
  return true;
}

void World::on_outcome(std::uint8_t orch, const JobOutcome& outcome) {
  Orchestrator& o = *orchs_[orch];
  mix(outcome.job ^ (static_cast<std::uint64_t>(outcome.status) << 56) ^
      (static_cast<std::uint64_t>(outcome.last_task) << 20));
  if (outcome.status == JobStatus::kOk) {
    ++stats_.ok;
  } else {
    ++stats_.failed;
  }
  if (!checking_ && (outcome.job > o.jobs.size() || !o.jobs[outcome.job - 1].probe)) return;
  const std::string where = orch_prefix(orch);
  if (outcome.job == 0 || outcome.job > o.jobs.size()) {
    fail(FailureKind::kInvariant, "TASK-5", where + "an outcome for job " + std::to_string(outcome.job) + ", never submitted");
    return;
  }
  ClientJob& client = o.jobs[outcome.job - 1];
  if (++client.outcomes > 1) {
    fail(FailureKind::kInvariant, "TASK-5", where + job_name(o, outcome.job) + " got a second outcome");
    return;
  }
  client.done_at = now_;
  client.status = outcome.status;
  o.open_jobs.erase(outcome.job);
  if (tracing()) trace_outcome(o, outcome);
  if (!checking_ || failed()) return;
  if (outcome.attempts != client.tried.size()) {
    fail(FailureKind::kInvariant, "RETRY-4",
         where + job_name(o, outcome.job) + " reports " + std::to_string(outcome.attempts) +
             " attempt(s), " + std::to_string(client.tried.size()) + " were sent");
    return;
  }
  if (now_ > client.submitted_at + config_.job_deadline) {
    fail(FailureKind::kLiveness, "TIME-3",
         where + job_name(o, outcome.job) + " got its outcome " +
             std::to_string(now_ - client.submitted_at) + "us after it was submitted");
    return;
  }
  if (outcome.status == JobStatus::kOk && !deliver_result(o, outcome)) return;
  if (o.model) {
    Effect effect;
    effect.kind = Effect::Kind::kOutcome;
    effect.job = outcome.job;
    effect.status = outcome.status;
    effect.task = o.number_of(outcome.last_task);
    effect.worker = outcome.last_worker;
    effect.attempts = outcome.attempts;
    effect.message = outcome.message;
    o.effects.push_back(std::move(effect));
  }
}

void AttemptRecorder::attempt_ended(const AttemptEvent& event) { world_.on_attempt_ended(orch_, event); }
void AttemptRecorder::attempt_started(const AttemptEvent& event) { world_.on_attempt_started(orch_, event); }

void World::on_attempt_started(std::uint8_t orch, const AttemptEvent& event) {
  if (failed()) return;
  if (auto v = check_quarantine_send(*orchs_[orch]->broker, event)) {
    fail(FailureKind::kInvariant, v->rule, orch_prefix(orch) + v->message);
  }
}

void World::on_attempt_ended(std::uint8_t orch, const AttemptEvent& event) {
  Orchestrator& o = *orchs_[orch];
  mix(static_cast<std::uint64_t>(event.task) ^ (static_cast<std::uint64_t>(event.end) << 58));
  if (failed()) return;
  auto sent = o.tasks.find(event.task);
  const TaskId number = o.number_of(event.task);
  if (sent == o.tasks.end() || sent->second.job != event.job || sent->second.worker != event.worker) {
    fail(FailureKind::kInvariant, "TASK-2",
         orch_prefix(orch) + "task " + std::to_string(number) + " ended as an attempt of job " +
             std::to_string(event.job) + " on worker " + std::to_string(event.worker) +
             ", which is not how it was sent");
    return;
  }
  if (sent->second.ended) {
    fail(FailureKind::kInvariant, "TASK-3",
         orch_prefix(orch) + "task " + std::to_string(number) + " ended twice, the second time as " +
             std::string(attempt_end_name(event.end)));
    return;
  }
  sent->second.ended = true;
  if (o.model) {
    Effect effect;
    effect.kind = Effect::Kind::kEnd;
    effect.task = number;
    effect.job = event.job;
    effect.worker = event.worker;
    effect.end = event.end;
    o.effects.push_back(std::move(effect));
  }
}

// ---------------------------------------------------------------- failures and hashing

void World::fail(FailureKind kind, std::string rule, std::string message) {
  if (failed()) return;
  failure_.kind = kind;
  failure_.rule = std::move(rule);
  failure_.message = std::move(message);
  failure_.at = now_;
  failure_.event = stats_.events;
}

void World::mix(std::uint64_t value) {
  std::uint64_t x = hash_ ^ (value + 0x9E3779B97F4A7C15ULL + (hash_ << 6) + (hash_ >> 2));
  hash_ = Prng::splitmix64(x);
}

}  // namespace aipool::sim
