#include "net/worker_node.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "aipool.grpc.pb.h"
#include "aipool.pb.h"
#include "codec/json_scan.h"
#include "codec/result_codec.h"
#include "codec/text.h"
#include "core/slot_gate.h"
#include "net/job_model_id.h"
#include "net/slot_waits.h"
#include "net/capabilities.h"
#include "net/log_line.h"
#include "net/result_poster.h"
#include "net/streamed_job.h"
#include "net/stream_status.h"
#include "net/work_queue.h"
#include "net/worker_metrics.h"
#include "net/worker_tls.h"

namespace aipool::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kResultsUrlMetadata = "aipool-results-url";
constexpr std::string_view kWorkerIdMetadata = "aipool-worker-id";

// Keepalive pings find a dead orchestrator on an idle stream. 330 s stays above the
// gRPC server default minimum ping interval (5 min), so a default server never
// answers with GOAWAY "too many pings".
constexpr int kKeepaliveTimeMs = 330'000;
constexpr std::chrono::milliseconds kProbeTimeout{10'000};  // SEC-8: the TLS probe's connect and handshake
constexpr int kKeepaliveTimeoutMs = 20'000;

std::int64_t millis_since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

// What one accepted stream told the worker: where its results go and its id there.
struct Session {
  ResultTarget target;
  std::string worker_id;  // empty when the orchestrator sent none
};

}  // namespace

// ------------------------------------------------------------------ the node

struct WorkerNode::Impl {
  struct Link {
    OrchestratorAddress address;
    std::string name;
    ResultTarget default_target;
    TlsProbe probe;  // the last TLS probe's result (SEC-8); used by the next stream
    std::unique_ptr<ResultPoster> poster;
    std::unique_ptr<Backoff> backoff;  // under Impl::mutex
    bool connected = false;            // under Impl::mutex
    std::thread thread;

    std::mutex call_mutex;
    grpc::ClientContext* call = nullptr;  // the stream in progress, under call_mutex
    bool cancelled = false;               // under call_mutex

    // Cancels the stream in progress and any later one.
    void cancel() {
      std::lock_guard<std::mutex> lock(call_mutex);
      cancelled = true;
      if (call) call->TryCancel();
    }
  };

  Impl(WorkerConfig cfg, Executor& exec, Random& rnd)
      : config(std::move(cfg)), executor(exec), random(rnd), gate(gate_entries(config.adverts)) {
    fill_register_request(request, config.secret, config.adverts, config.version);
    for (const std::string& id : config.gpu_ids) {
      ::net::GPUInfo* info = request.add_gpus();
      info->set_id(id);
      for (const WorkerConfig::Gpu& gpu : config.gpus) {
        if (gpu.id != id) continue;
        info->set_name(gpu.name);
        info->set_major(gpu.major);
        info->set_minor(gpu.minor);
        info->set_memory_free(gpu.memory_free);
        info->set_memory_total(gpu.memory_total);
      }
    }
    PostPolicy policy;
    policy.retries = config.post_retries;
    policy.first_retry_delay = config.post_retry_delay;
    policy.timeout = config.post_timeout;
    policy.max_sessions = config.max_post_connections;
    for (const OrchestratorAddress& address : config.orchestrators) {
      auto link = std::make_unique<Link>();
      link->address = address;
      link->name = address.grpc_target();
      link->default_target.host = address.host;
      link->default_target.port = address.http_port != 0 ? address.http_port : config.default_http_port;
      link->default_target.path = "/aiResults";
      const bool ipv6 = address.host.find(':') != std::string::npos;
      link->default_target.https = config.tls.has_value();
      link->default_target.url = (config.tls ? "https://" : "http://") +
                                 (ipv6 ? "[" + address.host + "]" : address.host) + ":" +
                                 std::to_string(link->default_target.port) + "/aiResults";
      link->poster = std::make_unique<ResultPoster>(config.secret, policy, config.tls);
      link->backoff = std::make_unique<Backoff>(random, config.backoff);
      links.push_back(std::move(link));
    }
    std::uint64_t slots = 0;
    for (const Advert& advert : config.adverts) slots += advert.capacity;
    // One thread per slot, plus one per orchestrator for the read of its stream
    // (StreamTurns below).
    job_pool = std::make_unique<WorkQueue>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(slots, 4096)) +
                                           config.orchestrators.size());
    post_pool = std::make_unique<WorkQueue>(2);
  }

  static std::vector<SlotGate::Entry> gate_entries(const std::vector<Advert>& adverts) {
    std::vector<SlotGate::Entry> entries;
    for (const Advert& advert : adverts) entries.push_back(SlotGate::Entry{advert.key, advert.capacity});
    return entries;
  }

  void start() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (started) return;
      started = true;
    }
    for (auto& link : links) {
      Link* l = link.get();
      l->thread = std::thread([this, l] { run_link(*l); });
    }
  }

  void request_stop() {
    int running = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return;
      stopping = true;
      running = running_jobs;
    }
    waits.refuse_all(std::string(kShuttingDown));
    wake.notify_all();
    spdlog::info("stopping: taking no new jobs; {} running job(s) to finish and post", running);
  }

  void fail(const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (fatal.empty()) fatal = message;
    }
    spdlog::error("{}", message);
    request_stop();
  }

  int wait() {
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (waited) return fatal.empty() ? kExitOk : kExitFatal;
      wake.wait(lock, [&] { return stopping; });
      wake.wait(lock, [&] { return running_jobs == 0; });
    }
    for (auto& link : links) link->cancel();
    for (auto& link : links) {
      if (link->thread.joinable()) link->thread.join();
    }
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return pending_posts == 0; });
    }
    job_pool->shutdown();
    post_pool->shutdown();
    std::lock_guard<std::mutex> lock(mutex);
    waited = true;
    spdlog::info("stopped{}", fatal.empty() ? "" : " after a fatal error");
    return fatal.empty() ? kExitOk : kExitFatal;
  }

  std::shared_ptr<const Session> session_of(Link& link, const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    auto session = std::make_shared<Session>();
    session->target = link.default_target;
    for (const auto& [name, value] : metadata) {
      const std::string_view n(name.data(), name.size());
      const std::string v(value.data(), value.size());
      if (n == kWorkerIdMetadata) session->worker_id = v;
      if (n == kResultsUrlMetadata) {
        std::string error;
        std::optional<ResultTarget> target = parse_results_url(v, error);
        if (target && target->https != config.tls.has_value()) {  // SEC-9: the secret never goes in clear
          error = "results URL " + v + (config.tls ? " is not https:// (this worker uses TLS)"
                                                   : " is https:// but this worker was started with -insecure");
          target.reset();
        }
        if (target) {
          session->target = std::move(*target);
        } else {
          spdlog::warn("orchestrator {}: {}; posting results to {}", link.name, codec::log_safe(error),
                       link.default_target.url);
        }
      }
    }
    return session;
  }

  // How one stream ended.
  struct StreamEnd {
    grpc::Status status;
    bool accepted = false;  // the orchestrator took the registration
    Micros session_us = 0;  // how long it lasted when accepted
    bool stopping = false;  // the node was stopping when it ended
  };

  // The link's loop: a stream, then a wait with backoff (RECON-1, RECON-2), until a
  // stop or a refusal (CONN-1, CONN-2).
  void run_link(Link& link) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stopping) break;
      }
      if (config.tls && !probe_link(link)) break;
      const StreamEnd end = run_stream(link);
      if (end.stopping) {
        spdlog::info("disconnected from orchestrator {} (stopping)", link.name);
        break;
      }
      if (is_refusal(end.status)) {
        if (end.status.error_message() == "invalid secret") {
          fail("orchestrator " + link.name + " refused the secret (invalid secret): check -orchSecret");
        } else {
          fail("orchestrator " + link.name + " refused this worker (" + status_text(end.status) + ")");
        }
        break;
      }
      if (!config.tls && !end.accepted) {  // SEC-10: plain text to an orchestrator that speaks TLS?
        if (std::optional<std::string> why = tls_spoken_instead(link.name, link.address.host, link.address.grpc_port)) {
          fail(*why);
          break;
        }
      }
      wait_to_reconnect(link, end);
    }
  }

  // SEC-8: a TLS handshake with the orchestrator before the secret is sent. An
  // orchestrator this worker does not trust (or that does not speak TLS) is fatal;
  // one out of reach is waited for with backoff. False when the link must end.
  bool probe_link(Link& link) {
    for (;;) {
      TlsProbe probe = probe_orchestrator(link.address.host, link.address.grpc_port, *config.tls, kProbeTimeout);
      if (probe.kind == TlsProbe::Kind::kTrusted) {
        link.probe = std::move(probe);
        return true;
      }
      if (probe.kind == TlsProbe::Kind::kUntrusted) {
        fail("orchestrator " + link.name + " is not trusted: " + probe.message);
        return false;
      }
      StreamEnd end;
      end.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, probe.message);
      wait_to_reconnect(link, end);
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) return false;
    }
  }

  // A fresh channel per attempt, with its own subchannels: gRPC's own reconnect
  // backoff must not delay ours (RECON-1).
  std::shared_ptr<grpc::Channel> channel_for(const Link& link) const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(config.max_message_bytes);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    if (!config.tls) return grpc::CreateCustomChannel(link.name, grpc::InsecureChannelCredentials(), args);
    return grpc::CreateCustomChannel(link.name, tls_channel_credentials(*config.tls, link.probe, args), args);
  }

  // Registers (WIRE-2, WIRE-3) and lets the job pool read the stream until it ends.
  StreamEnd run_stream(Link& link) {
    const auto stub = ::net::Transcoder::NewStub(channel_for(link));
    grpc::ClientContext context;
    {
      std::lock_guard<std::mutex> lock(link.call_mutex);
      link.call = &context;
      if (link.cancelled) context.TryCancel();
    }
    spdlog::debug("connecting to orchestrator {}", link.name);
    const auto opened = SteadyClock::now();
    std::unique_ptr<grpc::ClientReader<::net::NotifyAIJob>> reader = stub->RegisterAIWorker(&context, request);
    reader->WaitForInitialMetadata();
    const auto& metadata = context.GetServerInitialMetadata();
    std::shared_ptr<const Session> session = session_of(link, metadata);
    StreamEnd end;
    auto accept = [&] {
      end.accepted = true;
      {
        std::lock_guard<std::mutex> lock(mutex);
        link.connected = true;
      }
      spdlog::info("connected to orchestrator {} as worker {}; results go to {}", link.name,
                   session->worker_id.empty() ? "(no id given)" : codec::log_safe(session->worker_id),
                   codec::log_safe(session->target.url));
    };
    if (!metadata.empty()) accept();
    {
      StreamTurns turns;
      turns.reader = reader.get();
      if (!end.accepted) turns.on_first_message = accept;
      std::unique_lock<std::mutex> lock(turns.mutex);
      job_pool->submit([this, &link, session, &turns] { read_turn(link, session, turns); });
      turns.cv.wait(lock, [&] { return turns.ended; });
    }
    end.status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(link.call_mutex);
      link.call = nullptr;
    }
    if (end.accepted) {
      end.session_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - opened).count();
    }
    std::lock_guard<std::mutex> lock(mutex);
    link.connected = false;
    end.stopping = stopping;
    return end;
  }

  void wait_to_reconnect(Link& link, const StreamEnd& end) {
    Micros delay = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      link.backoff->session_ended(end.session_us);  // RECON-2
      delay = link.backoff->next_delay();           // RECON-1
      reconnect_delays.push_back(delay);
    }
    if (end.accepted) {
      spdlog::warn("disconnected from orchestrator {} after {} s ({}); reconnecting in {} ms", link.name,
                   end.session_us / kMicrosPerSecond, status_text(end.status), delay / 1000);
    } else {
      spdlog::warn("cannot connect to orchestrator {} ({}); retrying in {} ms", link.name, status_text(end.status),
                   delay / 1000);
    }
    std::unique_lock<std::mutex> lock(mutex);
    wake.wait_for(lock, std::chrono::microseconds(delay), [&] { return stopping; });
  }

  // The reads of one stream, passed from pool thread to pool thread (leader and
  // followers): the thread whose Read returns a job admits it, hands the next Read
  // to another pool thread and runs the job itself, so a job starts without waiting
  // for another thread to wake up. Exactly one turn reads at a time; the turn whose
  // Read fails sets `ended`, and no turn touches this object after that.
  struct StreamTurns {
    grpc::ClientReader<::net::NotifyAIJob>* reader = nullptr;
    std::function<void()> on_first_message;  // run by the first turn that gets a message
    std::mutex mutex;
    std::condition_variable cv;
    bool ended = false;
  };

  void read_turn(Link& link, const std::shared_ptr<const Session>& session, StreamTurns& turns) {
    ::net::NotifyAIJob job;
    if (!turns.reader->Read(&job)) {
      std::lock_guard<std::mutex> lock(turns.mutex);
      turns.ended = true;
      turns.cv.notify_all();  // under the lock: the owner may destroy `turns` once it is released
      return;
    }
    if (turns.on_first_message) {
      turns.on_first_message();
      turns.on_first_message = nullptr;
    }
    std::optional<AdmittedJob> admitted = admit_job(link, session, job);  // in the order received
    job_pool->submit([this, &link, session, &turns] { read_turn(link, session, turns); });
    if (admitted) run_job(link, session, admitted->key, admitted->task, admitted->request_json, admitted->received);
  }

  struct AdmittedJob {
    Key key;
    TaskId task = 0;
    Payload request_json;
    SteadyClock::time_point received;
  };

  // Takes a slot for the job, or posts its refusal; never blocks on a job or a post.
  std::optional<AdmittedJob> admit_job(Link& link, const std::shared_ptr<const Session>& session,
                                       ::net::NotifyAIJob& job) {
    const auto received = SteadyClock::now();
    const TaskId task = job.taskid();
    const int type = static_cast<int>(job.type());
    const std::optional<Pipeline> pipeline = pipeline_from_request_type(type);
    if (!pipeline) {
      post_error(link, session, task, type, "", "unknown request type " + std::to_string(type), received);
      return std::nullopt;
    }
    auto data = std::make_shared<std::string>();
    data->swap(*job.mutable_data());
    std::variant<std::string, std::string> model = job_model_id(*data);
    if (model.index() == 1) {
      post_error(link, session, task, type, std::string(pipeline_name(*pipeline)) + "/?", std::get<1>(model),
                 received);
      return std::nullopt;
    }
    Key key{*pipeline, std::move(std::get<0>(model))};
    std::string refusal;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) {
        refusal = kShuttingDown;
      } else if (!gate.serves(key) || !executor.supports(key)) {
        refusal = "model not served by this worker: " + key_name(key);
      } else if (gate.try_acquire(key)) {
        ++running_jobs;
      } else if (waits.enabled()) {  // MULTI-2: added under the gate's lock, so no freed slot is missed
        waits.add(key, [this, &link, session, key, task, data, received] { run_job(link, session, key, task, data, received); },
                  [this, &link, session, key, task, type, received](const std::string& error) {
                    if (config.metrics != nullptr) config.metrics->job_refused(key);  // MET-7
                    post_error(link, session, task, type, key_name(key), error, received);
                  });
        return std::nullopt;
      } else {
        refusal = SlotGate::kAtCapacity;  // MULTI-2
      }
    }
    if (!refusal.empty()) {
      if (config.metrics != nullptr) config.metrics->job_refused(key);  // MET-7
      post_error(link, session, task, type, key_name(key), refusal, received);
      return std::nullopt;
    }
    spdlog::debug("job task={} orch={} {} admitted", task, link.name, codec::log_safe(key_name(key)));
    return AdmittedJob{std::move(key), task, std::move(data), received};
  }

  void post_error(Link& link, const std::shared_ptr<const Session>& session, TaskId task, int type,
                  std::string what, std::string error, SteadyClock::time_point received) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++pending_posts;
    }
    post_pool->submit([this, &link, session, task, type, what = std::move(what), error = std::move(error), received] {
      // JobType echoes the type received; the orchestrator identifies the task by TaskID.
      const auto wire_type = static_cast<Pipeline>(static_cast<std::uint8_t>(type >= 0 && type < 256 ? type : 0));
      ExecResult refusal{false, error, {}};
      const codec::EncodedPost body = codec::encode_worker_result(wire_type, task, refusal, post_limit_bytes());
      const PostOutcome outcome = link.poster->post(session->target, task, session->worker_id, body);
      log_job(link, task, what, "refused: " + refusal.error, received, outcome);
      bool draining = false;
      {
        std::lock_guard<std::mutex> lock(mutex);
        --pending_posts;
        draining = stopping;
      }
      if (draining) wake.notify_all();  // only wait() counts posts, and only once stopping
    });
  }

  // Runs on the job pool.
  void run_job(Link& link, const std::shared_ptr<const Session>& session, const Key& key, TaskId task,
               const Payload& request_json, SteadyClock::time_point received) {
    auto called = std::make_shared<std::atomic<bool>>(false);
    if (config.metrics != nullptr) config.metrics->job_started(key);  // MET-7
    ExecRequest request{key, task, request_json, nullptr};
    std::shared_ptr<StreamedJob> streamed;  // LLM-4
    if (is_streamed_job(key, *request_json)) {
      streamed = std::make_shared<StreamedJob>(*link.poster, session->target, task, session->worker_id);
      request.stream = streamed->sink();
    }
    auto done = [this, &link, session, key, task, received, called, streamed](ExecResult result) {
      if (called->exchange(true)) {
        spdlog::error("executor reported task {} twice; the second report is ignored", task);
        return;
      }
      finish_job(link, *session, key, task, std::move(result), received, streamed.get());
    };
    try {
      executor.execute(request, done);
    } catch (const std::exception& e) {
      done(ExecResult{false, std::string("executor failed: ") + e.what(), {}});
    } catch (...) {
      done(ExecResult{false, "executor failed", {}});
    }
    if (streamed) streamed->prepare();  // LLM-4: the post's connection while the model computes
  }

  void finish_job(Link& link, const Session& session, const Key& key, TaskId task, ExecResult result,
                  SteadyClock::time_point received, StreamedJob* streamed) {
    const bool via_stream = streamed != nullptr && streamed->carries(result);
    PostOutcome outcome;
    if (via_stream) outcome = streamed->finish(result);  // LLM-4: the slot is held until the post ends
    std::optional<SlotWaits::Entry> next;  // MULTI-2: the oldest job waiting for this slot
    {
      std::lock_guard<std::mutex> lock(mutex);
      gate.release(key);
      if ((next = waits.take(key))) {
        gate.try_acquire(key);
        ++running_jobs;
      }
    }
    if (next) job_pool->submit(std::move(next->start));
    if (config.metrics != nullptr) config.metrics->job_finished(key, result.ok, std::chrono::duration<double>(SteadyClock::now() - received).count());
    // RES-2, RES-3; a post over the limit becomes a worker error (RES-11).
    if (!via_stream) {
      const codec::EncodedPost body = codec::encode_worker_result(key.pipeline, task, result, post_limit_bytes());
      outcome = link.poster->post(session.target, task, session.worker_id, body);
    }
    if (config.metrics != nullptr) config.metrics->result_posted(key, link.name, outcome.ok(), outcome.elapsed_ms / 1000);
    log_job(link, task, key_name(key), result.ok ? "ok" : "error: " + result.error, received, outcome);
    bool draining = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      --running_jobs;
      draining = stopping;
    }
    // Only wait() counts running jobs, and only once stopping: a wake-up per job
    // would cost the idle threads two context switches each.
    if (draining) wake.notify_all();
  }

  // The largest post the orchestrator takes (RES-11): the worker's -maxMessageBytes.
  std::size_t post_limit_bytes() const { return static_cast<std::size_t>(std::max(config.max_message_bytes, 4096)); }

  // One line per job (API-11, LOG-1, LOG-2).
  void log_job(const Link& link, TaskId task, const std::string& what, const std::string& raw_outcome,
               SteadyClock::time_point received, const PostOutcome& post) {
    log_worker_job(task, link.name, what, raw_outcome, millis_since(received), post);
  }

  WorkerConfig config;
  Executor& executor;
  Random& random;
  ::net::RegisterRequest request;

  mutable std::mutex mutex;
  std::condition_variable wake;
  SlotGate gate;  // under mutex
  SlotWaits waits{config.capacity_wait};  // jobs waiting for a slot of gate (MULTI-2)
  bool started = false;
  bool stopping = false;
  bool waited = false;
  std::string fatal;
  int running_jobs = 0;   // jobs holding a slot, until their result is posted
  int pending_posts = 0;  // error results not yet posted
  std::vector<Micros> reconnect_delays;
  std::vector<std::unique_ptr<Link>> links;
  std::unique_ptr<WorkQueue> job_pool;
  std::unique_ptr<WorkQueue> post_pool;
};

WorkerNode::WorkerNode(WorkerConfig config, Executor& executor, Random& random)
    : impl_(std::make_unique<Impl>(std::move(config), executor, random)) {}

WorkerNode::~WorkerNode() {
  impl_->request_stop();
  impl_->wait();
}

void WorkerNode::start() { impl_->start(); }
void WorkerNode::request_stop() { impl_->request_stop(); }
int WorkerNode::wait() { return impl_->wait(); }

std::string WorkerNode::fatal_error() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->fatal;
}

std::size_t WorkerNode::connected_links_for_test() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& link : impl_->links) n += link->connected ? 1 : 0;
  return n;
}

std::vector<Micros> WorkerNode::reconnect_delays_for_test() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->reconnect_delays;
}

}  // namespace aipool::net
