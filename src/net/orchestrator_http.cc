// The orchestrator's HTTP routes (orchestrator_http.h): the public AI API, the
// workers' result posts, /healthz and /workers, on the event-driven server.
#include "net/orchestrator_http.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <set>

#include "codec/result_codec.h"
#include "codec/text.h"
#include "core/secret.h"
#include "net/api_request.h"
#include "net/async_jobs.h"
#include "net/job_answer.h"
#include "net/orchestrator_state.h"
#include "net/orchestrator_stream.h"
#include "net/dashboard_page.h"
#include "net/log_line.h"
#include "net/workers_json.h"

namespace aipool::net {
namespace {

// The models offered now for a pipeline, for the "no such model" answer (API-4).
ModelLister model_lister(OrchestratorNode::Shared& shared) {
  return [&shared](Pipeline p) {
    std::vector<std::string> models;
    std::lock_guard<std::mutex> lock(shared.core_mutex);
    for (const KeyView& key : shared.broker->keys()) {
      if (key.key.pipeline == p && key.capacity > 0) models.push_back(key.key.model);
    }
    return models;
  };
}

// One API request from submission to answer. Touched under the core's mutex only.
struct PendingJob {
  JobId id = 0;
  bool done = false;
  std::shared_ptr<ClientStream> stream;  // a streamed llm job's (LLM-3); null otherwise
};

// Submits the job; its answer is written when the outcome arrives. A client that
// leaves cancels it (API-9).
// `key` (null when keys are off) has already been counted in flight (SEC-5); the
// count drops when the outcome arrives.
void submit_job(const std::shared_ptr<OrchestratorNode::Shared>& shared, Pipeline pipeline, ApiJob job,
                const ApiKey* key, const std::shared_ptr<HttpExchange>& exchange) {
  const auto started = std::chrono::steady_clock::now();
  auto pending = std::make_shared<PendingJob>();
  if (job.stream) pending->stream = std::make_shared<ClientStream>();  // LLM-3
  if (pending->stream) pending->stream->client = exchange;
  JobCallback on_done = [shared, pending, exchange, pipeline, model = job.key.model, key, started,
                         work = job.work_units](const JobOutcome& outcome) {
    // Under the core's mutex: only bookkeeping here; the answer is made on the
    // connection's own thread.
    pending->done = true;
    shared->waiting_jobs.erase(pending->id);
    if (pending->stream) shared->client_streams.erase(pending->id);
    if (key != nullptr) shared->key_in_flight.give_back(*key);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    job_ended(*shared, Key{pipeline, model}, outcome, seconds, work);
    const bool streamed = pending->stream != nullptr;
    if (streamed) {  // LLM-3, LLM-5
      end_client_stream(pending->stream, outcome,
                        outcome.status == JobStatus::kOk ? HttpResponse{}
                                                         : outcome_response(pipeline, outcome, shared->stopping));
    }
    exchange->post([shared, exchange, outcome, pipeline, model, key, started, streamed] {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      log_job(outcome, outcome.job, pipeline, model, key, ms);
      if (!streamed) exchange->respond(outcome_response(pipeline, outcome, shared->stopping));
    });
  };
  {
    CoreLock lock(*shared);
    shared->metrics.job_requested(job.key);  // MET-3
    pending->id = shared->broker->submit(job.key, std::move(job.job_json), std::move(on_done));
    if (!pending->done) shared->waiting_jobs.insert(pending->id);
    if (!pending->done && pending->stream) shared->client_streams.emplace(pending->id, pending->stream);
  }
  exchange->on_gone([shared, pending] {
    CoreLock lock(*shared);
    if (!pending->done && shared->broker) shared->broker->cancel(pending->id);
  });
}

void handle_pipeline(const std::shared_ptr<OrchestratorNode::Shared>& shared, Pipeline pipeline,
                     HttpRequest& request, const std::shared_ptr<HttpExchange>& exchange) {
  if (shared->stopping) {
    exchange->respond(shutting_down());
    return;
  }
  ClientAccess access = check_client_key(shared->config, request);  // SEC-3
  if (access.refusal) {
    exchange->respond(std::move(*access.refusal));
    return;
  }
  if (request.method != "POST") {
    HttpResponse response = error_response(405, "use POST for /" + std::string(pipeline_name(pipeline)));
    response.headers.emplace_back("Allow", "POST");
    exchange->respond(std::move(response));
    return;
  }
  ParsedApiRequest parsed = parse_api_request(pipeline, request.header("Content-Type").value_or(""), request.body,
                                              model_lister(*shared), shared->config.max_pixels);
  request.body = std::string();  // the job holds what it needs
  if (!parsed.ok) {
    exchange->respond(parsed.error.status == 503 ? retry_later(503, parsed.error.message)
                                                 : error_response(parsed.error.status, parsed.error.message));
    return;
  }
  if (prefers_async(request)) {  // ASYNC-1
    submit_async(shared, std::move(parsed.job), access.key, request, exchange);
    return;
  }
  if (request.header("X-Callback-URL")) {  // ASYNC-9
    exchange->respond(error_response(400, "X-Callback-URL needs Prefer: respond-async (a synchronous call is "
                                          "answered on its own connection)"));
    return;
  }
  if (access.key != nullptr && !shared->key_in_flight.take(*access.key)) {  // SEC-5
    exchange->respond(key_at_cap(*access.key));
    return;
  }
  submit_job(shared, pipeline, std::move(parsed.job), access.key, exchange);
}

// The core's report for a decoded result post (RES-2, RES-3, RES-6, RES-7); nullopt
// when the post names no task (answered 400 by the caller).
std::optional<Report> report_of(codec::DecodeResult& decoded, std::string_view credentials,
                                std::optional<WorkerId> from) {
  Report report;
  report.credentials = credentials;
  report.from = from;
  if (decoded.post) {
    report.task = decoded.post->task;
    report.ok = decoded.post->ok;
    report.error = std::move(decoded.post->error);
    report.rejected_input = !report.ok && codec::is_rejected_input(report.error);  // RES-7
    if (report.ok) report.result = std::make_shared<const ResultBody>(std::move(decoded.post->body));
  } else if (decoded.failure.task) {
    // RES-6: the task is known, so the attempt fails over instead of hanging.
    report.task = *decoded.failure.task;
    report.ok = false;
    report.error = "malformed result: " + decoded.failure.message;
  } else {
    return std::nullopt;
  }
  return report;
}

// RES-1, RES-4: true when the post carries the orchestrator's secret.
bool authorized(const OrchestratorNode::Shared& shared, const HttpRequest& request) {
  return request.header("Authorization").value_or("") == codec::kResultAuthorization &&
         same_secret(request.header("Credentials").value_or(""), shared.config.broker.secret);
}

// RES-1: the optional Aipool-Worker-Id. Absent: nullopt in `from`. False when it
// is present but not a worker id.
bool worker_id_of(const HttpRequest& request, std::optional<WorkerId>& from) {
  const std::optional<std::string_view> header = request.header(codec::kWorkerIdHeader);
  if (!header) return true;
  const std::optional<TaskId> id = codec::parse_task_id(*header);
  if (!id || *id <= 0) return false;
  from = static_cast<WorkerId>(*id);
  return true;
}

HttpResponse handle_result(OrchestratorNode::Shared& shared, HttpRequest& request) {
  if (request.method != "POST") return error_response(405, "use POST for /aiResults");
  if (!authorized(shared, request)) {
    HttpResponse response = error_response(401, "invalid secret");
    response.close = true;
    return response;
  }
  std::optional<WorkerId> from;
  if (!worker_id_of(request, from)) {
    return error_response(400, "invalid " + std::string(codec::kWorkerIdHeader) +
                                   " header: expected the worker id from the stream's aipool-worker-id metadata");
  }
  // Shared, not copied: the result's files are ranges of this body.
  const Payload body = std::make_shared<const std::string>(std::move(request.body));
  codec::DecodeResult decoded =
      codec::decode_result(request.header("Content-Type").value_or(""), request.header(codec::kTaskIdHeader), body);
  const std::optional<Report> report = report_of(decoded, request.header("Credentials").value_or(""), from);
  if (!report) return error_response(400, decoded.failure.message);
  ReportVerdict verdict;
  {
    CoreLock lock(shared);
    verdict = shared.broker ? shared.broker->report(*report) : ReportVerdict::kUnknownTask;
  }
  spdlog::debug("result task={} verdict={}", report->task, report_verdict_name(verdict));
  if (!decoded.post) return error_response(400, decoded.failure.message);
  return verdict_response(verdict, report->task);
}

// The pool as /workers shows it; call under the core's mutex, with a broker.
WorkersSnapshot pool_snapshot(const OrchestratorNode::Shared& shared) {
  WorkersSnapshot snapshot;
  snapshot.workers = shared.broker->workers();
  snapshot.keys = shared.broker->keys();
  snapshot.joined_wall_unix = shared.joined_wall_unix;
  snapshot.gpus_json = shared.gpus_json;
  snapshot.health = shared.health.snapshot();
  snapshot.core_now = shared.clock->now();  // QUAR-6
  snapshot.wall_now_unix = unix_seconds();
  return snapshot;
}

HttpResponse handle_workers(OrchestratorNode::Shared& shared) {
  WorkersSnapshot snapshot;
  {
    std::lock_guard<std::mutex> lock(shared.core_mutex);
    if (!shared.broker) return shutting_down();
    snapshot = pool_snapshot(shared);
  }
  return json_response(200, workers_json(snapshot));
}

// API-14: what the dashboard shows: /workers, and the last minutes per second.
HttpResponse handle_dashboard_json(OrchestratorNode::Shared& shared) {
  WorkersSnapshot snapshot;
  std::string history;
  const std::int64_t now = unix_seconds();
  {
    std::lock_guard<std::mutex> lock(shared.core_mutex);
    if (!shared.broker) return shutting_down();
    snapshot = pool_snapshot(shared);
    history = shared.history.json(now);
  }
  return json_response(200, "{\"now\":" + std::to_string(now) + ",\"pool\":" + workers_json(snapshot) +
                                ",\"history\":" + history + "}");
}

// MET-1: the registry in the Prometheus text format, the pool's gauges read now.
HttpResponse handle_metrics(OrchestratorNode::Shared& shared) {
  {
    std::lock_guard<std::mutex> lock(shared.core_mutex);
    if (!shared.broker) return shutting_down();
    shared.metrics.set_pool(shared.broker->keys(), shared.joined_wall_unix.size());
  }
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = shared.metrics.render();
  return response;
}

}  // namespace

// API-11, SEC-4: the job's line names its client key's name, never the key.
void log_job(const JobOutcome& outcome, JobId id, Pipeline pipeline, const std::string& model, const ApiKey* key,
             double ms) {
  if (json_logs()) {  // LOG-2
    LogFields line("job");
    line.add("job", id).add("pipeline", pipeline_name(pipeline)).add("model", model);
    line.add("outcome", job_status_name(outcome.status)).add("attempts", outcome.attempts);
    line.add_id("last_task", static_cast<std::uint64_t>(outcome.last_task)).add_id("worker", outcome.last_worker);
    if (key != nullptr) line.add("key", key->name);
    line.add("ms", ms);
    if (!outcome.message.empty()) line.add("reason", outcome.message);
    spdlog::info("{}", line.json());
    return;
  }
  spdlog::info("job {} {} {} outcome={} attempts={} last_task={} worker={}{}{} ms={:.2f}{}{}", id,
               pipeline_name(pipeline), codec::log_safe(model), job_status_name(outcome.status), outcome.attempts,
               outcome.last_task, outcome.last_worker, key != nullptr ? " key=" : "",
               key != nullptr ? std::string_view(key->name) : std::string_view(), ms,
               outcome.message.empty() ? "" : " reason=", codec::log_safe(outcome.message));
}

void job_ended(OrchestratorNode::Shared& shared, const Key& key, const JobOutcome& outcome, double seconds,
               double work_units) {
  shared.metrics.job_finished(key, outcome, outcome_status(outcome.status, shared.stopping), seconds, work_units);
  shared.history.job_ended(key, unix_seconds(), outcome.status == JobStatus::kOk, seconds * 1000);
}

HttpResponse verdict_response(ReportVerdict verdict, TaskId task) {
  switch (verdict) {
    case ReportVerdict::kAccepted:
      return json_response(200, "{\"status\":\"ok\"}");
    case ReportVerdict::kUnauthorized:
      return error_response(401, "invalid secret");
    case ReportVerdict::kUnknownTask:
      return error_response(404, "unknown task " + std::to_string(task));
    case ReportVerdict::kWrongWorker:
      return error_response(409, "task " + std::to_string(task) + " was sent to another worker");
    case ReportVerdict::kEnded:
    case ReportVerdict::kLateReleased:
      return error_response(409, "task " + std::to_string(task) + " has already ended");
  }
  return error_response(500, "unknown verdict");
}


HttpHandler make_http_handler(std::shared_ptr<OrchestratorNode::Shared> shared) {
  return [shared](HttpRequest&& request, std::shared_ptr<HttpExchange> exchange) {
    const std::string& path = request.path;
    if (path == "/aiResults") {
      if (!is_stream_post(request)) {
        exchange->respond(handle_result(*shared, request));
      } else if (!authorized(*shared, request)) {  // RES-4, LLM-5: before the body is read
        HttpResponse response = error_response(401, "invalid secret");
        response.close = true;
        exchange->respond(std::move(response));
      } else {
        handle_stream_post(shared, request, exchange);
      }
    } else if (path == "/healthz") {
      exchange->respond(json_response(200, "{\"status\":\"ok\"}"));
    } else if (is_admin_path(path)) {
      std::optional<HttpResponse> refused = check_admin(shared->config, request);  // SEC-6
      if (refused) {
        exchange->respond(std::move(*refused));
      } else if (path == "/metrics") {
        exchange->respond(handle_metrics(*shared));
      } else {
        exchange->respond(path == "/dashboard.json" ? handle_dashboard_json(*shared) : handle_workers(*shared));
      }
    } else if (path == "/dashboard") {  // API-14: the page holds no data; its data is an admin path
      HttpResponse page;
      page.content_type = "text/html; charset=utf-8";
      page.body = std::string(dashboard_page());
      exchange->respond(std::move(page));
    } else if (path.rfind("/jobs/", 0) == 0) {  // spec/async.md
      handle_job_path(shared, request, exchange);
    } else if (std::optional<Pipeline> pipeline = path.size() > 1 ? pipeline_from_name(path.substr(1)) : std::nullopt) {
      handle_pipeline(shared, *pipeline, request, exchange);
    } else if (ClientAccess access = check_client_key(shared->config, request); access.refusal) {
      exchange->respond(std::move(*access.refusal));  // SEC-3: no key, no map of the paths
    } else {
      exchange->respond(error_response(404, "no such endpoint: " + request.target));
    }
  };
}

std::function<void(const HttpRequest&, std::uint64_t)> make_oversize_hook(
    std::shared_ptr<OrchestratorNode::Shared> shared) {
  return [shared](const HttpRequest& head, std::uint64_t length) {
    if (head.path != "/aiResults" || !authorized(*shared, head)) return;
    const std::optional<std::string_view> task_header = head.header(codec::kTaskIdHeader);
    const std::optional<TaskId> task = task_header ? codec::parse_task_id(*task_header) : std::nullopt;
    std::optional<WorkerId> from;
    if (!task || !worker_id_of(head, from)) return;
    Report report;
    report.credentials = head.header("Credentials").value_or("");
    report.task = *task;
    report.from = from;
    report.error = (length > 0 ? "result of " + std::to_string(length) + " bytes" : std::string("result")) +
                   " is larger than the limit of " + std::to_string(shared->config.max_message_bytes) + " bytes";
    ReportVerdict verdict;
    {
      CoreLock lock(*shared);
      verdict = shared->broker ? shared->broker->report(report) : ReportVerdict::kUnknownTask;
    }
    spdlog::warn("result task={} refused: {} (verdict={})", *task, codec::log_safe(report.error),
                 report_verdict_name(verdict));
  };
}

void cancel_waiting_jobs(OrchestratorNode::Shared& shared) {
  CoreLock lock(shared);
  if (!shared.broker) return;
  const std::set<JobId> waiting = shared.waiting_jobs;  // cancel() erases from it
  for (const JobId id : waiting) shared.broker->cancel(id);
}

}  // namespace aipool::net
