// File: worker_streams.h
// Production binding of the WorkerTransport seam: the gRPC service
// `net.Transcoder/RegisterAIWorker` (WIRE-1) on the callback API, one server-write
// reactor per worker stream with its own write queue.
//
// Threads: RegisterAIWorker runs on gRPC threads and calls hooks.join (which takes
// the core's mutex). send() and close() are called by the core under its mutex;
// they never block and never call the core. A stream's end is reported through
// hooks.left on a private strand, never on the caller's stack.
//
// Deferred writes: while a DeferWrites scope lives on the calling thread, send()
// only queues the message; the gRPC write (a socket write and wake-ups of gRPC's
// threads) starts when the outermost scope ends. The orchestrator opens one around
// every core call, outside the core's mutex, so that mutex is never held across a
// socket write; RegisterAIWorker opens one so that a job the core sends during the
// join goes out after the stream's initial metadata.
//
// Worker ids (CONN-6): each registration, accepted or not, takes the next number of
// a counter and gets that number under the keyed permutation of TaskIDs
// (core/id_cipher.h) with the key given here, which the orchestrator draws from OS
// entropy at each start: positive 63-bit ids, unpredictable, and unrelated to the ids
// of an earlier start.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "aipool.grpc.pb.h"
#include "core/broker.h"
#include "core/id_cipher.h"
#include "net/capabilities.h"
#include "net/strand.h"
#include "seams/transport.h"

namespace aipool::net {

class WorkerStream;

class WorkerStreams final : public ::net::Transcoder::CallbackService, public WorkerTransport {
 public:
  struct Hooks {
    std::function<JoinResult(const JoinRequest&, const ParsedAdverts&, const ::net::RegisterRequest&)> join;
    std::function<void(WorkerId, const std::string& reason)> left;
  };
  // `results_url` goes to each worker in the initial metadata `aipool-results-url`
  // (empty: not sent); every worker also gets its id in `aipool-worker-id`, made
  // with `worker_id_key` (CONN-6). A registration with more than
  // `max_models_per_worker` adverts (the Broker's own limit) is counted, not read,
  // and the Broker refuses it on the count (CONN-7).
  WorkerStreams(Hooks hooks, std::string results_url, const SipKey& worker_id_key,
                std::size_t max_models_per_worker);
  ~WorkerStreams() override;

  grpc::ServerWriteReactor<::net::NotifyAIJob>* RegisterAIWorker(
      grpc::CallbackServerContext* context, const ::net::RegisterRequest* request) override;

  bool send(const JobNotice& notice) override;
  void close(WorkerId worker, std::string_view reason) override;

  class DeferWrites {
   public:
    DeferWrites();
    ~DeferWrites();  // the outermost scope on this thread starts the queued writes
    DeferWrites(const DeferWrites&) = delete;
    DeferWrites& operator=(const DeferWrites&) = delete;
  };

  // Ends every stream (orchestrator shutdown).
  void close_all(std::string_view reason);

 private:
  friend class WorkerStream;
  void stream_ended(WorkerId id, const std::string& reason);
  void stream_done(WorkerId id);
  void start_write(WorkerId id);

  Hooks hooks_;
  std::string results_url_;
  const IdCipher worker_ids_;                    // CONN-6
  const std::size_t max_models_per_worker_;      // CONN-7
  std::atomic<std::uint64_t> next_registration_{1};
  mutable std::mutex mutex_;
  std::map<WorkerId, WorkerStream*> streams_;
  Strand strand_;
};

}  // namespace aipool::net
