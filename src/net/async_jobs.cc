// The orchestrator's asynchronous jobs (async_jobs.h, spec/async.md).
#include "net/async_jobs.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <cstdio>

#include "codec/json_text.h"
#include "net/job_answer.h"
#include "net/orchestrator_http.h"
#include "net/orchestrator_state.h"
#include "net/webhook_sender.h"

namespace aipool::net {
namespace {

constexpr std::string_view kJobsPrefix = "/jobs/";

Micros now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<std::uint64_t> hex64(std::string_view text) {
  std::uint64_t value = 0;
  for (const char c : text) {
    int digit = 0;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return std::nullopt;
    value = (value << 4) | static_cast<std::uint64_t>(digit);
  }
  return value;
}

// ASYNC-5: the answer a finished job is read with, from its outcome.
std::shared_ptr<const AsyncAnswer> answer_of(Pipeline pipeline, const JobOutcome& outcome, bool stopping,
                                             const std::string& id) {
  auto answer = std::make_shared<AsyncAnswer>();
  if (outcome.status == JobStatus::kCancelled && !stopping) {
    answer->state = "cancelled";
    answer->body = "{\"id\":" + codec::json_string(id) + ",\"status\":\"cancelled\"}";
    return answer;
  }
  if (outcome.status == JobStatus::kOk) {
    auto rendered = std::make_shared<const RenderedResponse>(
        render_api_response(pipeline, outcome.result ? *outcome.result : ResultBody{}));
    if (rendered->ok) {
      answer->state = "succeeded";
      answer->rendered = std::move(rendered);
      return answer;
    }
  }
  // The synchronous call's answer, as it would have been written (API-7).
  const HttpResponse sync = outcome_response(pipeline, outcome, stopping);
  answer->state = "failed";
  answer->status = sync.status;
  answer->body = sync.body;
  for (const auto& header : sync.headers) {
    if (header.first == "Retry-After") answer->headers.push_back(header);
  }
  return answer;
}

// ASYNC-8, ASYNC-9: the job's answer is kept and its callback, if any, queued.
void finish_async(OrchestratorNode::Shared& shared, AsyncJob& job, std::shared_ptr<const AsyncAnswer> answer) {
  if (!job.callback_url.empty() && shared.webhooks) {
    shared.webhooks->enqueue({job.callback_url, async_job_id(shared.config.node_id, job.token), answer});
  }
  shared.async_jobs.finish(job, std::move(answer), now_us());  // may evict `job`
}

// The job's outcome, under the core's mutex, from inside a Broker call.
JobCallback on_outcome(OrchestratorNode::Shared* shared, const AsyncJob& job) {
  return [shared, token = job.token, key = job.key, owner = job.owner, work = job.work_units,
          started = std::chrono::steady_clock::now()](const JobOutcome& outcome) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    job_ended(*shared, key, outcome, seconds, work);
    if (owner != nullptr) shared->key_in_flight.give_back(*owner);  // SEC-5
    log_job(outcome, outcome.job, key.pipeline, key.model, owner, seconds * 1000);
    AsyncJob* job = shared->async_jobs.get(token);
    if (job == nullptr) return;
    finish_async(*shared, *job,
                 answer_of(key.pipeline, outcome, shared->stopping, async_job_id(shared->config.node_id, token)));
  };
}

// ASYNC-4: true when the key may take one more asynchronous job now.
bool has_room(OrchestratorNode::Shared& shared, const Key& key) {
  const std::optional<KeyView> view = shared.broker->key_view(key);
  const std::uint64_t capacity = view ? view->capacity : 0;
  if (shared.async_jobs.in_broker(key) >= capacity + 1) return false;
  if (!view) return true;  // no worker offers it: the Broker refuses it at once (ADM-1)
  const std::size_t limit = shared.broker->config().queue_limit;
  return limit > 0 ? view->waiting < limit : view->in_use < view->capacity;
}

void hand_over(OrchestratorNode::Shared& shared, AsyncJob& job) {
  const Payload request = job.request;
  const AsyncToken token = job.token;
  const Key key = job.key;
  JobCallback callback = on_outcome(&shared, job);
  shared.async_jobs.handed_over(job, 0);  // first: the outcome may come before submit() returns
  shared.metrics.job_requested(key);      // MET-3
  const JobId id = shared.broker->submit(key, request, std::move(callback));
  AsyncJob* now = shared.async_jobs.get(token);
  if (now != nullptr && now->phase == AsyncPhase::kInBroker) now->broker_job = id;
}

std::string position_json(const std::string& id, std::size_t position, std::size_t attempts) {
  std::string body = "{\"id\":" + codec::json_string(id) + ",\"status\":\"queued\",\"position\":" +
                     std::to_string(position);
  if (attempts > 0) body += ",\"attempts\":" + std::to_string(attempts);
  return body + "}";
}

HttpResponse with_state(HttpResponse response, std::string_view state) {
  response.headers.emplace_back("Aipool-Job-Status", std::string(state));
  return response;
}

// ASYNC-5: an unfinished job's state.
HttpResponse state_response(OrchestratorNode::Shared& shared, const AsyncJob& job, const std::string& id) {
  if (job.phase == AsyncPhase::kQueued) {
    const std::optional<KeyView> view = shared.broker->key_view(job.key);
    const std::size_t ahead = view ? view->waiting : 0;
    return with_state(json_response(200, position_json(id, ahead + shared.async_jobs.queued_position(job), 0)),
                      "queued");
  }
  const std::optional<JobView> view = shared.broker->job(job.broker_job);
  if (!view || view->state == JobState::kWaiting) {
    const std::size_t position = std::max<std::size_t>(1, shared.broker->wait_position(job.broker_job));
    return with_state(json_response(200, position_json(id, position, view ? view->tried.size() : 0)), "queued");
  }
  const std::string worker = view->tried.empty() ? "0" : std::to_string(view->tried.back());
  return with_state(json_response(200, "{\"id\":" + codec::json_string(id) + ",\"status\":\"running\",\"attempt\":" +
                                           std::to_string(view->tried.size()) + ",\"worker\":\"" + worker + "\"}"),
                    "running");
}

// ASYNC-5: a finished job's answer.
HttpResponse answer_response(const AsyncAnswer& answer) {
  HttpResponse response = answer.rendered ? rendered_response(answer.rendered) : json_response(200, answer.body);
  response.status = answer.status;
  for (const auto& header : answer.headers) response.headers.push_back(header);
  return with_state(std::move(response), answer.state);
}

// ASYNC-7: DELETE /jobs/{id}.
HttpResponse cancel_job(OrchestratorNode::Shared& shared, AsyncJob& job, const std::string& id) {
  if (job.phase == AsyncPhase::kFinished) {
    return error_response(409, "job " + id + " has already finished (" + job.answer->state + ")");
  }
  if (job.phase == AsyncPhase::kQueued) {
    if (job.owner != nullptr) shared.key_in_flight.give_back(*job.owner);  // SEC-5
    JobOutcome cancelled;
    cancelled.status = JobStatus::kCancelled;
    finish_async(shared, job, answer_of(job.key.pipeline, cancelled, false, id));
  } else {
    shared.broker->cancel(job.broker_job);  // its outcome finishes it
  }
  return with_state(json_response(200, "{\"id\":" + codec::json_string(id) + ",\"status\":\"cancelled\"}"),
                    "cancelled");
}

}  // namespace

void feed_async_jobs(OrchestratorNode::Shared& shared) {
  if (!shared.broker || shared.stopping || shared.async_jobs.queued() == 0) return;
  for (const Key& key : shared.async_jobs.keys_with_queued()) {
    while (AsyncJob* job = shared.async_jobs.queue_head(key)) {
      if (!has_room(shared, key)) break;
      hand_over(shared, *job);
    }
  }
}

bool prefers_async(const HttpRequest& request) {
  const std::optional<std::string_view> prefer = request.header("Prefer");
  if (!prefer) return false;
  std::string_view rest = *prefer;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    item = trim(item.substr(0, item.find_first_of(";=")));
    if (lower(item) == "respond-async") return true;
  }
  return false;
}

std::string async_job_id(const std::string& node_id, const AsyncToken& token) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(token.hi),
                static_cast<unsigned long long>(token.lo));
  return node_id + "-" + hex;
}

std::optional<AsyncToken> parse_async_job_id(std::string_view id, const std::string& node_id) {
  if (id.size() != node_id.size() + 33 || id.substr(0, node_id.size()) != node_id || id[node_id.size()] != '-') {
    return std::nullopt;
  }
  const std::string_view hex = id.substr(node_id.size() + 1);
  const std::optional<std::uint64_t> hi = hex64(hex.substr(0, 16));
  const std::optional<std::uint64_t> lo = hex64(hex.substr(16));
  if (!hi || !lo) return std::nullopt;
  return AsyncToken{*hi, *lo};
}

void submit_async(const std::shared_ptr<OrchestratorNode::Shared>& shared, ApiJob job, const ApiKey* key,
                  const HttpRequest& request, const std::shared_ptr<HttpExchange>& exchange) {
  if (job.stream) {  // ASYNC-3
    exchange->respond(error_response(400, "\"stream\": true cannot be combined with Prefer: respond-async; poll "
                                          "without streaming, or stream synchronously"));
    return;
  }
  const std::string callback(request.header("X-Callback-URL").value_or(""));
  if (request.header("X-Callback-URL")) {
    if (std::optional<std::string> error = callback_url_error(callback, shared->config.webhooks.allow_private)) {
      exchange->respond(error_response(400, *error));  // ASYNC-9, ASYNC-11
      return;
    }
  }
  if (key != nullptr && !shared->key_in_flight.take(*key)) {  // SEC-5
    exchange->respond(key_at_cap(*key));
    return;
  }
  AsyncJob record;
  record.token = AsyncToken{shared->random.next_u64(), shared->random.next_u64()};
  record.owner = key;
  record.key = std::move(job.key);
  record.request = std::move(job.job_json);
  record.work_units = job.work_units;
  record.callback_url = callback;
  record.submitted_at = now_us();
  const std::string id = async_job_id(shared->config.node_id, record.token);
  bool added = false;
  {
    CoreLock lock(*shared);  // hands it to the Broker as the lock goes, if its key has room
    shared->async_jobs.evict(record.submitted_at);
    added = shared->async_jobs.add(std::move(record)) != nullptr;
  }
  if (!added) {  // ASYNC-4
    if (key != nullptr) shared->key_in_flight.give_back(*key);
    exchange->respond(retry_later(503, "too many asynchronous jobs are waiting"));
    return;
  }
  HttpResponse accepted = json_response(202, "{\"id\":" + codec::json_string(id) + ",\"status\":\"queued\"}");
  accepted.headers.emplace_back("Location", std::string(kJobsPrefix) + id);
  accepted.headers.emplace_back("Preference-Applied", "respond-async");
  exchange->respond(std::move(accepted));
}

void handle_job_path(const std::shared_ptr<OrchestratorNode::Shared>& shared, const HttpRequest& request,
                     const std::shared_ptr<HttpExchange>& exchange) {
  if (shared->stopping) return exchange->respond(shutting_down());
  ClientAccess access = check_client_key(shared->config, request);  // SEC-3
  if (access.refusal) return exchange->respond(std::move(*access.refusal));
  if (request.method != "GET" && request.method != "DELETE") {
    HttpResponse response = error_response(405, "use GET or DELETE for /jobs/{id}");
    response.headers.emplace_back("Allow", "GET, DELETE");
    return exchange->respond(std::move(response));
  }
  const std::string id = request.path.substr(kJobsPrefix.size());
  const std::optional<AsyncToken> token = parse_async_job_id(id, shared->config.node_id);
  HttpResponse response = error_response(404, "no such job");  // ASYNC-2, ASYNC-6
  if (token) {
    CoreLock lock(*shared);
    const AsyncStore::Lookup lookup = shared->async_jobs.find(*token, access.key, now_us());
    if (lookup.found == AsyncStore::Found::kGone) {
      response = error_response(410, "job " + id + " has expired");  // ASYNC-8
    } else if (lookup.found == AsyncStore::Found::kJob && shared->broker) {
      AsyncJob& job = *lookup.job;
      if (request.method == "DELETE") response = cancel_job(*shared, job, id);
      else if (job.phase == AsyncPhase::kFinished) response = answer_response(*job.answer);
      else response = state_response(*shared, job, id);
    }
  }
  exchange->respond(std::move(response));
}

}  // namespace aipool::net
