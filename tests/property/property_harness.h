// File: property_harness.h
// The system under test of the property tests: the real Broker on the
// simulator's SimClock, with a transport that records every notice and close
// and fails sends to streams marked broken. Effects come out in the same form
// as the reference model's (sim/reference_model.h) so that the two can be
// compared with the simulator's own checks (sim/checker.h). As in the simulator,
// effects name attempts by their numbers (TASK-1: 1, 2, 3, ...) and reports carry
// TaskIDs, the numbers under the harness's key.
//
// Contract: single-threaded; one harness per test case.
#pragma once

#include <charconv>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include "core/attempt_observer.h"
#include "core/broker.h"
#include "sim/checker.h"
#include "sim/event.h"
#include "sim/event_queue.h"
#include "sim/prng.h"
#include "sim/reference_model.h"
#include "sim/sim_clock.h"

namespace aipool::sim::test {

inline constexpr const char* kSecret = "property-secret";

inline ModelConfig property_config() {
  ModelConfig config;
  config.secret = kSecret;
  config.attempt_timeout = 10 * kMicrosPerSecond;
  config.job_deadline = 35 * kMicrosPerSecond;
  config.slot_reclaim = 20 * kMicrosPerSecond;
  config.queue_limit = 2;
  // TIME-5: two pipelines with timeouts of their own.
  config.pipeline_attempt_timeout[static_cast<std::size_t>(Pipeline::kImageToText)] = 6 * kMicrosPerSecond;
  config.pipeline_job_deadline[static_cast<std::size_t>(Pipeline::kUpscale)] = 25 * kMicrosPerSecond;
  config.quarantine_after = 2;  // QUAR-2: low, so that cases reach quarantine and probes
  config.quarantine_cooldown = 15 * kMicrosPerSecond;
  config.quarantine_max_cooldown = 40 * kMicrosPerSecond;
  return config;
}

// The property tests' TaskID key (TASK-1), drawn from a fixed generator.
inline SipKey property_task_id_key() {
  Prng random(0x70726F70ULL);
  return draw_id_key(random);
}

// The attempt number of a TaskID; ids not above 0 stand for themselves.
inline TaskId number_of(const IdCipher& ids, TaskId id) {
  return id > 0 ? static_cast<TaskId>(ids.decode(static_cast<std::uint64_t>(id))) : id;
}

class RecordingTransport final : public WorkerTransport {
 public:
  RecordingTransport(std::vector<Effect>& effects, std::set<WorkerId>& broken, const IdCipher& ids)
      : effects_(effects), broken_(broken), ids_(ids) {}

  bool send(const JobNotice& notice) override {
    Effect effect;
    effect.kind = Effect::Kind::kSend;
    effect.worker = notice.worker;
    effect.task = number_of(ids_, notice.task);
    if (notice.payload) {
      std::from_chars(notice.payload->data(), notice.payload->data() + notice.payload->size(), effect.job);
    }
    effect.key = Key{notice.pipeline, std::string(notice.model)};
    effects_.push_back(std::move(effect));
    return !broken_.contains(notice.worker);
  }
  void close(WorkerId worker, std::string_view /*reason*/) override {
    Effect effect;
    effect.kind = Effect::Kind::kClose;
    effect.worker = worker;
    effects_.push_back(std::move(effect));
  }

 private:
  std::vector<Effect>& effects_;
  std::set<WorkerId>& broken_;
  const IdCipher& ids_;
};

// Records how each attempt ended (TASK-3) as a kEnd effect, and checks each
// attempt's start against QUAR-4 (a blocked seat gets no job but its probe while
// the job has an untried seat that is not blocked).
class EndRecorder final : public AttemptObserver {
 public:
  EndRecorder(std::vector<Effect>& effects, const IdCipher& ids, std::set<std::string>& seen)
      : effects_(effects), ids_(ids), seen_(seen) {}
  const Broker* broker = nullptr;
  std::string violation;  // the first QUAR-4 violation seen, if any
  void attempt_started(const AttemptEvent& event) override {
    if (broker == nullptr) return;
    if (auto v = check_quarantine_send(*broker, event)) {
      if (violation.empty()) violation = v->rule + ": " + v->message;
    }
    const std::optional<SeatView> seat = broker->seat_view(event.worker, *event.key);
    if (!seat) return;
    if (seat->state == SeatState::kProbing && seat->probe_task == event.task) seen_.insert("quarantine probe");
    if (seat->state == SeatState::kQuarantined) seen_.insert("quarantined seat took a job");
  }
  void attempt_ended(const AttemptEvent& event) override {
    Effect effect;
    effect.kind = Effect::Kind::kEnd;
    effect.task = number_of(ids_, event.task);
    effect.job = event.job;
    effect.worker = event.worker;
    effect.end = event.end;
    effects_.push_back(std::move(effect));
  }

 private:
  std::vector<Effect>& effects_;
  const IdCipher& ids_;
  std::set<std::string>& seen_;
};

struct Harness {
  explicit Harness(const ModelConfig& model = property_config())
      : clock(now, queue, 0, Prng(1)),
        task_ids(property_task_id_key()),
        transport(effects, broken, task_ids),
        ends(effects, task_ids, seen),
        broker(config_of(model), clock, transport) {
    broker.set_observer(&ends);
    ends.broker = &broker;
  }

  static BrokerConfig config_of(const ModelConfig& model) {
    BrokerConfig config;
    config.secret = model.secret;
    config.attempt_timeout = model.attempt_timeout;
    config.job_deadline = model.job_deadline;
    config.slot_reclaim = model.slot_reclaim;
    config.queue_limit = model.queue_limit;
    config.task_id_key = property_task_id_key();
    config.max_models_per_worker = model.max_models_per_worker;
    config.max_model_id_bytes = model.max_model_id_bytes;
    config.quarantine = QuarantineConfig{model.quarantine_after, model.quarantine_cooldown, model.quarantine_max_cooldown};
    config.pipeline_attempt_timeout = model.pipeline_attempt_timeout;  // TIME-5
    config.pipeline_job_deadline = model.pipeline_job_deadline;
    if (model.model_list) {
      config.model_list.emplace();
      for (const Key& key : *model.model_list) {
        const auto own = model.model_timeouts.find(key);
        ModelOffer offer{key, 1, 1, "USD"};
        if (own != model.model_timeouts.end()) std::tie(offer.attempt_timeout, offer.job_deadline) = own->second;
        config.model_list->push_back(offer);
      }
    }
    return config;
  }

  JobCallback on_done() {
    return [this](const JobOutcome& outcome) {
      Effect effect;
      effect.kind = Effect::Kind::kOutcome;
      effect.job = outcome.job;
      effect.status = outcome.status;
      effect.task = number_of(task_ids, outcome.last_task);
      effect.worker = outcome.last_worker;
      effect.attempts = outcome.attempts;
      effect.message = outcome.message;
      effects.push_back(std::move(effect));
      seen.insert("outcome " + std::string(job_status_name(outcome.status)));
    };
  }
  // The TaskID of attempt number `n`; numbers not above 0 stand for themselves.
  TaskId id_of(TaskId n) const {
    return n > 0 ? static_cast<TaskId>(task_ids.encode(static_cast<std::uint64_t>(n))) : n;
  }
  JobId submit(const Key& key, JobId expected_id) {
    return broker.submit(key, std::make_shared<const std::string>(std::to_string(expected_id)), on_done());
  }
  // Fires every timer due up to `until` in (time, arming order), then sets the time.
  void advance_to(Micros until) {
    for (;;) {
      // The next timer: from the queue or the clock's lanes, by (time, sequence).
      const Event* queued = queue.empty() ? nullptr : &queue.top();
      const SimClock::LaneEntry* lane = clock.next_in_lanes();
      const bool from_lane = lane != nullptr && (queued == nullptr || lane->at < queued->at ||
                                                 (lane->at == queued->at && lane->seq < queued->seq));
      const Micros at = from_lane ? lane->at : queued != nullptr ? queued->at : until + 1;
      if (at > until) break;
      TimerId id = 0;
      std::uint64_t seq = 0;
      if (from_lane) {
        id = lane->id;
        seq = lane->seq;
        clock.pop_lane(seq);
      } else {
        const Event event = queue.pop();
        id = event.a;
        seq = event.seq;
      }
      bool stale = false;
      if (!clock.take(id, seq, stale)) continue;
      now = at;
      seen.insert("timer " + std::to_string(id >> 60));
      broker.timer_fired(id);
    }
    if (until > now) now = until;
  }

  std::set<std::string> seen;  // paths taken, for the coverage check
  std::set<JobId> sent_jobs;   // jobs sent at least once
  Micros now = 0;
  EventQueue<Event> queue;
  SimClock clock;
  std::vector<Effect> effects;
  std::set<WorkerId> broken;
  IdCipher task_ids;
  RecordingTransport transport;
  EndRecorder ends;
  Broker broker;
};

// Everything the simulator checks after an event, as one message (empty: all good).
inline std::string compare(const ReferenceModel& model, Harness& sut) {
  if (!sut.ends.violation.empty()) return sut.ends.violation;
  if (auto v = check_effects(sut.effects, model.effects())) return v->rule + ": " + v->message;
  std::set<JobId> open;
  for (const auto& [id, job] : model.jobs()) open.insert(id);
  if (auto v = check_core_invariants(sut.broker, open)) return v->rule + ": " + v->message;
  if (auto v = check_against_model(sut.broker, model, sut.clock)) return v->rule + ": " + v->message;
  if (sut.now != model.now()) return "TIME-1: the harness and the model disagree on the time";
  return "";
}

}  // namespace aipool::sim::test
