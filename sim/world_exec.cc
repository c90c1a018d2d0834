// Executions (world.h): a job notice reaching its worker, the executor
// finishing (or hanging), and the result upload reaching the orchestrator,
// with its duplicates, anonymous posters and rejected inputs.
#include "sim/world.h"

namespace aipool::sim {

void World::on_notice(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  SimWorker& worker = *workers_[event.worker];
  const auto task = static_cast<TaskId>(event.a);
  const std::string task_text = "task " + std::to_string(o.number_of(task));
  if (!o.transport->is_open(event.b) || !worker.alive() || worker.profile().loses_notices) {
    if (tracing()) trace(orch_prefix(o.index) + task_text + " to " + worker.name() + " is lost");
    return;
  }
  if (!worker.try_acquire(event.c)) {  // MULTI-2
    world_probes_.hit(Probe::kAtCapacity);
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " is at capacity for " + task_text);
    schedule_upload(o.index, event.worker, task, event.b, false, kAtCapacityError,
                    draw(config_.upload_delay_max));
    return;
  }
  const ExecPlan plan = worker.plan(healed_);
  if (!plan.finishes) {
    manual_runs_[{o.index, task}] = {event.worker, event.c};
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " starts " + task_text);
    return;
  }
  if (tracing()) trace(orch_prefix(o.index) + worker.name() + " starts " + task_text);
  Event done = at_delay(plan.latency, EventKind::kExecDone);
  done.orch = o.index;
  done.worker = event.worker;
  done.a = event.a;
  done.b = event.b;
  done.c = event.c;
  done.flags = static_cast<std::uint16_t>(plan.ok ? ExecOutcome::kOk : ExecOutcome::kError);
  done.d = worker.incarnation();
  schedule(done);
}

void World::on_exec_done(const Event& event) {
  SimWorker& worker = *workers_[event.worker];
  if (worker.incarnation() != event.d) return;  // the process died meanwhile
  worker.release(event.c);
  const bool ok = event.flags == static_cast<std::uint16_t>(ExecOutcome::kOk);
  const std::uint32_t error = worker.profile().error;
  if (tracing()) {
    const Orchestrator& o = *orchs_[event.orch];
    trace(orch_prefix(event.orch) + worker.name() + " finishes task " +
          std::to_string(o.number_of(static_cast<TaskId>(event.a))) +
          (ok ? ": ok" : std::string(": error \"") + kWorkerErrors[error] + "\""));
  }
  const Micros delay = scripted_ ? 0 : draw(config_.upload_delay_max);
  schedule_upload(event.orch, event.worker, static_cast<TaskId>(event.a), event.b, ok, error, delay);
  if (!scripted_ && worker.duplicate_upload()) {
    Event again = at_delay(delay * 2 + 1, EventKind::kUpload);
    again.orch = event.orch;
    again.worker = event.worker;
    again.a = event.a;
    again.b = event.b;
    again.c = error;
    again.flags = static_cast<std::uint16_t>((ok ? kUploadOk : 0) | kUploadDuplicate);
    schedule(again);
  }
}

void World::schedule_upload(std::uint8_t orch, std::uint32_t worker, TaskId task, WorkerId from,
                            bool ok, std::uint32_t error, Micros delay) {
  Event upload = at_delay(scripted_ ? 0 : delay, EventKind::kUpload);
  upload.orch = orch;
  upload.worker = worker;
  upload.a = static_cast<std::uint64_t>(task);
  upload.b = from;
  upload.c = error;
  upload.flags = ok ? kUploadOk : 0;
  if (error == kAtCapacityError) upload.flags |= kUploadAtCapacity;
  if (!scripted_ && upload_prng_.chance(config_.anonymous_upload)) upload.flags |= kUploadAnonymous;
  schedule(upload);
}

void World::on_upload(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  Report report;
  report.credentials = secret_;
  report.task = static_cast<TaskId>(event.a);
  if ((event.flags & kUploadAnonymous) == 0) report.from = event.b;
  report.ok = (event.flags & kUploadOk) != 0;
  if (!report.ok) report.error = kWorkerErrors[event.c];
  if (!report.ok && (event.flags & kUploadAtCapacity) == 0 && !scripted_) {
    report.rejected_input = reject_prng_.chance(config_.rejected_input);  // RETRY-6
  }
  if (report.ok) {
    report.result = checking_ ? std::make_shared<const ResultBody>(ResultBody{
                                    std::make_shared<const std::string>("task " + std::to_string(report.task)), {}})
                              : shared_result_;
  }
  const bool duplicate = (event.flags & kUploadDuplicate) != 0;
  const ReportVerdict verdict = core_report(o, report, false);
  if (tracing()) {
    trace(orch_prefix(o.index) + workers_[event.worker]->name() + " posts task " +
          std::to_string(o.number_of(report.task)) +
          (report.ok ? " ok" : " error \"" + report.error + "\"") +
          (report.rejected_input ? " rejecting the input" : "") + (duplicate ? " again" : "") +
          ": " + std::string(report_verdict_name(verdict)));
    flush_trace();
  }
  if (duplicate && verdict == ReportVerdict::kEnded) world_probes_.hit(Probe::kDuplicateRefused);
  if (report.rejected_input && verdict == ReportVerdict::kAccepted) world_probes_.hit(Probe::kRejectedInput);
}

}  // namespace aipool::sim
