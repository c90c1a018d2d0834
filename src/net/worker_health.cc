#include "net/worker_health.h"

#include <algorithm>

#include "codec/result_codec.h"

namespace aipool::net {

void WorkerHealthBook::attempt_ended(const AttemptEvent& event, std::int64_t wall_unix) {
  if (event.worker == 0 || event.key == nullptr) return;
  WorkerHealth& h = workers_[event.worker];
  switch (event.end) {
    case AttemptEnd::kResult: {
      ++h.jobs_ok;
      h.consecutive_failures = 0;
      std::vector<double>& ring = h.recent[*event.key];
      std::size_t& next = h.next_slot[*event.key];
      const double ms = static_cast<double>(event.ended_at - event.sent_at) / 1000.0;
      if (ring.size() < kSamples) {
        ring.push_back(ms);
      } else {
        ring[next] = ms;
      }
      next = (next + 1) % kSamples;
      return;
    }
    case AttemptEnd::kWorkerError:
      if (codec::is_rejected_input(event.detail)) {  // RETRY-6: the client's fault
        ++h.rejected_input;
        return;
      }
      [[fallthrough]];
    case AttemptEnd::kSendFailure:
    case AttemptEnd::kDisconnect:
    case AttemptEnd::kTimeout:
      ++h.jobs_failed;
      ++h.consecutive_failures;
      h.last_error = std::string(attempt_end_name(event.end)) +
                     (event.detail.empty() ? std::string() : ": " + std::string(event.detail));
      h.last_error_at = wall_unix;
      return;
    case AttemptEnd::kCancelled:
    case AttemptEnd::kDeadline:
      return;
  }
}

void WorkerHealthBook::forget(WorkerId worker) { workers_.erase(worker); }

std::optional<double> WorkerHealthBook::median(std::vector<double> samples) {
  if (samples.empty()) return std::nullopt;
  const auto mid = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), mid, samples.end());
  if (samples.size() % 2 == 1) return *mid;
  const double upper = *mid;
  const double lower = *std::max_element(samples.begin(), mid);
  return (lower + upper) / 2;
}

}  // namespace aipool::net
