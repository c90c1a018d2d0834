// The world's run loop (world.h): the next event, merged from the queue and the
// clocks' timer lanes; one step (the event, the checks after it, the running
// hash); the dispatch of each event kind to its handler.
// The set-up is in world_setup.cc; the handlers of workers' sessions in
// world_sessions.cc, of executions and uploads in world_exec.cc, of clients,
// forgers and foreign load in world_load.cc; the calls into the core and their
// checks in world_core.cc; the liveness phase in world_liveness.cc; the scripted
// control of scenarios in world_script.cc; the descriptions in trace.cc.
#include <algorithm>

#include "sim/world.h"

namespace aipool::sim {

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return "none";
    case FailureKind::kInvariant: return "invariant broken";
    case FailureKind::kLiveness: return "liveness failure";
    case FailureKind::kNondeterminism: return "nondeterminism";
  }
  return "?";
}

void World::run() {
  while (!failed()) {
    const Event* next = peek();
    if (next == nullptr) break;
    if (healed_ && (next->kind == EventKind::kCrash || next->kind == EventKind::kLeave ||
                    next->kind == EventKind::kStreamBreak || next->kind == EventKind::kForeignTake ||
                    next->kind == EventKind::kSubmit)) {
      pop_next();  // load and faults scheduled before the heal: they do nothing now
      continue;
    }
    if (!scripted_ && next->at > hard_stop_) {
      fail(FailureKind::kLiveness, "LIVENESS",
           "the world is still busy past its liveness bound (next event: " +
               describe_event(*next) + ")");
      break;
    }
    step();
  }
  if (!failed() && expected_ != nullptr && stats_.events < expected_->size()) {
    fail(FailureKind::kNondeterminism, "SEL-6",
         "this run ended after " + std::to_string(stats_.events) + " events, the first after " +
             std::to_string(expected_->size()));
  }
  if (!failed() && !scripted_) final_checks();
  stats_.sim_time = now_;
}

void World::run_until(Micros until) {
  for (const Event* next = peek(); !failed() && next != nullptr && next->at <= until; next = peek()) {
    step();
  }
  if (!failed()) now_ = std::max(now_, until);
  stats_.sim_time = now_;
}

// Cancelled timers stay in the queue until their time (the clock forgets them,
// the queue does not); when they are the larger part of it, they go, so that a
// busy world's queue stays the size of what is really pending.
void World::compact_queue() {
  std::uint64_t cancelled = 0;
  for (const auto& o : orchs_) cancelled += o->clock->cancelled();
  if (cancelled < 4096 || cancelled * 4 < queue_.size()) return;
  queue_.remove_if([this](const Event& e) {
    return e.kind == EventKind::kTimer && !orchs_[e.orch]->clock->pending(e.a, e.seq);
  });
  for (const auto& o : orchs_) o->clock->forget_cancelled();
}

const Event* World::peek() {
  // Compared by (time, sequence) from the heap's key and the lane entries; only
  // the winner's event is read.
  bool any = !queue_.empty();
  Micros at = any ? queue_.top_at() : 0;
  std::uint64_t seq = any ? queue_.top_seq() : 0;
  const SimClock::LaneEntry* timer_best = nullptr;
  std::uint8_t timer_orch = 0;
  peeked_clock_ = nullptr;
  for (const auto& o : orchs_) {
    const SimClock::LaneEntry* timer = o->clock->next_in_lanes();
    if (timer == nullptr) continue;
    if (!any || timer->at < at || (timer->at == at && timer->seq < seq)) {
      any = true;
      at = timer->at;
      seq = timer->seq;
      timer_best = timer;
      timer_orch = o->index;
      peeked_clock_ = o->clock.get();
    }
  }
  if (!any) return nullptr;
  if (timer_best == nullptr) return &queue_.top();
  peeked_ = Event{};
  peeked_.at = timer_best->at;
  peeked_.seq = timer_best->seq;
  peeked_.kind = EventKind::kTimer;
  peeked_.orch = timer_orch;
  peeked_.a = timer_best->id;
  return &peeked_;
}

Event World::pop_next() {
  const Event* next = peek();
  return take_peeked(next);
}

Event World::take_peeked(const Event* next) {
  if (peeked_clock_ == nullptr) return queue_.pop();
  const Event event = *next;
  peeked_clock_->pop_lane(event.seq);
  return event;
}

bool World::step() {
  if (failed()) return false;
  compact_queue();
  const Event* next = peek();
  if (next == nullptr) return false;
  Event event = take_peeked(next);
  if (event.kind == EventKind::kTimer) {
    bool stale = false;
    if (!orchs_[event.orch]->clock->take(event.a, event.seq, stale)) return true;  // cancelled
    event.flags = stale ? 1 : 0;
  }
  now_ = event.at;
  ++stats_.events;
  ring_text_[ring_count_ % kRing].clear();
  ring_[ring_count_++ % kRing] = event;
  mix(static_cast<std::uint64_t>(now_) ^ (event.a * 0x9E3779B97F4A7C15ULL) ^ (event.b << 40) ^
      (static_cast<std::uint64_t>(event.kind) << 56) ^ (std::uint64_t{event.orch} << 48) ^
      (std::uint64_t{event.flags} << 32) ^ event.worker);
  handle(event);
  flush_trace();
  after_event(event);
  if (record_ != nullptr) record_->push_back(hash_);
  if (expected_ != nullptr && !failed()) {
    const std::uint64_t index = stats_.events - 1;
    if (index >= expected_->size() || (*expected_)[index] != hash_) {
      fail(FailureKind::kNondeterminism, "SEL-6",
           "event " + std::to_string(stats_.events) + " differs from the first run: " +
               describe_event(event));
    }
  }
  return true;
}

void World::handle(const Event& event) {
  switch (event.kind) {
    case EventKind::kTimer:
      core_timer(*orchs_[event.orch], event.a, event.flags != 0);
      return;
    case EventKind::kConnect: on_connect(event); return;
    case EventKind::kStreamBreak: on_stream_break(event); return;
    case EventKind::kStreamEnd: on_stream_end(event); return;
    case EventKind::kNotice: on_notice(event); return;
    case EventKind::kExecDone: on_exec_done(event); return;
    case EventKind::kUpload: on_upload(event); return;
    case EventKind::kForged: on_forged(event); return;
    case EventKind::kForgedJoin: on_forged_join(event); return;
    case EventKind::kSubmit: on_submit(event); return;
    case EventKind::kCancel:
      core_cancel(*orchs_[event.orch], event.a);
      return;
    case EventKind::kCrash: on_crash(event); return;
    case EventKind::kLeave: on_leave(event); return;
    case EventKind::kForeignTake: on_foreign_take(event); return;
    case EventKind::kForeignGive: on_foreign_give(event); return;
    case EventKind::kHeal: on_heal(); return;
    case EventKind::kQuietCheck: on_quiet_check(); return;
    case EventKind::kProbe: on_probe(event); return;
    case EventKind::kScript: return;
  }
}

void World::after_event(const Event& /*event*/) {
  std::optional<Violation> effects = std::move(effect_violation_);
  effect_violation_.reset();
  if (config_.checks == CheckLevel::kOff || failed()) return;
  for (const auto& o : orchs_) {
    if (auto v = check_core_invariants(*o->broker, o->open_jobs)) {
      fail(FailureKind::kInvariant, v->rule, orch_prefix(o->index) + v->message);
      return;
    }
  }
  if (effects) {
    fail(FailureKind::kInvariant, effects->rule, effects->message);
    return;
  }
  for (const auto& o : orchs_) {
    if (o->model) {
      if (auto v = check_against_model(*o->broker, *o->model, *o->clock)) {
        fail(FailureKind::kInvariant, v->rule, orch_prefix(o->index) + v->message);
        return;
      }
    }
  }
}

}  // namespace aipool::sim
