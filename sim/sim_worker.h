// File: sim_worker.h
// A simulated GPU worker process: what it advertises, its own slots shared by
// every orchestrator it serves (MULTI-2, like the worker's SlotGate, but by key
// index so that a busy simulation does not compare model names), its executor's
// behaviour, and one session per orchestrator it registers with. A new session
// (after a crash, a leave or a broken stream) gets a new WorkerId (CONN-3).
//
// The executor is a schedule, not a thread: plan() draws how a job will go
// (latency, success, worker error, or a hang that ends very late) and the world
// turns that into a kExecDone event. Profiles: fast, slow (often past the attempt
// timeout, so its results come late), failing (worker errors), hanging (finishes
// long after the attempt timeout, sometimes after the slot reclaim), manual
// (scenario only: never finishes; results come from the script).
//
// Contract: single-threaded; owned by the World and never moved (its sessions'
// Backoff holds a reference to its reconnect Prng).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backoff.h"
#include "core/broker.h"
#include "sim/prng.h"

namespace aipool::sim {

enum class ProfileKind : std::uint8_t { kFast, kSlow, kFailing, kHanging, kManual };
const char* profile_kind_name(ProfileKind kind);

struct ExecProfile {
  ProfileKind kind = ProfileKind::kFast;
  Micros latency_min = kMicrosPerSecond / 2;
  Micros latency_max = 2 * kMicrosPerSecond;
  Ratio fail{0, 1};
  Ratio hang{0, 1};
  Micros hang_min = 0;
  Micros hang_max = 0;
  Ratio duplicate_upload{0, 1};
  std::uint32_t error = 0;     // index into kWorkerErrors
  bool loses_notices = false;  // scenario only: every job notice is lost on the way
};

// The worker error texts a simulated executor reports.
inline constexpr const char* kWorkerErrors[] = {
    "CUDA out of memory", "model failed to load", "bad input image", "pipeline crashed",
    "worker at capacity",  // SlotGate::kAtCapacity, MULTI-2
};
inline constexpr std::uint32_t kAtCapacityError = 4;

struct ExecPlan {
  bool finishes = true;  // false: manual; the scenario posts the result
  bool ok = true;
  Micros latency = 0;
};

class alignas(64) SimWorker {
 public:
  struct Session {
    WorkerId id = 0;        // current session's id; 0 when none
    bool up = false;        // accepted by the orchestrator and not ended on the worker's side
    bool serves = false;    // this worker registers with that orchestrator at all
    bool connect_pending = false;
    bool refused = false;   // its last join was refused (e.g. nothing in the model list)
    Micros started_at = 0;
    std::unique_ptr<Backoff> backoff;  // RECON-1
    std::uint32_t sessions = 0;        // how many accepted sessions so far
  };

  SimWorker(std::string name, std::vector<Advert> adverts, std::vector<std::uint32_t> key_indices,
            ExecProfile profile, Prng exec_prng, Prng reconnect_prng, std::size_t orchestrators)
      : exec_prng_(exec_prng),
        profile_(profile),
        name_(std::move(name)),
        adverts_(std::move(adverts)),
        key_indices_(std::move(key_indices)),
        reconnect_prng_(reconnect_prng),
        sessions_(orchestrators) {
    for (Session& session : sessions_) session.backoff = std::make_unique<Backoff>(reconnect_prng_);
    reset_slots();
  }
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Advert>& adverts() const { return adverts_; }
  // New adverts mean a new process: running executions are forgotten.
  void replace_adverts(std::vector<Advert> adverts, std::vector<std::uint32_t> key_indices) {
    adverts_ = std::move(adverts);
    key_indices_ = std::move(key_indices);
    reset_slots();
    ++incarnation_;
  }
  const std::vector<std::uint32_t>& key_indices() const { return key_indices_; }
  const ExecProfile& profile() const { return profile_; }
  void set_profile(const ExecProfile& profile) { profile_ = profile; }

  // MULTI-2: one capacity per key for all orchestrators. False when the key is
  // full (the worker answers "worker at capacity") or not served.
  bool try_acquire(std::uint32_t key) {
    Slots* all = slots();
    for (std::uint32_t i = 0; i < slot_count_; ++i) {
      Slots& slots = all[i];
      if (slots.key != key) continue;
      if (slots.in_use >= slots.capacity) return false;
      ++slots.in_use;
      return true;
    }
    return false;
  }
  void release(std::uint32_t key) {
    Slots* all = slots();
    for (std::uint32_t i = 0; i < slot_count_; ++i) {
      Slots& slots = all[i];
      if (slots.key == key && slots.in_use > 0) {
        --slots.in_use;
        return;
      }
    }
  }
  Session& session(std::size_t orch) { return sessions_[orch]; }
  const Session& session(std::size_t orch) const { return sessions_[orch]; }
  std::size_t orchestrators() const { return sessions_.size(); }

  bool alive() const { return alive_; }
  std::uint32_t incarnation() const { return incarnation_; }
  Micros restart_at() const { return restart_at_; }
  // The process dies until `restart_at`: its executions are lost (their events
  // carry the old incarnation) and every session is down.
  void crash(Micros restart_at) {
    alive_ = false;
    restart_at_ = restart_at;
    ++incarnation_;
    for (Session& session : sessions_) session.up = false;
  }
  // The process starts again with an empty gate.
  void restart() {
    alive_ = true;
    reset_slots();
    for (Session& session : sessions_) session.backoff = std::make_unique<Backoff>(reconnect_prng_);
  }

  // How the next job will go. `healed`: the liveness phase, where every job
  // succeeds quickly.
  ExecPlan plan(bool healed) {
    ExecPlan plan;
    if (profile_.kind == ProfileKind::kManual) {
      plan.finishes = false;
      return plan;
    }
    if (healed) {
      plan.latency = between(kMicrosPerSecond / 10, 2 * kMicrosPerSecond);
      return plan;
    }
    if (exec_prng_.chance(profile_.hang)) {
      plan.latency = between(profile_.hang_min, profile_.hang_max);
      return plan;
    }
    plan.ok = !exec_prng_.chance(profile_.fail);
    plan.latency = between(profile_.latency_min, profile_.latency_max);
    return plan;
  }
  bool duplicate_upload() { return exec_prng_.chance(profile_.duplicate_upload); }
  Prng& exec_prng() { return exec_prng_; }

 private:
  // One capacity per key, however many orchestrators (the hot data of a notice).
  struct Slots {
    std::uint32_t key = 0;
    std::uint32_t capacity = 0;
    std::uint32_t in_use = 0;
  };
  void reset_slots() {
    more_slots_.clear();
    slot_count_ = static_cast<std::uint32_t>(adverts_.size());
    if (slot_count_ > kInlineSlots) more_slots_.resize(slot_count_);
    Slots* all = slots();
    for (std::size_t i = 0; i < adverts_.size(); ++i) all[i] = Slots{key_indices_[i], adverts_[i].capacity, 0};
  }
  Slots* slots() { return slot_count_ <= kInlineSlots ? inline_slots_.data() : more_slots_.data(); }
  Micros between(Micros low, Micros high) {
    if (high <= low) return low;
    return low + static_cast<Micros>(exec_prng_.uniform(static_cast<std::uint64_t>(high - low) + 1));
  }

  // Hot: what a job notice and an execution's end touch, together in memory
  // from the first cache line on (the class is aligned to one): the slots of up
  // to three keys in the object itself, then the executor's generator and profile.
  static constexpr std::uint32_t kInlineSlots = 3;
  bool alive_ = true;
  std::uint32_t incarnation_ = 0;
  std::uint32_t slot_count_ = 0;
  std::array<Slots, kInlineSlots> inline_slots_{};  // when slot_count_ <= kInlineSlots
  Prng exec_prng_;
  ExecProfile profile_;
  std::vector<Slots> more_slots_;  // all of them, when more
  // Cold.
  std::string name_;
  std::vector<Advert> adverts_;
  std::vector<std::uint32_t> key_indices_;
  Prng reconnect_prng_;
  std::vector<Session> sessions_;
  Micros restart_at_ = 0;
};

}  // namespace aipool::sim
