#include "net/worker_streams.h"

#include <deque>

#include "net/grpc_happens_before.h"

namespace aipool::net {
namespace {

// The deferral scopes open on this thread, and the streams whose first queued
// message waits for the outermost one to end.
thread_local int defer_depth = 0;
thread_local std::vector<std::pair<WorkerStreams*, WorkerId>> deferred_starts;

}  // namespace

// One worker's stream. Lives from RegisterAIWorker until OnDone.
class WorkerStream final : public grpc::ServerWriteReactor<::net::NotifyAIJob> {
 public:
  WorkerStream(WorkerStreams& owner, WorkerId id) : owner_(owner), id_(id) {}

  // Queues one message; false when the stream has ended (a send failure, CONN-4).
  // `defer`: when the queue was idle, the write is not started here; `deferred` is
  // set and start_deferred() must be called later.
  bool enqueue(::net::NotifyAIJob message, bool defer, bool& deferred) {
    const ::net::NotifyAIJob* first = nullptr;
    deferred = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished_) return false;
      queue_.push_back(std::move(message));
      if (!writing_) {
        writing_ = true;  // later messages queue behind this one
        if (defer) {
          deferred = true;
        } else {
          first = &queue_.front();
        }
      }
    }
    if (first != nullptr) {
      published(this);  // what led here happens before OnWriteDone
      StartWrite(first);
    }
    return true;
  }

  // Starts the write that enqueue() deferred. A stream that ended meanwhile drops
  // its queue: the core learns of the end through stream_ended (CONN-4).
  void start_deferred() {
    const ::net::NotifyAIJob* first = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished_ || queue_.empty()) return;
      first = &queue_.front();
    }
    published(this);
    StartWrite(first);
  }

  void finish(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished_) return;
      finished_ = true;
    }
    published(this);  // and before OnDone
    Finish(status);
    published(this);  // Finish on a reactor not yet returned to gRPC keeps the status in it
  }

  // Each reaction first takes in what happened before the gRPC call that caused it
  // (grpc_happens_before.h); gRPC runs them on its own threads.
  void OnWriteDone(bool ok) override {
    observed(this);
    const ::net::NotifyAIJob* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.pop_front();
      if (!ok) {
        writing_ = false;
      } else if (!queue_.empty() && !finished_) {
        next = &queue_.front();
      } else {
        writing_ = false;
      }
    }
    if (!ok) {
      owner_.stream_ended(id_, "write to the worker failed");
      finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    published(this);  // before the next write's OnWriteDone, and before OnDone
    if (next != nullptr) StartWrite(next);
  }

  void OnCancel() override {
    observed(this);
    owner_.stream_ended(id_, "stream closed by the worker or the network");
    finish(grpc::Status::CANCELLED);  // publishes: OnDone comes after
  }

  void OnDone() override {
    observed(this);
    owner_.stream_ended(id_, "stream done");
    owner_.stream_done(id_);
    published(&owner_);  // before Server::Shutdown returns, and so before ~WorkerStreams
    delete this;
  }

 private:
  WorkerStreams& owner_;
  const WorkerId id_;
  std::mutex mutex_;
  std::deque<::net::NotifyAIJob> queue_;
  bool writing_ = false;
  bool finished_ = false;
};

WorkerStreams::WorkerStreams(Hooks hooks, std::string results_url, const SipKey& worker_id_key,
                             std::size_t max_models_per_worker)
    : hooks_(std::move(hooks)),
      results_url_(std::move(results_url)),
      worker_ids_(worker_id_key),
      max_models_per_worker_(max_models_per_worker) {}

// Runs after the gRPC server has shut down, which waits for every OnDone.
WorkerStreams::~WorkerStreams() { observed(this); }

grpc::ServerWriteReactor<::net::NotifyAIJob>* WorkerStreams::RegisterAIWorker(
    grpc::CallbackServerContext* context, const ::net::RegisterRequest* request) {
  const WorkerId id = worker_ids_.encode(next_registration_.fetch_add(1));  // CONN-6
  auto* stream = new WorkerStream(*this, id);
  if (!results_url_.empty()) context->AddInitialMetadata("aipool-results-url", results_url_);
  context->AddInitialMetadata("aipool-worker-id", std::to_string(id));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    streams_[id] = stream;  // before the join: the core may send at once
  }
  // A job the core sends during the join goes out after the initial metadata: the
  // scope ends after StartSendInitialMetadata below.
  DeferWrites defer;
  const ParsedAdverts parsed = adverts_from_capabilities(request->capabilities(), max_models_per_worker_);
  JoinRequest join;
  join.id = id;
  join.secret = request->secret();
  join.address = context->peer();
  join.adverts = parsed.adverts;
  join.advertised = parsed.advertised;  // CONN-7
  const JoinResult result = hooks_.join(join, parsed, *request);
  published(stream);  // the registration happens before the stream's reactions
  if (result.verdict == JoinVerdict::kAccepted) {
    stream->StartSendInitialMetadata();
    return stream;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    streams_.erase(id);
  }
  const grpc::StatusCode code = result.verdict == JoinVerdict::kInvalidSecret
                                    ? grpc::StatusCode::UNAUTHENTICATED
                                    : grpc::StatusCode::FAILED_PRECONDITION;
  stream->finish(grpc::Status(code, result.message));
  return stream;
}

bool WorkerStreams::send(const JobNotice& notice) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(notice.worker);
  if (it == streams_.end()) return false;
  ::net::NotifyAIJob message;
  message.set_type(static_cast<::net::AIRequestType>(pipeline_request_type(notice.pipeline)));
  message.set_taskid(notice.task);
  if (notice.payload) message.set_data(*notice.payload);
  bool deferred = false;
  const bool queued = it->second->enqueue(std::move(message), defer_depth > 0, deferred);
  if (deferred) deferred_starts.emplace_back(this, notice.worker);
  return queued;
}

WorkerStreams::DeferWrites::DeferWrites() { ++defer_depth; }

WorkerStreams::DeferWrites::~DeferWrites() {
  if (--defer_depth > 0 || deferred_starts.empty()) return;
  std::vector<std::pair<WorkerStreams*, WorkerId>> starts;
  starts.swap(deferred_starts);
  for (const auto& [owner, id] : starts) owner->start_write(id);
}

void WorkerStreams::start_write(WorkerId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second->start_deferred();  // gone: its queue went with it
}

void WorkerStreams::close(WorkerId worker, std::string_view reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(worker);
  if (it == streams_.end()) return;
  it->second->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(reason)));
}

void WorkerStreams::close_all(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, stream] : streams_) {
    stream->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(reason)));
  }
}

void WorkerStreams::stream_ended(WorkerId id, const std::string& reason) {
  // CONN-4: reported off the caller's stack; the core ignores repeats.
  strand_.post([this, id, reason] { hooks_.left(id, reason); });
}

void WorkerStreams::stream_done(WorkerId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  streams_.erase(id);
}

}  // namespace aipool::net
