// The world's set-up, its run loop and the handlers of generated events.
// The calls into the core and their checks are in world_core.cc; the scripted
// control of scenarios in world_script.cc; the descriptions in trace.cc.
#include "sim/world.h"

#include <algorithm>
#include <numeric>

namespace aipool::sim {
namespace {

constexpr std::uint16_t kChained = 1;  // kSubmit: schedules the next submit

}  // namespace

const char* failure_kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone: return "none";
    case FailureKind::kInvariant: return "invariant broken";
    case FailureKind::kLiveness: return "liveness failure";
    case FailureKind::kNondeterminism: return "nondeterminism";
  }
  return "?";
}

World::World(const WorldConfig& config, bool scripted)
    : config_(config),
      scripted_(scripted),
      checking_(config.checks != CheckLevel::kOff || scripted),
      world_prng_(config.seed),
      load_prng_(world_prng_.split()),
      fault_prng_(world_prng_.split()),
      upload_prng_(world_prng_.split()),
      reject_prng_(config.seed ^ 0x52454a4543540000ULL) {
  shared_payload_ = std::make_shared<const std::string>("{}");
  shared_result_ = std::make_shared<const ResultBody>(
      ResultBody{std::make_shared<const std::string>("{}"), {}});
  queue_.reserve(1024);
  if (!scripted_) {
    for (std::uint32_t i = 0; i < config_.keys; ++i) {
      keys_.add(Key{static_cast<Pipeline>(i % kPipelineCount), "m" + std::to_string(i)});
    }
    nobody_key_ = keys_.add(Key{Pipeline::kUpscale, "nobody"});
  }
  make_orchestrators();
  if (!scripted_) make_generated_world();
}

World::~World() = default;

void World::make_orchestrators() {
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(config_.orchestrators, 1); ++i) {
    auto o = std::make_unique<Orchestrator>();
    o->index = static_cast<std::uint8_t>(i);
    o->clock = std::make_unique<SimClock>(now_, queue_, o->index, world_prng_.split());
    o->clock->set_stale_ratio(scripted_ ? Ratio{0, 1} : config_.stale_timer);
    o->transport =
        std::make_unique<SimTransport>(now_, queue_, keys_, o->index, world_prng_.split(), *this);
    o->transport->set_faults(scripted_ ? TransportFaults{} : config_.transport);
    BrokerConfig broker_config;
    if (config_.model_list && !scripted_) {
      // A non-empty random part of the workers' keys, and one key no worker has.
      Prng lists = world_prng_.split();
      std::vector<ModelOffer> offers;
      for (std::uint32_t k = 0; k < config_.keys; ++k) {
        if (k == 0 || lists.one_in(2)) o->listed.push_back(k);
      }
      o->listed.push_back(keys_.add(Key{Pipeline::kAudioToText, "listed-only"}));
      for (std::uint32_t k : o->listed) {
        offers.push_back(ModelOffer{keys_.key(k), static_cast<double>(k + 1) / 4, 1 + k, "USD"});
      }
      broker_config.model_list = offers;
    }
    broker_config.secret = secret_;
    broker_config.attempt_timeout = config_.attempt_timeout;
    broker_config.job_deadline = config_.job_deadline;
    broker_config.slot_reclaim = config_.slot_reclaim;
    broker_config.queue_limit = config_.queue_limit;
#ifdef AIPOOL_BUG_INJECTION
    broker_config.bugs_for_test = config_.bugs_for_test;
#endif
    o->broker = std::make_unique<Broker>(broker_config, *o->clock, *o->transport);
    if (checking_) {
      o->recorder = std::make_unique<AttemptRecorder>(*this, o->index);
      o->broker->set_observer(o->recorder.get());
    }
    if (config_.checks == CheckLevel::kFull) {
      ModelConfig model{secret_, config_.attempt_timeout, config_.job_deadline, config_.slot_reclaim,
                        config_.queue_limit, std::nullopt};
      if (broker_config.model_list) {
        model.model_list.emplace();
        for (const ModelOffer& offer : *broker_config.model_list) model.model_list->push_back(offer.key);
      }
      o->model = std::make_unique<ReferenceModel>(model);
    }
    orchs_.push_back(std::move(o));
  }
}

ExecProfile World::draw_profile(Prng& prng) {
  ExecProfile p;
  const std::uint64_t total =
      config_.weight_fast + config_.weight_slow + config_.weight_failing + config_.weight_hanging;
  std::uint64_t r = prng.uniform(std::max<std::uint64_t>(total, 1));
  p.latency_min = millis(50);
  p.latency_max = std::max(config_.fast_latency_max, p.latency_min);
  p.fail = config_.base_fail;
  p.duplicate_upload = config_.duplicate_upload;
  p.error = static_cast<std::uint32_t>(prng.uniform(kAtCapacityError));
  if (r < config_.weight_fast) {
    p.kind = ProfileKind::kFast;
    return p;
  }
  r -= config_.weight_fast;
  if (r < config_.weight_slow) {
    p.kind = ProfileKind::kSlow;
    p.latency_min = config_.attempt_timeout / 4;
    p.latency_max = config_.attempt_timeout * 3 / 2;
    return p;
  }
  r -= config_.weight_slow;
  if (r < config_.weight_failing) {
    p.kind = ProfileKind::kFailing;
    p.fail = config_.failing_fail;
    return p;
  }
  p.kind = ProfileKind::kHanging;
  p.hang = config_.hang;
  p.hang_min = config_.attempt_timeout;
  p.hang_max = hang_max_;
  return p;
}

void World::make_generated_world() {
  Prng setup = world_prng_.split();
  hang_max_ = config_.attempt_timeout + 2 * config_.slot_reclaim;
  const std::uint32_t key_count = config_.keys;
  for (std::uint32_t w = 0; w < config_.workers; ++w) {
    std::vector<std::uint32_t> all(key_count);
    std::iota(all.begin(), all.end(), 0U);
    setup.shuffle(all);
    const auto n = static_cast<std::size_t>(
        setup.between(1, std::max<std::uint32_t>(1, std::min(config_.keys_per_worker_max, key_count))));
    std::vector<std::uint32_t> chosen(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    std::sort(chosen.begin(), chosen.end());
    std::vector<Advert> adverts;
    for (std::uint32_t k : chosen) {
      adverts.push_back(Advert{keys_.key(k),
                               static_cast<std::uint32_t>(setup.between(1, std::max<std::uint32_t>(1, config_.capacity_max)))});
    }
    const ExecProfile profile = draw_profile(setup);
    Prng exec = world_prng_.split();
    Prng reconnect = world_prng_.split();
    workers_.push_back(std::make_unique<SimWorker>("w" + std::to_string(w + 1), adverts, chosen,
                                                   profile, exec, reconnect, orchs_.size()));
    SimWorker& worker = *workers_.back();
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      SimWorker::Session& session = worker.session(o);
      session.serves = o == 0 || setup.chance(config_.register_elsewhere);
      if (!session.serves) continue;
      Event connect = at_delay(draw(config_.join_spread), EventKind::kConnect);
      connect.worker = w;
      connect.orch = static_cast<std::uint8_t>(o);
      schedule(connect);
      session.connect_pending = true;
    }
    if (config_.session_max > 0) schedule_churn(w, config_.join_spread + 1 + draw(config_.session_max));
    if (config_.foreign_interval_max > 0) {
      Event take = at_delay(1 + draw(config_.foreign_interval_max), EventKind::kForeignTake);
      take.worker = w;
      take.c = chosen[static_cast<std::size_t>(setup.uniform(chosen.size()))];
      schedule(take);
    }
  }
  if (config_.jobs > 0) {
    Event submit = at_delay(draw(config_.submit_interval_max), EventKind::kSubmit);
    submit.flags = kChained;
    schedule(submit);
    submits_scheduled_ = 1;
  }
  schedule(at_delay(config_.duration, EventKind::kHeal));
  const Micros settle = std::max({config_.slot_reclaim, hang_max_, config_.foreign_hold_max,
                                  config_.downtime_max + kReconnectCap});
  quiet_at_ = config_.duration + config_.job_deadline + settle + seconds(60);
  hard_stop_ = quiet_at_ + kProbeGap * static_cast<Micros>(orchs_.size()) + kProbeBound +
               config_.job_deadline + config_.slot_reclaim + seconds(60);
  schedule(at_delay(quiet_at_, EventKind::kQuietCheck));
}

Event World::at_delay(Micros delay, EventKind kind) const {
  Event event;
  event.at = now_ + delay;
  event.kind = kind;
  return event;
}

Micros World::draw(Micros max) {
  return max <= 0 ? 0 : static_cast<Micros>(fault_prng_.uniform(static_cast<std::uint64_t>(max) + 1));
}

Micros World::draw_between(Micros low, Micros high) {
  return high <= low ? low : low + draw(high - low);
}

// ---------------------------------------------------------------- the loop

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
    case EventKind::kForeignGive: {
      SimWorker& worker = *workers_[event.worker];
      if (worker.alive() && worker.incarnation() == event.d) worker.release(event.c);
      return;
    }
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

// ---------------------------------------------------------------- workers

void World::on_connect(const Event& event) {
  SimWorker& worker = *workers_[event.worker];
  SimWorker::Session& session = worker.session(event.orch);
  session.connect_pending = false;
  if (!worker.alive()) {
    if (!healed_ && now_ < worker.restart_at()) return;  // still down
    worker.restart();
  }
  if (session.up) return;
  connect(event.worker, event.orch, secret_);
}

void World::connect(std::uint32_t w, std::uint8_t orch, std::string_view secret) {
  SimWorker& worker = *workers_[w];
  SimWorker::Session& session = worker.session(orch);
  Orchestrator& o = *orchs_[orch];
  const WorkerId id = next_worker_id_++;
  o.transport->open(id, w);
  // Live from the moment the core accepts it, which may dispatch to it at once.
  o.sessions[id] = SessionInfo{w, true};
  JoinRequest request{id, secret, "sim://" + worker.name(), worker.adverts()};
  std::string message;
  const JoinVerdict verdict = core_join(o, request, &message);
  session.refused = verdict != JoinVerdict::kAccepted;
  if (verdict == JoinVerdict::kNothingOffered) world_probes_.hit(Probe::kListRefused);
  if (verdict != JoinVerdict::kAccepted) {
    o.sessions[id].core_live = false;
    o.transport->forget(id);
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " join refused: " + message);
    flush_trace();
    return;
  }
  o.accepted_ids.push_back(id);
  session.id = id;
  session.up = true;
  session.started_at = now_;
  if (++session.sessions > 1) world_probes_.hit(Probe::kReregistered);
  if (tracing()) {
    std::string line = orch_prefix(o.index) + worker.name() + " joins as worker " + std::to_string(id) + " (";
    for (std::size_t i = 0; i < worker.adverts().size(); ++i) {
      if (i > 0) line += ", ";
      line += key_name(worker.adverts()[i].key) + " cap=" + std::to_string(worker.adverts()[i].capacity);
    }
    trace(line + ")");
    flush_trace();
  }
}

// The worker's end of a session goes down; the orchestrator hears of it after
// `detect` (never if `notify` is false: it finds out when a send fails).
void World::end_session_on_worker_side(std::uint32_t w, std::uint8_t orch, Micros detect) {
  SimWorker::Session& session = workers_[w]->session(orch);
  if (!session.up) return;
  session.up = false;
  Orchestrator& o = *orchs_[orch];
  o.transport->break_stream(session.id, detect, detect >= 0);
  if (o.model) o.model->set_stream_broken(session.id, true);
}

// RECON-1, RECON-2: the worker reconnects after its backoff, and the backoff
// is checked against the rule.
void World::schedule_reconnect(std::uint32_t w, std::uint8_t orch) {
  SimWorker::Session& session = workers_[w]->session(orch);
  Backoff& backoff = *session.backoff;
  const Micros session_length = now_ - session.started_at;
  backoff.session_ended(session_length);
  if (session_length >= seconds(60) && backoff.base() != millis(500)) {
    fail(FailureKind::kInvariant, "RECON-2",
         workers_[w]->name() + "'s backoff did not reset after a " + std::to_string(session_length) +
             "us session");
    return;
  }
  const Micros base = backoff.base();
  const Micros delay = backoff.next_delay();
  if (delay < base - base / 2 || delay > std::min(base + base / 2, kReconnectCap)) {
    fail(FailureKind::kInvariant, "RECON-1",
         workers_[w]->name() + " waits " + std::to_string(delay) + "us to reconnect, base " +
             std::to_string(base) + "us");
    return;
  }
  Event connect = at_delay(delay, EventKind::kConnect);
  connect.worker = w;
  connect.orch = orch;
  schedule(connect);
  session.connect_pending = true;
}

void World::schedule_churn(std::uint32_t w, Micros after) {
  const std::uint64_t total = config_.weight_crash + config_.weight_leave + config_.weight_break;
  std::uint64_t r = fault_prng_.uniform(std::max<std::uint64_t>(total, 1));
  Event event = at_delay(after, EventKind::kStreamBreak);
  event.worker = w;
  event.d = static_cast<std::uint32_t>(1 + draw(config_.downtime_max));
  if (r < config_.weight_crash) {
    event.kind = EventKind::kCrash;
  } else if (r - config_.weight_crash < config_.weight_leave) {
    event.kind = EventKind::kLeave;
  } else {
    std::vector<std::uint8_t> served;
    for (std::size_t o = 0; o < orchs_.size(); ++o) {
      if (workers_[w]->session(o).serves) served.push_back(static_cast<std::uint8_t>(o));
    }
    event.orch = served.empty() ? 0 : fault_prng_.pick(served);
  }
  schedule(event);
}

void World::on_stream_break(const Event& event) {
  if (healed_) return;
  if (config_.session_max > 0) schedule_churn(event.worker, 1 + draw(config_.session_max));
  SimWorker::Session& session = workers_[event.worker]->session(event.orch);
  if (!session.up) return;
  if (tracing()) {
    trace(orch_prefix(event.orch) + workers_[event.worker]->name() + "'s stream breaks");
  }
  end_session_on_worker_side(event.worker, event.orch,
                             orchs_[event.orch]->transport->draw_detect_delay());
  schedule_reconnect(event.worker, event.orch);
}

void World::on_crash(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (config_.session_max > 0) schedule_churn(event.worker, event.d + 1 + draw(config_.session_max));
  if (!worker.alive()) return;
  if (tracing()) trace(worker.name() + " crashes");
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    end_session_on_worker_side(event.worker, static_cast<std::uint8_t>(o),
                               orchs_[o]->transport->draw_detect_delay());
  }
  worker.crash(now_ + event.d);
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    if (!worker.session(o).serves) continue;
    Event connect = at_delay(event.d, EventKind::kConnect);
    connect.worker = event.worker;
    connect.orch = static_cast<std::uint8_t>(o);
    schedule(connect);
    worker.session(o).connect_pending = true;
  }
}

void World::on_leave(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (config_.session_max > 0) schedule_churn(event.worker, event.d + 1 + draw(config_.session_max));
  if (tracing()) trace(worker.name() + " disconnects");
  for (std::size_t o = 0; o < orchs_.size(); ++o) {
    if (!worker.session(o).up) continue;
    end_session_on_worker_side(event.worker, static_cast<std::uint8_t>(o), 0);
    Event connect = at_delay(event.d, EventKind::kConnect);
    connect.worker = event.worker;
    connect.orch = static_cast<std::uint8_t>(o);
    schedule(connect);
    worker.session(o).connect_pending = true;
  }
}

void World::on_stream_end(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  const WorkerId id = event.b;
  core_leave(o, id, "stream ended");
  o.transport->forget(id);
  auto it = o.sessions.find(id);
  if (it != o.sessions.end()) it->second.core_live = false;
}

// ---------------------------------------------------------------- executions

void World::on_notice(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  SimWorker& worker = *workers_[event.worker];
  const auto task = static_cast<TaskId>(event.a);
  if (!o.transport->is_open(event.b) || !worker.alive() || worker.profile().loses_notices) {
    if (tracing()) trace(orch_prefix(o.index) + "task " + std::to_string(task) + " to " + worker.name() + " is lost");
    return;
  }
  if (!worker.try_acquire(event.c)) {  // MULTI-2
    world_probes_.hit(Probe::kAtCapacity);
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " is at capacity for task " + std::to_string(task));
    schedule_upload(o.index, event.worker, task, event.b, false, kAtCapacityError,
                    draw(config_.upload_delay_max));
    return;
  }
  const ExecPlan plan = worker.plan(healed_);
  if (!plan.finishes) {
    manual_runs_[{o.index, task}] = {event.worker, event.c};
    if (tracing()) trace(orch_prefix(o.index) + worker.name() + " starts task " + std::to_string(task));
    return;
  }
  if (tracing()) trace(orch_prefix(o.index) + worker.name() + " starts task " + std::to_string(task));
  Event done = at_delay(plan.latency, EventKind::kExecDone);
  done.orch = o.index;
  done.worker = event.worker;
  done.a = event.a;
  done.b = event.b;
  done.c = event.c;
  done.flags = static_cast<std::uint16_t>(plan.ok ? ExecOutcome::kOk : ExecOutcome::kError);
  done.d = worker.incarnation();
  schedule(done);
}

void World::on_exec_done(const Event& event) {
  SimWorker& worker = *workers_[event.worker];
  if (worker.incarnation() != event.d) return;  // the process died meanwhile
  worker.release(event.c);
  const bool ok = event.flags == static_cast<std::uint16_t>(ExecOutcome::kOk);
  const std::uint32_t error = worker.profile().error;
  if (tracing()) {
    trace(orch_prefix(event.orch) + worker.name() + " finishes task " + std::to_string(event.a) +
          (ok ? ": ok" : std::string(": error \"") + kWorkerErrors[error] + "\""));
  }
  const Micros delay = scripted_ ? 0 : draw(config_.upload_delay_max);
  schedule_upload(event.orch, event.worker, static_cast<TaskId>(event.a), event.b, ok, error, delay);
  if (!scripted_ && worker.duplicate_upload()) {
    Event again = at_delay(delay * 2 + 1, EventKind::kUpload);
    again.orch = event.orch;
    again.worker = event.worker;
    again.a = event.a;
    again.b = event.b;
    again.c = error;
    again.flags = static_cast<std::uint16_t>((ok ? kUploadOk : 0) | kUploadDuplicate);
    schedule(again);
  }
}

void World::schedule_upload(std::uint8_t orch, std::uint32_t worker, TaskId task, WorkerId from,
                            bool ok, std::uint32_t error, Micros delay) {
  Event upload = at_delay(scripted_ ? 0 : delay, EventKind::kUpload);
  upload.orch = orch;
  upload.worker = worker;
  upload.a = static_cast<std::uint64_t>(task);
  upload.b = from;
  upload.c = error;
  upload.flags = ok ? kUploadOk : 0;
  if (error == kAtCapacityError) upload.flags |= kUploadAtCapacity;
  if (!scripted_ && upload_prng_.chance(config_.anonymous_upload)) upload.flags |= kUploadAnonymous;
  schedule(upload);
}

void World::on_upload(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  Report report;
  report.credentials = secret_;
  report.task = static_cast<TaskId>(event.a);
  if ((event.flags & kUploadAnonymous) == 0) report.from = event.b;
  report.ok = (event.flags & kUploadOk) != 0;
  if (!report.ok) report.error = kWorkerErrors[event.c];
  if (!report.ok && (event.flags & kUploadAtCapacity) == 0 && !scripted_) {
    report.rejected_input = reject_prng_.chance(config_.rejected_input);  // RETRY-6
  }
  if (report.ok) {
    report.result = checking_ ? std::make_shared<const ResultBody>(ResultBody{
                                    std::make_shared<const std::string>("task " + std::to_string(report.task)), {}})
                              : shared_result_;
  }
  const bool duplicate = (event.flags & kUploadDuplicate) != 0;
  const ReportVerdict verdict = core_report(o, report, false);
  if (tracing()) {
    trace(orch_prefix(o.index) + workers_[event.worker]->name() + " posts task " +
          std::to_string(report.task) +
          (report.ok ? " ok" : " error \"" + report.error + "\"") +
          (report.rejected_input ? " rejecting the input" : "") + (duplicate ? " again" : "") +
          ": " + std::string(report_verdict_name(verdict)));
    flush_trace();
  }
  if (duplicate && verdict == ReportVerdict::kEnded) world_probes_.hit(Probe::kDuplicateRefused);
  if (report.rejected_input && verdict == ReportVerdict::kAccepted) world_probes_.hit(Probe::kRejectedInput);
}

// ---------------------------------------------------------------- clients and forgers

void World::on_submit(const Event& event) {
  if (healed_) return;
  Orchestrator& o = *orchs_[event.orch];
  const std::uint32_t key = load_prng_.chance(config_.unknown_key)
                                ? nobody_key_
                                : static_cast<std::uint32_t>(load_prng_.uniform(std::max<std::uint32_t>(config_.keys, 1)));
  const JobId id = core_submit(o, key, false, "");
  if (load_prng_.chance(config_.cancel)) {
    Event cancel = at_delay(static_cast<Micros>(load_prng_.uniform(static_cast<std::uint64_t>(config_.cancel_delay_max) + 1)),
                            EventKind::kCancel);
    cancel.orch = o.index;
    cancel.a = id;
    schedule(cancel);
  }
  if (fault_prng_.chance(config_.forged_upload)) {
    Event forged = at_delay(draw(seconds(5)), EventKind::kForged);
    forged.orch = static_cast<std::uint8_t>(fault_prng_.uniform(orchs_.size()));
    forged.flags = static_cast<std::uint16_t>(fault_prng_.uniform(3));
    schedule(forged);
  }
  if (fault_prng_.chance(config_.forged_join) && !workers_.empty()) {
    Event forged = at_delay(draw(seconds(5)), EventKind::kForgedJoin);
    forged.orch = static_cast<std::uint8_t>(fault_prng_.uniform(orchs_.size()));
    const std::uint16_t kinds[] = {static_cast<std::uint16_t>(ForgeKind::kBadSecret),
                                   static_cast<std::uint16_t>(ForgeKind::kReusedId),
                                   static_cast<std::uint16_t>(ForgeKind::kNothing)};
    forged.flags = kinds[fault_prng_.uniform(3)];
    forged.worker = static_cast<std::uint32_t>(fault_prng_.uniform(workers_.size()));
    schedule(forged);
  }
  if ((event.flags & kChained) == 0) return;
  auto submit_at = [this](Micros delay, std::uint16_t flags) {
    Event next = at_delay(delay, EventKind::kSubmit);
    next.orch = static_cast<std::uint8_t>(load_prng_.uniform(orchs_.size()));
    next.flags = flags;
    schedule(next);
    ++submits_scheduled_;
  };
  if (load_prng_.chance(config_.burst)) {
    const std::uint64_t n = load_prng_.between(1, std::max<std::uint32_t>(config_.burst_max, 1));
    for (std::uint64_t i = 0; i < n && submits_scheduled_ < config_.jobs; ++i) submit_at(0, 0);
  }
  if (submits_scheduled_ < config_.jobs) {
    submit_at(1 + static_cast<Micros>(load_prng_.uniform(static_cast<std::uint64_t>(config_.submit_interval_max) + 1)),
              kChained);
  }
}

void World::on_forged(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  const TaskId last = o.broker->last_task_id();
  Report report;
  report.credentials = secret_;
  report.ok = true;
  report.result = shared_result_;
  const auto any_task = [&]() -> TaskId {
    return last > 0 ? static_cast<TaskId>(fault_prng_.between(1, static_cast<std::uint64_t>(last))) : 1;
  };
  std::string what;
  switch (static_cast<ForgeKind>(event.flags)) {
    case ForgeKind::kBadSecret:
      report.credentials = "not-the-secret";
      report.task = any_task();
      what = "with a wrong secret";
      break;
    case ForgeKind::kUnknownTask:
      report.task = fault_prng_.one_in(4) ? -static_cast<TaskId>(fault_prng_.uniform(3))
                                          : last + static_cast<TaskId>(fault_prng_.between(1, 1000));
      what = "for a task never issued";
      break;
    default: {
      report.task = any_task();
      const std::optional<TaskView> task = o.broker->task(report.task);
      report.from = (task ? task->worker : 0) + 1 + fault_prng_.uniform(5);
      what = "from the wrong worker";
      break;
    }
  }
  const ReportVerdict verdict = core_report(o, report, true);
  if (tracing()) {
    trace(orch_prefix(o.index) + "forged post of task " + std::to_string(report.task) + " " + what +
          ": " + std::string(report_verdict_name(verdict)));
  }
  world_probes_.hit(Probe::kForgedRefused);
}

void World::on_forged_join(const Event& event) {
  Orchestrator& o = *orchs_[event.orch];
  JoinRequest request;
  request.secret = secret_;
  request.address = "sim://forger";
  request.adverts = workers_[event.worker]->adverts();
  switch (static_cast<ForgeKind>(event.flags)) {
    case ForgeKind::kBadSecret:
      request.id = next_worker_id_++;
      request.secret = "not-the-secret";
      break;
    case ForgeKind::kReusedId:
      if (o.accepted_ids.empty()) return;
      request.id = fault_prng_.pick(o.accepted_ids);
      break;
    default:
      request.id = next_worker_id_++;
      for (Advert& advert : request.adverts) advert.capacity = 0;
      break;
  }
  std::string message;
  const JoinVerdict verdict = core_join(o, request, &message);
  if (tracing()) trace(orch_prefix(o.index) + "forged join as worker " + std::to_string(request.id) + ": " + message);
  if (verdict == JoinVerdict::kAccepted) {
    fail(FailureKind::kInvariant, "CONN-1", "a forged join was accepted as worker " + std::to_string(request.id));
    return;
  }
  world_probes_.hit(Probe::kForgedRefused);
}

void World::on_foreign_take(const Event& event) {
  if (healed_) return;
  SimWorker& worker = *workers_[event.worker];
  if (worker.alive() && worker.try_acquire(event.c)) {
    Event give = at_delay(draw_between(seconds(1), config_.foreign_hold_max), EventKind::kForeignGive);
    give.worker = event.worker;
    give.c = event.c;
    give.d = worker.incarnation();
    schedule(give);
  }
  Event next = at_delay(1 + draw(config_.foreign_interval_max), EventKind::kForeignTake);
  next.worker = event.worker;
  next.c = fault_prng_.pick(worker.key_indices());
  schedule(next);
}

}  // namespace aipool::sim
