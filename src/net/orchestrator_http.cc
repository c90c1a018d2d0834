// The orchestrator's HTTP routes (orchestrator_http.h): the public AI API, the
// workers' result posts, /healthz and /workers, on Poco's HTTP server.
#include "net/orchestrator_http.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerSession.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <optional>

#include "codec/result_codec.h"
#include "core/secret.h"
#include "net/api_request.h"
#include "net/http_body.h"
#include "net/orchestrator_state.h"
#include "net/workers_json.h"

namespace aipool::net {
namespace {

using Poco::Net::HTTPRequestHandler;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// Below this size a body is copied into Poco's buffer with its header: one write.
constexpr std::size_t kDirectWriteBytes = 64 * 1024;
// A large answer is written in chunks of this size (a few per socket buffer).
constexpr std::size_t kStreamChunkBytes = 256 * 1024;

void send_json(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& body) {
  response.setStatus(status);
  response.setContentType("application/json");
  response.setContentLength64(static_cast<Poco::Int64>(body.size()));
  response.sendBuffer(body.data(), body.size());
}

// The rendered API answer: small ones in one write with the header; large ones
// (data: URLs of large outputs) with the header through Poco and the body straight
// to the socket, chunk by chunk as it is encoded, so that the base64 work overlaps
// the transfer (Poco's stream would write 4 KiB at a time).
void send_rendered(HTTPServerRequest& request, HTTPServerResponse& response, const RenderedResponse& rendered) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  const std::size_t size = rendered.size();
  if (impl == nullptr || size < kDirectWriteBytes) {
    send_json(response, HTTPResponse::HTTP_OK, rendered.json());
    return;
  }
  response.setStatus(HTTPResponse::HTTP_OK);
  response.setContentType("application/json");
  response.setContentLength64(static_cast<Poco::Int64>(size));
  response.send().flush();  // the header
  write_rendered(rendered, kStreamChunkBytes,
                 [&](std::string_view chunk) { write_body(impl->session(), chunk.data(), chunk.size()); });
}

void send_error(HTTPServerResponse& response, int status, const std::string& message) {
  send_json(response, static_cast<HTTPResponse::HTTPStatus>(status), api_error_json(message));
}

// Reads the whole body, at most `limit` bytes (API-8). False: the caller answers
// `status` with `error`.
bool read_body(HTTPServerRequest& request, std::size_t limit, std::string& body, int& status,
               std::string& error) {
  if (request.hasContentLength()) {
    const Poco::Int64 length = request.getContentLength64();
    if (length > static_cast<Poco::Int64>(limit)) {
      status = 413;
      error = "request body of " + std::to_string(length) + " bytes is larger than the limit of " +
              std::to_string(limit) + " bytes";
      return false;
    }
    const auto size = static_cast<std::size_t>(length);
    std::size_t got = 0;
    if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request)) {
      // Not 4 KiB at a time through Poco's stream; and the string grows one step at
      // a time, so the zeros resize() writes are overwritten while still in cache.
      constexpr std::size_t kStepBytes = 256 * 1024;
      body.reserve(size);
      while (got < size) {
        const std::size_t step = std::min(kStepBytes, size - got);
        body.resize(got + step);
        const std::size_t n = read_body_exactly(impl->session(), body.data() + got, step);
        got += n;
        if (n < step) break;
      }
      body.resize(got);
    } else {
      body.resize(size);
      request.stream().read(body.data(), length);
      got = static_cast<std::size_t>(request.stream().gcount());
    }
    if (got != size) {
      status = 400;
      error = "request body is shorter than its Content-Length";
      return false;
    }
    return true;
  }
  char buffer[65536];
  std::istream& in = request.stream();
  while (in.read(buffer, sizeof buffer), in.gcount() > 0) {
    if (body.size() + static_cast<std::size_t>(in.gcount()) > limit) {
      status = 413;
      error = "request body is larger than the limit of " + std::to_string(limit) + " bytes";
      return false;
    }
    body.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  return true;
}

// True when the client closed its connection (API-9).
bool client_gone(HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return false;
  try {
    Poco::Net::StreamSocket& socket = impl->socket();
    if (!socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) return false;
    return socket.available() == 0;  // readable with nothing to read: closed
  } catch (const std::exception&) {
    return true;
  }
}

constexpr const char* kShuttingDown = "orchestrator is shutting down";

void send_shutting_down(HTTPServerResponse& response) {  // STOP-1
  response.set("Retry-After", "1");
  response.setKeepAlive(false);
  send_error(response, 503, kShuttingDown);
}

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

// How a waited-for job ended, and whether the orchestrator was stopping meanwhile.
struct WaitedJob {
  JobId id = 0;
  JobOutcome outcome;
  bool shutting_down = false;
};

// Submits the job and waits for its outcome, polling every 200 ms for a client that
// went away (API-9) or an orchestrator that is stopping (STOP-1): either cancels it.
WaitedJob submit_and_wait(OrchestratorNode::Shared& shared, HTTPServerRequest& request, ApiJob& job) {
  struct Waiter {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    JobOutcome outcome;
  };
  auto waiter = std::make_shared<Waiter>();
  WaitedJob waited;
  {
    CoreLock lock(shared);
    waited.id = shared.broker->submit(job.key, job.job_json, [waiter](const JobOutcome& outcome) {
      {
        std::lock_guard<std::mutex> wl(waiter->mutex);
        waiter->outcome = outcome;
        waiter->done = true;
      }
      waiter->done_cv.notify_one();
    });
  }
  job.job_json.reset();
  std::unique_lock<std::mutex> wl(waiter->mutex);
  while (!waiter->done) {
    if (waiter->done_cv.wait_for(wl, std::chrono::milliseconds(200), [&] { return waiter->done; })) break;
    wl.unlock();
    const bool stopping = shared.stopping;
    if (stopping) waited.shutting_down = true;
    if (stopping || client_gone(request)) {
      CoreLock lock(shared);
      shared.broker->cancel(waited.id);  // the outcome (cancelled) arrives through the waiter
    }
    wl.lock();
  }
  waited.outcome = std::move(waiter->outcome);
  return waited;
}

// The answer to a finished job (API-5..API-10, RETRY-6).
void answer_outcome(Pipeline pipeline, const JobOutcome& outcome, HTTPServerRequest& request,
                    HTTPServerResponse& response) {
  switch (outcome.status) {
    case JobStatus::kOk: {
      RenderedResponse rendered = render_api_response(pipeline, outcome.result ? *outcome.result : ResultBody{});
      if (!rendered.ok) {
        send_error(response, rendered.error.status, rendered.error.message);
      } else {
        send_rendered(request, response, rendered);
      }
      return;
    }
    case JobStatus::kNoWorker:
    case JobStatus::kQueueFull:
      response.set("Retry-After", "1");
      send_error(response, 503, outcome.message);
      return;
    case JobStatus::kAllFailed:
      send_error(response, 502, outcome.message);
      return;
    case JobStatus::kRejected:  // RETRY-6, RES-7
      send_error(response, 400, std::string(codec::rejected_input_reason(outcome.message)));
      return;
    case JobStatus::kDeadline:
      send_error(response, 504, outcome.message);
      return;
    case JobStatus::kCancelled:
      response.setKeepAlive(false);
      send_error(response, 499, outcome.message);
      return;
  }
}

class PipelineHandler final : public HTTPRequestHandler {
 public:
  PipelineHandler(std::shared_ptr<OrchestratorNode::Shared> shared, Pipeline pipeline)
      : shared_(std::move(shared)), pipeline_(pipeline) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const auto started = std::chrono::steady_clock::now();
    const InFlight in_flight(*shared_);
    std::optional<ApiJob> job = accept(request, response);
    if (!job) return;
    const WaitedJob waited = submit_and_wait(*shared_, request, *job);
    const JobOutcome& outcome = waited.outcome;
    if (waited.shutting_down && outcome.status == JobStatus::kCancelled) {  // STOP-1
      spdlog::info("job {} {} {} outcome=cancelled: {}", waited.id, pipeline_name(pipeline_), job->key.model,
                   kShuttingDown);
      send_shutting_down(response);
      return;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("job {} {} {} outcome={} attempts={} last_task={} worker={} ms={:.2f}{}{}", waited.id,
                 pipeline_name(pipeline_), job->key.model, job_status_name(outcome.status), outcome.attempts,
                 outcome.last_task, outcome.last_worker, ms, outcome.message.empty() ? "" : " reason=",
                 outcome.message);
    answer_outcome(pipeline_, outcome, request, response);
  }

 private:
  // The request as a job for the core, or nullopt once it has been answered with
  // the reason it was refused (STOP-1, API-2..API-12).
  std::optional<ApiJob> accept(HTTPServerRequest& request, HTTPServerResponse& response) {
    if (shared_->stopping) {
      send_shutting_down(response);
      return std::nullopt;
    }
    if (request.getMethod() != "POST") {
      response.set("Allow", "POST");
      send_error(response, 405, "use POST for /" + std::string(pipeline_name(pipeline_)));
      return std::nullopt;
    }
    std::string body;
    int status = 0;
    std::string error;
    if (!read_body(request, shared_->config.max_message_bytes, body, status, error)) {
      response.setKeepAlive(false);  // the unread body must not be taken for a next request
      send_error(response, status, error);
      return std::nullopt;
    }
    ParsedApiRequest parsed = parse_api_request(pipeline_, request.getContentType(), body, model_lister(*shared_),
                                                shared_->config.max_pixels);
    if (!parsed.ok) {
      if (parsed.error.status == 503) response.set("Retry-After", "1");
      send_error(response, parsed.error.status, parsed.error.message);
      return std::nullopt;
    }
    return std::move(parsed.job);
  }

  std::shared_ptr<OrchestratorNode::Shared> shared_;
  Pipeline pipeline_;
};

// The core's report for a decoded result post (RES-2, RES-3, RES-6, RES-7); nullopt
// when the post names no task (answered 400 by the caller).
std::optional<Report> report_of(codec::DecodeResult& decoded, const std::string& credentials, WorkerId from) {
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

void answer_verdict(ReportVerdict verdict, TaskId task, HTTPServerResponse& response) {
  switch (verdict) {
    case ReportVerdict::kAccepted:
      send_json(response, HTTPResponse::HTTP_OK, "{\"status\":\"ok\"}");
      return;
    case ReportVerdict::kUnauthorized:
      send_error(response, 401, "invalid secret");
      return;
    case ReportVerdict::kUnknownTask:
      send_error(response, 404, "unknown task " + std::to_string(task));
      return;
    case ReportVerdict::kWrongWorker:
      send_error(response, 409, "task " + std::to_string(task) + " was sent to another worker");
      return;
    case ReportVerdict::kEnded:
    case ReportVerdict::kLateReleased:
      send_error(response, 409, "task " + std::to_string(task) + " has already ended");
      return;
  }
}

class ResultsHandler final : public HTTPRequestHandler {
 public:
  explicit ResultsHandler(std::shared_ptr<OrchestratorNode::Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const std::optional<WorkerId> from = check_headers(request, response);
    if (!from) return;
    std::string body;
    int status = 0;
    std::string error;
    if (!read_body(request, shared_->config.max_message_bytes, body, status, error)) {
      response.setKeepAlive(false);
      send_error(response, status, error);
      return;
    }
    std::optional<std::string> task_header;
    if (request.has(std::string(codec::kTaskIdHeader))) task_header = request.get(std::string(codec::kTaskIdHeader));
    // Shared, not copied: the result's files are ranges of this body.
    const Payload shared_body = std::make_shared<const std::string>(std::move(body));
    codec::DecodeResult decoded = codec::decode_result(request.getContentType(), task_header, shared_body);
    const std::optional<Report> report = report_of(decoded, request.get("Credentials", ""), *from);
    if (!report) {
      send_error(response, 400, decoded.failure.message);
      return;
    }
    ReportVerdict verdict;
    {
      CoreLock lock(*shared_);
      verdict = shared_->broker->report(*report);
    }
    spdlog::debug("result task={} verdict={}", report->task, report_verdict_name(verdict));
    if (!decoded.post) {
      send_error(response, 400, decoded.failure.message);
      return;
    }
    answer_verdict(verdict, report->task, response);
  }

 private:
  // The posting worker's id, or nullopt once the post has been refused on its
  // headers alone, before its body is read (RES-1, RES-4, TASK-2).
  std::optional<WorkerId> check_headers(HTTPServerRequest& request, HTTPServerResponse& response) {
    if (request.getMethod() != "POST") {
      send_error(response, 405, "use POST for /aiResults");
      return std::nullopt;
    }
    if (request.get("Authorization", "") != codec::kResultAuthorization ||
        !same_secret(request.get("Credentials", ""), shared_->config.broker.secret)) {
      response.setKeepAlive(false);
      send_error(response, 401, "invalid secret");
      return std::nullopt;
    }
    const std::optional<TaskId> id = codec::parse_task_id(request.get(std::string(codec::kWorkerIdHeader), ""));
    if (!id || *id <= 0) {
      response.setKeepAlive(false);
      send_error(response, 400,
                 "missing or invalid " + std::string(codec::kWorkerIdHeader) +
                     " header (the worker id from the stream's aipool-worker-id metadata)");
      return std::nullopt;
    }
    return static_cast<WorkerId>(*id);
  }

  std::shared_ptr<OrchestratorNode::Shared> shared_;
};

// GET /healthz answers at once; POST /healthz reads and drops its body first, as the
// "plain POST" baseline of the load tool.
class HealthHandler final : public HTTPRequestHandler {
 public:
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    if (request.getMethod() == "POST") {
      std::istream& in = request.stream();
      char buffer[65536];
      while (in.read(buffer, sizeof buffer), in.gcount() > 0) {
      }
    }
    send_json(response, HTTPResponse::HTTP_OK, "{\"status\":\"ok\"}");
  }
};

class WorkersHandler final : public HTTPRequestHandler {
 public:
  explicit WorkersHandler(std::shared_ptr<OrchestratorNode::Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(HTTPServerRequest&, HTTPServerResponse& response) override {
    WorkersSnapshot snapshot;
    {
      std::lock_guard<std::mutex> lock(shared_->core_mutex);
      snapshot.workers = shared_->broker->workers();
      snapshot.keys = shared_->broker->keys();
      snapshot.joined_wall_unix = shared_->joined_wall_unix;
      snapshot.gpus_json = shared_->gpus_json;
    }
    send_json(response, HTTPResponse::HTTP_OK, workers_json(snapshot));
  }

 private:
  std::shared_ptr<OrchestratorNode::Shared> shared_;
};

class NotFoundHandler final : public HTTPRequestHandler {
 public:
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    send_error(response, 404, "no such endpoint: " + request.getURI());
  }
};

class Router final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Router(std::shared_ptr<OrchestratorNode::Shared> shared) : shared_(std::move(shared)) {}

  HTTPRequestHandler* createRequestHandler(const HTTPServerRequest& request) override {
    std::string path = request.getURI();
    path = path.substr(0, path.find('?'));
    if (path == "/aiResults") return new ResultsHandler(shared_);
    if (path == "/healthz") return new HealthHandler();
    if (path == "/workers") return new WorkersHandler(shared_);
    if (path.size() > 1) {
      if (std::optional<Pipeline> pipeline = pipeline_from_name(path.substr(1))) {
        return new PipelineHandler(shared_, *pipeline);
      }
    }
    return new NotFoundHandler();
  }

 private:
  std::shared_ptr<OrchestratorNode::Shared> shared_;
};

}  // namespace

Poco::Net::HTTPRequestHandlerFactory* make_http_router(std::shared_ptr<OrchestratorNode::Shared> shared) {
  return new Router(std::move(shared));
}

}  // namespace aipool::net
