// The world's set-up (world.h): the keys, the orchestrators (each a real Broker
// on its own SimClock and SimTransport, with its reference model), and for a
// generated run the workers, their first connects, churn and foreign load, the
// first submit, the heal and the liveness bound. Also the helpers that make and
// time events from the fault generator.
#include <algorithm>
#include <numeric>

#include "sim/world.h"

namespace aipool::sim {

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

namespace {

// LIST-3: key k's price; LIST-4: with model_timeouts, every other listed key has
// timeouts of its own, shorter than the core's (never below shortest_timeout).
ModelOffer listed_offer(const WorldConfig& config, const Key& key, std::uint32_t k) {
  ModelOffer offer{key, static_cast<double>(k + 1) / 4, 1 + k, "USD"};
  if (config.model_timeouts && k % 2 == 0) {
    offer.attempt_timeout = std::max(config.attempt_timeout * (k + 1) / (k + 2), shortest_timeout(config.attempt_timeout));
    offer.job_deadline = std::max(config.job_deadline * (k + 2) / (k + 3), shortest_timeout(config.job_deadline));
  }
  return offer;
}

}  // namespace

void World::make_orchestrators() {
  // TASK-1: each orchestrator's TaskID key, from a generator seeded apart from the
  // root so that the other streams draw what they drew before keys existed.
  Prng id_keys(config_.seed ^ 0x5441534B49444B59ULL);
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(config_.orchestrators, 1); ++i) {
    auto o = std::make_unique<Orchestrator>();
    o->index = static_cast<std::uint8_t>(i);
    o->task_ids = IdCipher(draw_id_key(id_keys));
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
      for (std::uint32_t k : o->listed) offers.push_back(listed_offer(config_, keys_.key(k), k));
      broker_config.model_list = offers;
    }
    broker_config.secret = secret_;
    broker_config.task_id_key = o->task_ids.key();
    broker_config.attempt_timeout = config_.attempt_timeout;
    broker_config.job_deadline = config_.job_deadline;
    broker_config.pipeline_attempt_timeout = config_.pipeline_attempt_timeout;
    broker_config.pipeline_job_deadline = config_.pipeline_job_deadline;
    broker_config.slot_reclaim = config_.slot_reclaim;
    broker_config.queue_limit = config_.queue_limit;
    broker_config.quarantine =
        QuarantineConfig{config_.quarantine_after, config_.quarantine_cooldown, config_.quarantine_max_cooldown};
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
      model.pipeline_attempt_timeout = config_.pipeline_attempt_timeout;
      model.pipeline_job_deadline = config_.pipeline_job_deadline;
      if (broker_config.model_list) {
        for (const ModelOffer& offer : *broker_config.model_list) {
          model.model_timeouts[offer.key] = {offer.attempt_timeout, offer.job_deadline};
        }
      }
      model.quarantine_after = config_.quarantine_after;
      model.quarantine_cooldown = config_.quarantine_cooldown;
      model.quarantine_max_cooldown = config_.quarantine_max_cooldown;
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
  hang_max_ = config_.attempt_timeout + 2 * config_.slot_reclaim;  // draw_profile reads it
  for (std::uint32_t w = 0; w < config_.workers; ++w) add_generated_worker(setup, w);
  if (config_.jobs > 0) {
    Event submit = at_delay(draw(config_.submit_interval_max), EventKind::kSubmit);
    submit.flags = kSubmitChained;
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

// Worker `w`, drawn from `setup`: its keys, capacities and profile; its first
// connect to each orchestrator it serves, its first churn and foreign load.
void World::add_generated_worker(Prng& setup, std::uint32_t w) {
  const std::uint32_t key_count = config_.keys;
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
    schedule_connect(w, static_cast<std::uint8_t>(o), draw(config_.join_spread));
  }
  if (config_.session_max > 0) schedule_churn(w, config_.join_spread + 1 + draw(config_.session_max));
  if (config_.foreign_interval_max > 0) {
    Event take = at_delay(1 + draw(config_.foreign_interval_max), EventKind::kForeignTake);
    take.worker = w;
    take.c = chosen[static_cast<std::size_t>(setup.uniform(chosen.size()))];
    schedule(take);
  }
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

}  // namespace aipool::sim
