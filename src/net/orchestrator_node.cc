#include "net/orchestrator_node.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>

#include "codec/json_text.h"
#include "codec/result_codec.h"
#include "net/api_request.h"
#include "net/http_body.h"
#include "net/real_clock.h"
#include "net/worker_streams.h"

namespace aipool::net {

using Poco::Net::HTTPRequestHandler;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// API-11: one log line per attempt, from the core's attempt events.
class AttemptLog final : public AttemptObserver {
 public:
  void attempt_started(const AttemptEvent& e) override {
    spdlog::debug("attempt task={} job={} {} {} worker={} sent", e.task, e.job, pipeline_name(e.key->pipeline),
                  e.key->model, e.worker);
  }
  void attempt_ended(const AttemptEvent& e) override {
    spdlog::info("attempt task={} job={} {} {} worker={} outcome={} ms={:.2f}{}{}", e.task, e.job,
                 pipeline_name(e.key->pipeline), e.key->model, e.worker, attempt_end_name(e.end),
                 static_cast<double>(e.ended_at - e.sent_at) / 1000.0, e.detail.empty() ? "" : " reason=", e.detail);
  }
};

struct OrchestratorNode::Shared {
  AttemptLog attempt_log;
  OrchestratorConfig config;
  std::mutex core_mutex;  // guards broker and joined_wall
  std::unique_ptr<RealClock> clock;
  std::unique_ptr<WorkerStreams> streams;
  std::unique_ptr<Broker> broker;
  std::map<WorkerId, std::int64_t> joined_wall_unix;  // for /workers
  std::map<WorkerId, std::string> gpus_json;          // for /workers (MODEL-19)
  // STOP-1: set first by stop(); API requests waiting for a job end with 503.
  std::atomic<bool> stopping{false};
  // API requests inside a handler; stop() waits for none before it ends the core.
  std::mutex handlers_mutex;
  std::condition_variable handlers_idle;
  int handlers_in_flight = 0;
};

namespace {

// The core's mutex, taken for one core call. Job notices the core sends meanwhile
// start on the wire when the lock is released (WorkerStreams::DeferWrites), so no
// socket write happens under the mutex. Members are released in reverse order:
// the mutex first, then the writes start.
struct CoreLock {
  explicit CoreLock(OrchestratorNode::Shared& shared) : lock(shared.core_mutex) {}
  WorkerStreams::DeferWrites defer;
  std::lock_guard<std::mutex> lock;
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

// Counts an API request as in flight for its handler's lifetime (STOP-1).
class InFlight {
 public:
  explicit InFlight(OrchestratorNode::Shared& shared) : shared_(shared) {
    std::lock_guard<std::mutex> lock(shared_.handlers_mutex);
    ++shared_.handlers_in_flight;
  }
  ~InFlight() {
    std::lock_guard<std::mutex> lock(shared_.handlers_mutex);
    if (--shared_.handlers_in_flight == 0) shared_.handlers_idle.notify_all();
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  OrchestratorNode::Shared& shared_;
};

constexpr const char* kShuttingDown = "orchestrator is shutting down";

class PipelineHandler final : public HTTPRequestHandler {
 public:
  PipelineHandler(std::shared_ptr<OrchestratorNode::Shared> shared, Pipeline pipeline)
      : shared_(std::move(shared)), pipeline_(pipeline) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const auto started = std::chrono::steady_clock::now();
    const InFlight in_flight(*shared_);
    if (shared_->stopping) {  // STOP-1
      response.set("Retry-After", "1");
      response.setKeepAlive(false);
      send_error(response, 503, kShuttingDown);
      return;
    }
    if (request.getMethod() != "POST") {
      response.set("Allow", "POST");
      send_error(response, 405, "use POST for /" + std::string(pipeline_name(pipeline_)));
      return;
    }
    std::string body;
    int status = 0;
    std::string error;
    if (!read_body(request, shared_->config.max_message_bytes, body, status, error)) {
      response.setKeepAlive(false);  // the unread body must not be taken for a next request
      send_error(response, status, error);
      return;
    }
    const ModelLister lister = [this](Pipeline p) {
      std::vector<std::string> models;
      std::lock_guard<std::mutex> lock(shared_->core_mutex);
      for (const KeyView& key : shared_->broker->keys()) {
        if (key.key.pipeline == p && key.capacity > 0) models.push_back(key.key.model);
      }
      return models;
    };
    ParsedApiRequest parsed = parse_api_request(pipeline_, request.getContentType(), body, lister,
                                                shared_->config.max_pixels);
    body.clear();
    body.shrink_to_fit();
    if (!parsed.ok) {
      if (parsed.error.status == 503) response.set("Retry-After", "1");
      send_error(response, parsed.error.status, parsed.error.message);
      return;
    }
    struct Waiter {
      std::mutex mutex;
      std::condition_variable done_cv;
      bool done = false;
      JobOutcome outcome;
    };
    auto waiter = std::make_shared<Waiter>();
    JobId job = 0;
    {
      CoreLock lock(*shared_);
      job = shared_->broker->submit(parsed.job.key, parsed.job.job_json, [waiter](const JobOutcome& outcome) {
        {
          std::lock_guard<std::mutex> wl(waiter->mutex);
          waiter->outcome = outcome;
          waiter->done = true;
        }
        waiter->done_cv.notify_one();
      });
    }
    parsed.job.job_json.reset();
    bool shutting_down = false;
    {
      std::unique_lock<std::mutex> wl(waiter->mutex);
      while (!waiter->done) {
        if (waiter->done_cv.wait_for(wl, std::chrono::milliseconds(200), [&] { return waiter->done; })) break;
        wl.unlock();
        const bool stopping = shared_->stopping;
        if (stopping) shutting_down = true;
        if (stopping || client_gone(request)) {
          CoreLock lock(*shared_);
          shared_->broker->cancel(job);  // the outcome (cancelled) arrives through the waiter
        }
        wl.lock();
      }
    }
    const JobOutcome& outcome = waiter->outcome;
    if (shutting_down && outcome.status == JobStatus::kCancelled) {  // STOP-1
      spdlog::info("job {} {} {} outcome=cancelled: {}", job, pipeline_name(pipeline_), parsed.job.key.model,
                   kShuttingDown);
      response.set("Retry-After", "1");
      response.setKeepAlive(false);
      send_error(response, 503, kShuttingDown);
      return;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    spdlog::info("job {} {} {} outcome={} attempts={} last_task={} worker={} ms={:.2f}{}{}", job,
                 pipeline_name(pipeline_), parsed.job.key.model, job_status_name(outcome.status),
                 outcome.attempts, outcome.last_task, outcome.last_worker, ms,
                 outcome.message.empty() ? "" : " reason=", outcome.message);
    switch (outcome.status) {
      case JobStatus::kOk: {
        RenderedResponse rendered = render_api_response(pipeline_, outcome.result ? *outcome.result : ResultBody{});
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

 private:
  std::shared_ptr<OrchestratorNode::Shared> shared_;
  Pipeline pipeline_;
};

bool same_text(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    diff |= static_cast<unsigned>(static_cast<unsigned char>(i < a.size() ? a[i] : 0) ^
                                  static_cast<unsigned char>(i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

class ResultsHandler final : public HTTPRequestHandler {
 public:
  explicit ResultsHandler(std::shared_ptr<OrchestratorNode::Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    if (request.getMethod() != "POST") {
      send_error(response, 405, "use POST for /aiResults");
      return;
    }
    // RES-4: headers first; a wrong or missing secret stops here, before the body.
    const std::string credentials = request.get("Credentials", "");
    if (request.get("Authorization", "") != codec::kResultAuthorization ||
        !same_text(credentials, shared_->config.broker.secret)) {
      response.setKeepAlive(false);
      send_error(response, 401, "invalid secret");
      return;
    }
    // RES-1, TASK-2: the poster names itself; the core refuses a task bound to another worker.
    const std::optional<TaskId> id = codec::parse_task_id(request.get(std::string(codec::kWorkerIdHeader), ""));
    if (!id || *id <= 0) {
      response.setKeepAlive(false);
      send_error(response, 400,
                 "missing or invalid " + std::string(codec::kWorkerIdHeader) +
                     " header (the worker id from the stream's aipool-worker-id metadata)");
      return;
    }
    const std::optional<WorkerId> from = static_cast<WorkerId>(*id);
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
      send_error(response, 400, decoded.failure.message);
      return;
    }
    ReportVerdict verdict;
    {
      CoreLock lock(*shared_);
      verdict = shared_->broker->report(report);
    }
    spdlog::debug("result task={} verdict={}", report.task, report_verdict_name(verdict));
    if (!decoded.post) {
      send_error(response, 400, decoded.failure.message);
      return;
    }
    switch (verdict) {
      case ReportVerdict::kAccepted:
        send_json(response, HTTPResponse::HTTP_OK, "{\"status\":\"ok\"}");
        return;
      case ReportVerdict::kUnauthorized:
        send_error(response, 401, "invalid secret");
        return;
      case ReportVerdict::kUnknownTask:
        send_error(response, 404, "unknown task " + std::to_string(report.task));
        return;
      case ReportVerdict::kWrongWorker:
        send_error(response, 409, "task " + std::to_string(report.task) + " was sent to another worker");
        return;
      case ReportVerdict::kEnded:
      case ReportVerdict::kLateReleased:
        send_error(response, 409, "task " + std::to_string(report.task) + " has already ended");
        return;
    }
  }

 private:
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

std::string key_fields(const Key& key) {
  return "\"pipeline\":" + codec::json_string(pipeline_name(key.pipeline)) + ",\"model_id\":" + codec::json_string(key.model);
}

class WorkersHandler final : public HTTPRequestHandler {
 public:
  explicit WorkersHandler(std::shared_ptr<OrchestratorNode::Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(HTTPServerRequest&, HTTPServerResponse& response) override {
    std::vector<WorkerView> workers;
    std::vector<KeyView> keys;
    std::map<WorkerId, std::int64_t> joined;
    std::map<WorkerId, std::string> gpus;
    {
      std::lock_guard<std::mutex> lock(shared_->core_mutex);
      workers = shared_->broker->workers();
      keys = shared_->broker->keys();
      joined = shared_->joined_wall_unix;
      gpus = shared_->gpus_json;
    }
    std::map<Key, const KeyView*> by_key;
    for (const KeyView& k : keys) by_key[k.key] = &k;
    const auto price = [](const KeyView* k) -> std::string {
      if (k == nullptr || k->offer == nullptr) return "null";
      return "{\"price_per_unit\":" + std::to_string(k->offer->price_per_unit) +
             ",\"pixels_per_unit\":" + std::to_string(k->offer->pixels_per_unit) +
             ",\"currency\":" + codec::json_string(k->offer->currency) + "}";
    };
    std::string out = "{\"workers\":[";
    for (std::size_t i = 0; i < workers.size(); ++i) {
      const WorkerView& w = workers[i];
      if (i != 0) out += ',';
      out += "{\"id\":" + std::to_string(w.id) + ",\"address\":" + codec::json_string(w.address) +
             ",\"connected_since\":" + std::to_string(joined.count(w.id) ? joined[w.id] : 0) +
             ",\"open_attempts\":" + std::to_string(w.open_attempts) +
             ",\"abandoned_attempts\":" + std::to_string(w.abandoned_attempts) +
             ",\"gpus\":" + (gpus.count(w.id) ? gpus[w.id] : std::string("[]")) + ",\"keys\":[";
      for (std::size_t j = 0; j < w.seats.size(); ++j) {
        const SeatView& s = w.seats[j];
        if (j != 0) out += ',';
        out += std::string("{") + key_fields(s.key) + ",\"capacity\":" + std::to_string(s.capacity) +
               ",\"in_use\":" + std::to_string(s.in_use) + ",\"price\":" + price(by_key[s.key]) + "}";
      }
      out += "]}";
    }
    out += "],\"keys\":[";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const KeyView& k = keys[i];
      if (i != 0) out += ',';
      out += std::string("{") + key_fields(k.key) + ",\"capacity\":" + std::to_string(k.capacity) +
             ",\"in_use\":" + std::to_string(k.in_use) + ",\"waiting\":" + std::to_string(k.waiting) +
             ",\"workers\":" + std::to_string(k.workers) + ",\"offered\":" + (k.capacity > 0 ? "true" : "false") +
             ",\"price\":" + price(&k) + "}";
    }
    out += "]}";
    send_json(response, HTTPResponse::HTTP_OK, out);
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

std::string host_of(const std::string& addr) {
  const std::size_t colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

}  // namespace

OrchestratorNode::OrchestratorNode(OrchestratorConfig config)
    : config_(std::move(config)), shared_(std::make_shared<Shared>()) {
  shared_->config = config_;
}

OrchestratorNode::~OrchestratorNode() { stop(); }

bool OrchestratorNode::start(std::string& error) {
  Shared* shared = shared_.get();
  // HTTP first: its port is part of the results URL that workers get.
  std::unique_ptr<Poco::Net::ServerSocket> http_socket;
  try {
    http_socket = std::make_unique<Poco::Net::ServerSocket>(Poco::Net::SocketAddress(config_.http_addr), 256);
  } catch (const std::exception& e) {
    error = "cannot listen for HTTP on " + config_.http_addr + ": " + e.what();
    return false;
  }
  http_port_ = http_socket->address().port();
  results_url_ = config_.results_url;
  if (results_url_.empty()) {
    std::string host = host_of(config_.http_addr);
    if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host.clear();
    if (!host.empty()) results_url_ = "http://" + host + ":" + std::to_string(http_port_) + "/aiResults";
  }

  shared->clock = std::make_unique<RealClock>([shared](TimerId id) {
    CoreLock lock(*shared);
    if (shared->broker) shared->broker->timer_fired(id);
  });
  WorkerStreams::Hooks hooks;
  hooks.join = [shared](const JoinRequest& join, const ParsedAdverts& parsed, const ::net::RegisterRequest& request) {
    std::string gpus = "[";
    for (const ::net::GPUInfo& gpu : request.gpus()) {
      if (gpus.size() > 1) gpus += ',';
      gpus += "{\"id\":" + codec::json_string(gpu.id()) + ",\"name\":" + codec::json_string(gpu.name()) +
              ",\"major\":" + std::to_string(gpu.major()) + ",\"minor\":" + std::to_string(gpu.minor()) +
              ",\"memory_free\":" + std::to_string(gpu.memory_free()) +
              ",\"memory_total\":" + std::to_string(gpu.memory_total()) + "}";
    }
    gpus += "]";
    JoinResult result;
    {
      CoreLock lock(*shared);
      result = shared->broker->worker_joined(join);
      if (result.verdict == JoinVerdict::kAccepted) {
        shared->joined_wall_unix[join.id] = unix_now();
        shared->gpus_json[join.id] = gpus;
      }
    }
    for (const std::string& skipped : parsed.skipped) {
      spdlog::warn("worker {} ({}): ignored advert: {}", join.id, join.address, skipped);
    }
    for (const Key& key : result.ignored_keys) {
      spdlog::warn("worker {} ({}): ignored {}: not in the orchestrator's model list", join.id, join.address,
                   key_name(key));
    }
    if (result.verdict == JoinVerdict::kAccepted) {
      std::string keys;
      for (const Key& key : result.offered_keys) {
        keys += ' ';
        keys += key_name(key);
      }
      spdlog::info("worker {} joined from {} offering{}", join.id, join.address, keys);
    } else {
      spdlog::warn("worker {} from {} refused: {}", join.id, join.address, result.message);
    }
    return result;
  };
  hooks.left = [shared](WorkerId id, const std::string& reason) {
    bool was_live = false;
    {
      CoreLock lock(*shared);
      if (!shared->broker) return;
      was_live = shared->joined_wall_unix.erase(id) > 0;
      shared->gpus_json.erase(id);
      shared->broker->worker_left(id, reason);
    }
    if (was_live) spdlog::info("worker {} left: {}", id, reason);
  };
  shared->streams = std::make_unique<WorkerStreams>(hooks, results_url_);
  shared->broker = std::make_unique<Broker>(config_.broker, *shared->clock, *shared->streams);
  shared->broker->set_observer(&shared->attempt_log);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.service_addr, grpc::InsecureServerCredentials(), &grpc_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.RegisterService(shared->streams.get());
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    error = "cannot listen for gRPC on " + config_.service_addr;
    grpc_server_.reset();
    return false;
  }

  auto* params = new Poco::Net::HTTPServerParams();
  params->setMaxThreads(config_.http_threads);
  params->setMaxQueued(config_.http_queue);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);
  params->setKeepAliveTimeout(Poco::Timespan(60, 0));
  params->setTimeout(Poco::Timespan(60, 0));
  // A handler thread waiting for a connection gives up after this; it bounds how long
  // the process's exit waits for such threads after stop() (STOP-1).
  params->setThreadIdleTime(Poco::Timespan(0, 250'000));
  http_server_ = std::make_unique<Poco::Net::HTTPServer>(new Router(shared_), *http_socket, params);
  http_server_->start();
  started_ = true;
  spdlog::info("orchestrator serving gRPC on port {} and HTTP on port {}; results URL {}", grpc_port_,
               http_port_, results_url_.empty() ? "(not sent: workers use their own flag)" : results_url_);
  return true;
}

void OrchestratorNode::stop() {
  if (!started_) return;
  started_ = false;
  shared_->stopping = true;  // STOP-1: waiting API requests answer 503 within their next poll
  if (shared_->streams) shared_->streams->close_all("orchestrator shutting down");
  if (grpc_server_) grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (http_server_) http_server_->stopAll(true);
  {
    // The handlers use the core: it ends only after the last one has answered.
    std::unique_lock<std::mutex> lock(shared_->handlers_mutex);
    shared_->handlers_idle.wait(lock, [&] { return shared_->handlers_in_flight == 0; });
  }
  grpc_server_.reset();
  http_server_.reset();
  shared_->clock.reset();  // joins the timer thread
  {
    std::lock_guard<std::mutex> lock(shared_->core_mutex);
    shared_->broker.reset();
  }
  shared_->streams.reset();
}

}  // namespace aipool::net
