// The asynchronous jobs' store (async_store.h, spec/async.md).
#include "net/async_store.h"

#include <algorithm>

namespace aipool::net {

AsyncJob* AsyncStore::add(AsyncJob job) {
  if (unfinished_ >= limits_.max_unfinished) return nullptr;
  KeyQueue& queue = queues_[job.key];
  job.phase = AsyncPhase::kQueued;
  job.ticket = queue.next_ticket++;
  const AsyncToken token = job.token;
  auto [it, inserted] = jobs_.emplace(token, std::move(job));
  if (!inserted) return nullptr;  // a repeated id: 128 random bits make it never happen
  queue.queued.emplace_back(it->second.ticket, &it->second);
  ++unfinished_;
  ++queued_;
  return &it->second;
}

AsyncStore::Lookup AsyncStore::find(const AsyncToken& token, const ApiKey* asker, Micros now) {
  evict(now);
  Lookup lookup;
  const auto it = jobs_.find(token);
  if (it != jobs_.end()) {
    if (it->second.owner == asker) lookup = {Found::kJob, &it->second};
    return lookup;  // ASYNC-6: another key's job is unknown to this one
  }
  if (gone_.count(gone_hash(token, asker)) > 0) lookup.found = Found::kGone;
  return lookup;
}

AsyncJob* AsyncStore::get(const AsyncToken& token) {
  const auto it = jobs_.find(token);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<Key> AsyncStore::keys_with_queued() const {
  std::vector<Key> keys;
  if (queued_ == 0) return keys;
  for (const auto& [key, queue] : queues_) {
    if (!queue.queued.empty()) keys.push_back(key);
  }
  return keys;
}

AsyncJob* AsyncStore::queue_head(const Key& key) {
  const auto it = queues_.find(key);
  if (it == queues_.end() || it->second.queued.empty()) return nullptr;
  return it->second.queued.front().second;
}

void AsyncStore::handed_over(AsyncJob& job, JobId broker_job) {
  unqueue(job);
  job.phase = AsyncPhase::kInBroker;
  job.broker_job = broker_job;
  job.request.reset();  // the Broker holds it now
  ++queues_[job.key].in_broker;
}

std::size_t AsyncStore::in_broker(const Key& key) const {
  const auto it = queues_.find(key);
  return it == queues_.end() ? 0 : it->second.in_broker;
}

std::size_t AsyncStore::queued_position(const AsyncJob& job) const {
  const auto it = queues_.find(job.key);
  if (job.phase != AsyncPhase::kQueued || it == queues_.end()) return 0;
  const auto& queued = it->second.queued;
  const auto at = std::lower_bound(queued.begin(), queued.end(), job.ticket,
                                   [](const auto& entry, std::uint64_t ticket) { return entry.first < ticket; });
  return static_cast<std::size_t>(at - queued.begin()) + 1;
}

void AsyncStore::unqueue(AsyncJob& job) {
  auto& queued = queues_[job.key].queued;
  const auto at = std::lower_bound(queued.begin(), queued.end(), job.ticket,
                                   [](const auto& entry, std::uint64_t ticket) { return entry.first < ticket; });
  if (at != queued.end() && at->first == job.ticket) {
    queued.erase(at);
    --queued_;
  }
}

void AsyncStore::finish(AsyncJob& job, std::shared_ptr<const AsyncAnswer> answer, Micros now) {
  if (job.phase == AsyncPhase::kFinished) return;
  if (job.phase == AsyncPhase::kQueued) unqueue(job);
  if (job.phase == AsyncPhase::kInBroker) --queues_[job.key].in_broker;
  job.phase = AsyncPhase::kFinished;
  job.request.reset();
  job.answer = std::move(answer);
  job.finished_at = now;
  --unfinished_;
  result_bytes_ += result_cost(job);
  finished_.push_back(&job);
  evict(now);
}

void AsyncStore::evict(Micros now) {
  while (!finished_.empty()) {
    AsyncJob& oldest = *finished_.front();
    const bool expired = oldest.finished_at + limits_.result_ttl <= now;
    if (!expired && result_bytes_ <= limits_.result_memory) break;
    finished_.pop_front();
    forget(oldest, now);
  }
  while (!gone_order_.empty() &&
         (gone_order_.size() > limits_.gone_max || gone_order_.front().second + limits_.gone_ttl <= now)) {
    gone_.erase(gone_order_.front().first);
    gone_order_.pop_front();
  }
}

void AsyncStore::forget(AsyncJob& job, Micros now) {
  result_bytes_ -= result_cost(job);
  const std::uint64_t hash = gone_hash(job.token, job.owner);
  if (gone_.insert(hash).second) gone_order_.emplace_back(hash, now);
  jobs_.erase(job.token);
}

std::uint64_t AsyncStore::gone_hash(const AsyncToken& token, const ApiKey* owner) {
  // The token is random already; the owner's index keeps one key's gone ids from
  // answering 410 to another (ASYNC-6).
  const std::uint64_t who = owner != nullptr ? owner->index + 1 : 0;
  return token.hi ^ ((token.lo << 17) | (token.lo >> 47)) ^ (who * 0x9E3779B97F4A7C15ULL);
}

std::size_t AsyncStore::result_cost(const AsyncJob& job) {
  return kResultOverheadBytes + (job.answer ? job.answer->body_bytes() : 0);
}

}  // namespace aipool::net
