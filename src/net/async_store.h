// File: async_store.h
// The asynchronous jobs of one orchestrator (spec/async.md): each job by its id, the
// per-key queues of jobs not yet handed to the Broker (ASYNC-4), finished results kept
// within a time and a memory budget, oldest first out (ASYNC-8), and the ids of results
// that went, remembered for a while so that they answer 410 rather than 404.
//
// Contract: not thread-safe; the orchestrator calls it under the core's mutex only.
// Deterministic: time comes in as arguments, ids are drawn by the caller. Pointers to
// jobs stay valid until the job is evicted (a finished job, by a later call that takes
// `now`); an unfinished job is never evicted. Nothing here blocks or does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "net/api_keys.h"
#include "net/api_response.h"
#include "seams/types.h"

namespace aipool::net {

// The final answer of a finished job (ASYNC-5), shared with its callback (ASYNC-9).
struct AsyncAnswer {
  std::string state;  // "succeeded", "failed" or "cancelled"
  int status = 200;   // the status GET answers, the synchronous call's
  std::shared_ptr<const RenderedResponse> rendered;  // succeeded: the body
  std::string body;                                  // otherwise: the body
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
  std::size_t body_bytes() const { return rendered ? rendered->size() : body.size(); }
};

// The 128 random bits of a job id (ASYNC-2).
struct AsyncToken {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  friend bool operator==(const AsyncToken&, const AsyncToken&) = default;
};

enum class AsyncPhase { kQueued, kInBroker, kFinished };

struct AsyncJob {
  AsyncToken token;
  const ApiKey* owner = nullptr;  // the submitting client key; null with keys off (ASYNC-6)
  Key key;
  Payload request;  // the job's JSON, until it is handed to the Broker
  double work_units = 0;
  std::string callback_url;  // ASYNC-9; empty: none
  AsyncPhase phase = AsyncPhase::kQueued;
  std::uint64_t ticket = 0;  // its place in its key's queue (increasing)
  JobId broker_job = 0;      // once handed to the Broker
  Micros submitted_at = 0;
  Micros finished_at = 0;
  std::shared_ptr<const AsyncAnswer> answer;  // once finished
};

struct AsyncStoreLimits {
  Micros result_ttl = 600 * kMicrosPerSecond;       // -resultTTL
  std::size_t result_memory = std::size_t{1} << 30;  // -resultMemory
  std::size_t max_unfinished = 100'000;             // -asyncQueueLimit
  Micros gone_ttl = 3600 * kMicrosPerSecond;        // how long a gone id answers 410
  std::size_t gone_max = 262'144;                   // at most this many gone ids
};

// Fixed bytes a finished result counts beyond its body (ASYNC-8).
inline constexpr std::size_t kResultOverheadBytes = 256;

class AsyncStore {
 public:
  explicit AsyncStore(AsyncStoreLimits limits) : limits_(limits) {}

  // ASYNC-4: adds `job` at the back of its key's queue; nullptr (nothing added) when
  // max_unfinished jobs are unfinished already.
  AsyncJob* add(AsyncJob job);

  enum class Found { kJob, kUnknown, kGone };
  struct Lookup {
    Found found = Found::kUnknown;
    AsyncJob* job = nullptr;
  };
  // ASYNC-6, ASYNC-8: the job `token` names, as `asker` may see it (another key's job
  // is kUnknown), after evicting what is due at `now`.
  Lookup find(const AsyncToken& token, const ApiKey* asker, Micros now);
  // The job whatever its owner; nullptr when unknown or evicted.
  AsyncJob* get(const AsyncToken& token);

  // ASYNC-4: the keys whose queues hold a job, and the head of one (nullptr: empty).
  std::vector<Key> keys_with_queued() const;
  AsyncJob* queue_head(const Key& key);
  // The head of its key's queue went to the Broker as `broker_job`.
  void handed_over(AsyncJob& job, JobId broker_job);
  // The key's jobs in the Broker now (waiting or running).
  std::size_t in_broker(const Key& key) const;
  // ASYNC-5: a queued job's place among its key's queued jobs, 1 for the head.
  std::size_t queued_position(const AsyncJob& job) const;

  // The job ended with `answer` at `now` (from any unfinished phase); then evicts
  // what is due (ASYNC-8), which may be this job at once if it alone exceeds the budget.
  void finish(AsyncJob& job, std::shared_ptr<const AsyncAnswer> answer, Micros now);
  // ASYNC-8: evicts the results past their time, then the oldest beyond the memory.
  void evict(Micros now);

  std::size_t unfinished() const { return unfinished_; }
  std::size_t queued() const { return queued_; }
  std::size_t finished() const { return finished_.size(); }
  std::size_t result_bytes() const { return result_bytes_; }
  std::size_t gone_remembered() const { return gone_.size(); }

 private:
  struct TokenHash {
    std::size_t operator()(const AsyncToken& t) const { return static_cast<std::size_t>(t.lo ^ (t.hi >> 1)); }
  };
  struct KeyQueue {
    std::deque<std::pair<std::uint64_t, AsyncJob*>> queued;  // by ticket, increasing
    std::size_t in_broker = 0;
    std::uint64_t next_ticket = 1;
  };
  static std::uint64_t gone_hash(const AsyncToken& token, const ApiKey* owner);
  static std::size_t result_cost(const AsyncJob& job);
  void forget(AsyncJob& job, Micros now);
  void unqueue(AsyncJob& job);

  AsyncStoreLimits limits_;
  std::unordered_map<AsyncToken, AsyncJob, TokenHash> jobs_;
  std::map<Key, KeyQueue> queues_;
  std::deque<AsyncJob*> finished_;  // in the order they finished
  std::size_t result_bytes_ = 0;
  std::size_t unfinished_ = 0;
  std::size_t queued_ = 0;
  std::unordered_set<std::uint64_t> gone_;
  std::deque<std::pair<std::uint64_t, Micros>> gone_order_;  // oldest first
};

}  // namespace aipool::net
