// File: sim_transport.h
// The WorkerTransport seam over simulated per-worker streams. A send on an open
// stream becomes a kNotice event for the worker after a drawn delay, or is lost
// (drop fault); a send on a broken stream fails (CONN-4). A broken stream's end
// reaches the orchestrator as a kStreamEnd event after a detection delay; close()
// breaks the stream and reports its end at once (the core already removed the
// worker, so that report changes nothing, CONN-4).
//
// Contract: single-threaded; one SimTransport per simulated orchestrator. Calls
// from the core (send, close) never call back into it (DET-2): they only record,
// tell the observer (the world, which records effects and checks them) and
// schedule events.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "seams/transport.h"
#include "sim/event.h"
#include "sim/event_queue.h"
#include "sim/key_table.h"
#include "sim/prng.h"

namespace aipool::sim {

class TransportObserver {
 public:
  virtual ~TransportObserver() = default;
  // The core handed `notice` to the transport; `ok` is what send() returns.
  virtual void on_send(std::uint8_t orch, const JobNotice& notice, std::uint32_t key, bool ok) = 0;
  virtual void on_close(std::uint8_t orch, WorkerId worker, std::string_view reason) = 0;
};

struct TransportFaults {
  Micros notice_delay_max = 0;  // a notice takes [0, max]
  Ratio notice_drop{0, 1};      // a notice is lost on the way
  Micros end_detect_max = 0;    // a broken stream is noticed after [0, max]
};

class SimTransport final : public WorkerTransport {
 public:
  SimTransport(const Micros& now, EventQueue<Event>& queue, const KeyTable& keys,
               std::uint8_t orch, Prng prng, TransportObserver& observer)
      : now_(now), queue_(queue), keys_(keys), orch_(orch), prng_(prng), observer_(observer) {}

  void set_faults(const TransportFaults& faults) { faults_ = faults; }
  const TransportFaults& faults() const { return faults_; }

  // A session's stream, before the core hears of the join.
  void open(WorkerId id, std::uint32_t worker_index) {
    if (streams_.size() <= id) streams_.resize(id + 1);
    streams_[id] = Stream{worker_index, false, false, true};
  }
  // The stream breaks (network fault, crash, leave): sends fail from now on and
  // the orchestrator hears of the end after `detect` (never when `notify` is false).
  void break_stream(WorkerId id, Micros detect, bool notify = true) {
    Stream* stream = find(id);
    if (stream == nullptr) return;
    stream->broken = true;
    if (notify && !stream->end_scheduled) schedule_end(*stream, id, detect);
  }
  // The orchestrator has handled the end: forget the stream.
  void forget(WorkerId id) {
    if (Stream* stream = find(id)) stream->known = false;
  }
  bool is_open(WorkerId id) const {
    const Stream* stream = find(id);
    return stream != nullptr && !stream->broken;
  }
  Micros draw_detect_delay() { return draw(faults_.end_detect_max); }

  bool send(const JobNotice& notice) override {
    const std::optional<std::uint32_t> key = keys_.find(notice.pipeline, notice.model);
    Stream* stream = find(notice.worker);
    const bool ok = stream != nullptr && !stream->broken && key.has_value();
    observer_.on_send(orch_, notice, key.value_or(0), ok);
    if (!ok) return false;
    if (prng_.chance(faults_.notice_drop)) return true;  // lost on the way
    Event event;
    event.at = now_ + draw(faults_.notice_delay_max);
    event.kind = EventKind::kNotice;
    event.orch = orch_;
    event.worker = stream->worker;
    event.a = static_cast<std::uint64_t>(notice.task);
    event.b = notice.worker;
    event.c = *key;
    queue_.push(event);
    return true;
  }

  void close(WorkerId worker, std::string_view reason) override {
    observer_.on_close(orch_, worker, reason);
    Stream* stream = find(worker);
    if (stream == nullptr) return;
    stream->broken = true;
    if (!stream->end_scheduled) schedule_end(*stream, worker, 0);
  }

 private:
  struct Stream {
    std::uint32_t worker = 0;  // physical worker index
    bool broken = false;
    bool end_scheduled = false;
    bool known = false;
  };

  Stream* find(WorkerId id) {
    return id < streams_.size() && streams_[id].known ? &streams_[id] : nullptr;
  }
  const Stream* find(WorkerId id) const {
    return id < streams_.size() && streams_[id].known ? &streams_[id] : nullptr;
  }

  Micros draw(Micros max) { return max <= 0 ? 0 : static_cast<Micros>(prng_.uniform(static_cast<std::uint64_t>(max) + 1)); }

  void schedule_end(Stream& stream, WorkerId id, Micros delay) {
    stream.end_scheduled = true;
    Event event;
    event.at = now_ + delay;
    event.kind = EventKind::kStreamEnd;
    event.orch = orch_;
    event.worker = stream.worker;
    event.b = id;
    queue_.push(event);
  }

  const Micros& now_;
  EventQueue<Event>& queue_;
  const KeyTable& keys_;
  std::uint8_t orch_;
  Prng prng_;
  TransportObserver& observer_;
  TransportFaults faults_;
  std::vector<Stream> streams_;  // by WorkerId (the world hands them out densely)
};

}  // namespace aipool::sim
