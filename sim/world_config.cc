#include "sim/world_config.h"

namespace aipool::sim {
namespace {

std::string ratio_text(Ratio r) { return std::to_string(r.num) + "/" + std::to_string(r.den); }

std::string time_text(Micros us) {
  if (us % kMicrosPerSecond == 0) return std::to_string(us / kMicrosPerSecond) + "s";
  return std::to_string(us / 1000) + "ms";
}

// At least one of the weights is above 0.
void ensure_some(std::uint32_t& a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
  if (a + b + c + d == 0) a = 1;
}

}  // namespace

// Append new draws at the end, never reorder or change earlier ones: a seed's
// world must stay the same so that regression seeds keep meaning what they say.
WorldConfig WorldConfig::swarm_from_seed(std::uint64_t seed) {
  // A generator of its own, so the world's other streams stay as they are.
  Prng p(seed ^ 0x73776172'6d5f6366ULL);  // "swarm_cf"
  WorldConfig c;
  c.seed = seed;
  c.swarm = true;
  c.orchestrators = p.one_in(4) ? static_cast<std::uint32_t>(p.between(2, 3)) : 1;
  c.workers = static_cast<std::uint32_t>(p.one_in(16)  ? p.between(41, 160)
                                         : p.one_in(8) ? p.between(13, 40)
                                                       : p.between(1, 12));
  c.keys = static_cast<std::uint32_t>(p.between(1, 4));
  c.keys_per_worker_max = static_cast<std::uint32_t>(p.between(1, c.keys));
  c.capacity_max = static_cast<std::uint32_t>(p.between(1, 4));
  c.register_elsewhere = Ratio{static_cast<std::uint32_t>(p.between(1, 4)), 4};

  c.attempt_timeout = seconds(static_cast<std::int64_t>(p.between(5, 60)));
  c.job_deadline = c.attempt_timeout * static_cast<std::int64_t>(p.between(1, 5)) +
                   seconds(static_cast<std::int64_t>(p.between(0, 60)));
  c.slot_reclaim = seconds(static_cast<std::int64_t>(p.between(5, 120)));
  c.queue_limit = static_cast<std::uint32_t>(p.one_in(3) ? p.between(1, 4) : p.between(5, 64));

  c.jobs = p.between(30, 500);
  c.duration = seconds(static_cast<std::int64_t>(p.between(120, 1200)));
  c.submit_interval_max = millis(static_cast<std::int64_t>(p.between(20, 6000)));
  c.burst = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 20};
  c.burst_max = static_cast<std::uint32_t>(p.between(2, 30));
  c.cancel = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 20};
  c.cancel_delay_max = seconds(static_cast<std::int64_t>(p.between(1, 90)));
  c.unknown_key = Ratio{static_cast<std::uint32_t>(p.between(0, 2)), 50};

  c.weight_fast = static_cast<std::uint32_t>(p.between(0, 8));
  c.weight_slow = static_cast<std::uint32_t>(p.between(0, 3));
  c.weight_failing = static_cast<std::uint32_t>(p.between(0, 3));
  c.weight_hanging = static_cast<std::uint32_t>(p.between(0, 3));
  ensure_some(c.weight_fast, c.weight_slow, c.weight_failing, c.weight_hanging);
  c.fast_latency_max = millis(static_cast<std::int64_t>(p.between(100, 8000)));
  c.base_fail = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 50};
  c.failing_fail = Ratio{static_cast<std::uint32_t>(p.between(1, 4)), 4};
  c.hang = Ratio{static_cast<std::uint32_t>(p.between(1, 4)), 8};
  c.duplicate_upload = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 20};

  c.session_max = p.one_in(5) ? 0 : seconds(static_cast<std::int64_t>(p.between(20, 900)));
  c.weight_crash = static_cast<std::uint32_t>(p.between(0, 4));
  c.weight_leave = static_cast<std::uint32_t>(p.between(0, 4));
  c.weight_break = static_cast<std::uint32_t>(p.between(0, 4));
  ensure_some(c.weight_break, c.weight_crash, c.weight_leave, 0);
  c.downtime_max = seconds(static_cast<std::int64_t>(p.between(1, 120)));
  c.join_spread = seconds(static_cast<std::int64_t>(p.between(0, 30)));

  c.transport.notice_delay_max = millis(static_cast<std::int64_t>(p.between(0, 2000)));
  c.transport.notice_drop = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 100};
  c.transport.end_detect_max = seconds(static_cast<std::int64_t>(p.between(0, 20)));
  c.upload_delay_max = millis(static_cast<std::int64_t>(p.between(0, 2000)));
  c.anonymous_upload = Ratio{static_cast<std::uint32_t>(p.between(0, 4)), 4};

  c.forged_upload = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 10};
  c.forged_join = Ratio{static_cast<std::uint32_t>(p.between(0, 2)), 50};
  c.foreign_interval_max = p.one_in(2) ? 0 : seconds(static_cast<std::int64_t>(p.between(10, 400)));
  c.foreign_hold_max = seconds(static_cast<std::int64_t>(p.between(1, 120)));
  c.stale_timer = Ratio{static_cast<std::uint32_t>(p.between(0, 3)), 10};
  c.model_list = p.one_in(4);
  draw_quarantine_and_timeouts(p, c);
  return c;
}

// QUAR-2 and TIME-5 (drawn after everything else, so that older draws stay as they were).
void WorldConfig::draw_quarantine_and_timeouts(Prng& p, WorldConfig& c) {
  // QUAR-2: quarantine, sometimes off; short cool-downs so that probes happen.
  c.quarantine_after = p.one_in(8) ? 0 : static_cast<std::uint32_t>(p.between(1, 4));
  c.quarantine_cooldown = seconds(static_cast<std::int64_t>(p.between(2, 90)));
  c.quarantine_max_cooldown = c.quarantine_cooldown << p.between(0, 5);
  // TIME-5: some pipelines get shorter timeouts of their own; some listed keys too.
  for (int i = 0; i < kPipelineCount; ++i) {
    const auto at = static_cast<std::size_t>(i);
    // Between shortest_timeout(t) and t: never so short that a healed world's job misses it.
    const auto draw = [&p](Micros t) {
      const Micros low = shortest_timeout(t);
      return low + static_cast<Micros>(p.uniform(static_cast<std::uint64_t>(t - low) + 1));
    };
    if (p.one_in(3)) c.pipeline_attempt_timeout[at] = draw(c.attempt_timeout);
    if (p.one_in(3)) c.pipeline_job_deadline[at] = draw(c.job_deadline);
  }
  c.model_timeouts = p.one_in(2);
}

std::string WorldConfig::describe() const {
  std::string s;
  s += "world: orchestrators=" + std::to_string(orchestrators) +
       " workers=" + std::to_string(workers) + " keys=" + std::to_string(keys) +
       " keys_per_worker_max=" + std::to_string(keys_per_worker_max) +
       " capacity_max=" + std::to_string(capacity_max) +
       " register_elsewhere=" + ratio_text(register_elsewhere) + "\n";
  s += "core: attempt_timeout=" + time_text(attempt_timeout) +
       " job_deadline=" + time_text(job_deadline) + " slot_reclaim=" + time_text(slot_reclaim) +
       " queue_limit=" + std::to_string(queue_limit) + "\n";
  s += "load: jobs=" + std::to_string(jobs) + " duration=" + time_text(duration) +
       " submit_interval_max=" + time_text(submit_interval_max) + " burst=" + ratio_text(burst) +
       " burst_max=" + std::to_string(burst_max) + " cancel=" + ratio_text(cancel) +
       " cancel_delay_max=" + time_text(cancel_delay_max) +
       " unknown_key=" + ratio_text(unknown_key) + "\n";
  s += "executors: fast:slow:failing:hanging=" + std::to_string(weight_fast) + ":" +
       std::to_string(weight_slow) + ":" + std::to_string(weight_failing) + ":" +
       std::to_string(weight_hanging) + " fast_latency_max=" + time_text(fast_latency_max) +
       " base_fail=" + ratio_text(base_fail) + " failing_fail=" + ratio_text(failing_fail) +
       " hang=" + ratio_text(hang) + " duplicate_upload=" + ratio_text(duplicate_upload) +
       " rejected_input=" + ratio_text(rejected_input) + "\n";
  s += "churn: session_max=" + time_text(session_max) + " crash:leave:break=" +
       std::to_string(weight_crash) + ":" + std::to_string(weight_leave) + ":" +
       std::to_string(weight_break) + " downtime_max=" + time_text(downtime_max) +
       " join_spread=" + time_text(join_spread) + "\n";
  s += "transport: notice_delay_max=" + time_text(transport.notice_delay_max) +
       " notice_drop=" + ratio_text(transport.notice_drop) +
       " end_detect_max=" + time_text(transport.end_detect_max) +
       " upload_delay_max=" + time_text(upload_delay_max) +
       " anonymous_upload=" + ratio_text(anonymous_upload) + "\n";
  s += "faults: forged_upload=" + ratio_text(forged_upload) +
       " forged_join=" + ratio_text(forged_join) +
       " foreign_interval_max=" + time_text(foreign_interval_max) +
       " foreign_hold_max=" + time_text(foreign_hold_max) +
       " stale_timer=" + ratio_text(stale_timer) + " model_list=" + (model_list ? "yes" : "no") + "\n";
  s += "quarantine: after=" + std::to_string(quarantine_after) + " cooldown=" + time_text(quarantine_cooldown) +
       " max_cooldown=" + time_text(quarantine_max_cooldown) + "\n";
  s += "timeouts per pipeline (attempt/deadline, 0: the core's):";
  for (int i = 0; i < kPipelineCount; ++i) {
    const auto at = static_cast<std::size_t>(i);
    s += " " + std::string(pipeline_name(static_cast<Pipeline>(i))) + "=" + time_text(pipeline_attempt_timeout[at]) +
         "/" + time_text(pipeline_job_deadline[at]);
  }
  s += std::string(" model_timeouts=") + (model_timeouts ? "yes" : "no");
  return s;
}

}  // namespace aipool::sim
