// Round-robin selection: the RotationQueue against a literal SEL-2 queue, the
// Broker's choices against a naive reference, SEL-3's fairness bound and SEL-5's
// cost (spec/core.md).
#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "core/rotation_queue.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// One dispatch of one key, as the reference saw it just before choosing.
struct TracedDispatch {
  std::set<WorkerId> eligible;  // free slot and not yet tried for the job
  WorkerId chosen = 0;
};

// SEL-3's bound over every run of consecutive dispatches: for any two workers
// eligible at every dispatch of the run, their attempt counts differ by at most one.
void expect_sel3_bound(const std::vector<TracedDispatch>& trace) {
  std::set<WorkerId> everyone;
  for (const TracedDispatch& d : trace) everyone.insert(d.eligible.begin(), d.eligible.end());
  const std::vector<WorkerId> ids(everyone.begin(), everyone.end());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    for (std::size_t j = i + 1; j < ids.size(); ++j) {
      const WorkerId a = ids[i];
      const WorkerId b = ids[j];
      // Within a maximal run where both are eligible, the difference of any window is
      // a difference of two prefix sums, so max(prefix) - min(prefix) must stay <= 1.
      bool in_run = false;
      long prefix = 0, lo = 0, hi = 0;
      for (std::size_t k = 0; k < trace.size(); ++k) {
        const TracedDispatch& d = trace[k];
        if (!d.eligible.contains(a) || !d.eligible.contains(b)) {
          in_run = false;
          continue;
        }
        if (!in_run) {
          in_run = true;
          prefix = lo = hi = 0;
        }
        if (d.chosen == a) ++prefix;
        if (d.chosen == b) --prefix;
        lo = std::min(lo, prefix);
        hi = std::max(hi, prefix);
        ASSERT_LE(hi - lo, 1) << "workers " << a << " and " << b << " drift apart at dispatch " << k;
      }
    }
  }
}

// ---------------------------------------------------------------- SEL-3

// SEL-3: with equal capacities and every worker always free, 600 dispatches interleaved with completions in a scripted order rotate strictly (dispatch i goes to worker i mod 5) and the per-worker counts never differ by more than one.
TEST(Sel3, EqualCapacitiesRotateStrictly) {
  Harness h;
  const Key k = key_of();
  constexpr WorkerId kWorkers = 5;
  h.join_n(1, kWorkers, k, 4);
  std::map<WorkerId, int> counts;
  std::vector<TaskId> open;
  const std::array<std::size_t, 5> pattern = {2, 0, 1, 1, 0};
  for (int i = 0; i < 600; ++i) {
    h.submit(k);
    ASSERT_EQ(h.transport.sends.size(), static_cast<std::size_t>(i + 1));
    const SentNotice& sent = h.transport.last();
    EXPECT_EQ(sent.worker, static_cast<WorkerId>(i % kWorkers) + 1) << "dispatch " << i;
    ++counts[sent.worker];
    int lo = 1 << 30, hi = 0;
    for (WorkerId w = 1; w <= kWorkers; ++w) {
      lo = std::min(lo, counts[w]);
      hi = std::max(hi, counts[w]);
    }
    ASSERT_LE(hi - lo, 1) << "after dispatch " << i;
    open.push_back(h.number_of(sent.task));
    if (open.size() == 3) {  // at most 3 in flight: each worker keeps a free slot
      const std::size_t victim = pattern[static_cast<std::size_t>(i) % pattern.size()];
      ASSERT_EQ(h.ok(open[victim]), ReportVerdict::kAccepted);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(victim));
    }
  }
  for (WorkerId w = 1; w <= kWorkers; ++w) EXPECT_EQ(counts[w], 120) << w;
}

// SEL-3: with equal capacities small enough that workers fill up (4 workers x 2 slots, up to 7 jobs in flight, scripted completions), any two workers eligible at every dispatch of a run get attempt counts within one of each other over that run.
TEST(Sel3, EqualCapacitiesWithFullWorkersStayWithinOne) {
  Harness h;
  const Key k = key_of();
  constexpr WorkerId kWorkers = 4;
  constexpr std::uint32_t kCapacity = 2;
  h.join_n(1, kWorkers, k, kCapacity);
  std::map<WorkerId, std::uint32_t> in_use;
  std::vector<TaskId> open;
  std::vector<TracedDispatch> trace;
  std::size_t seen = 0;
  const auto record_sends = [&]() {
    for (; seen < h.transport.sends.size(); ++seen) {
      TracedDispatch d;
      for (WorkerId w = 1; w <= kWorkers; ++w) {
        if (in_use[w] < kCapacity) d.eligible.insert(w);
      }
      d.chosen = h.transport.sends[seen].worker;
      ASSERT_TRUE(d.eligible.contains(d.chosen));
      ++in_use[d.chosen];
      open.push_back(h.number_of(h.transport.sends[seen].task));
      trace.push_back(std::move(d));
    }
  };
  std::map<WorkerId, int> counts;
  for (int i = 0; i < 800; ++i) {
    h.submit(k);
    record_sends();
    if (open.size() >= 7 || i % 3 == 0) {
      const std::size_t victim = (static_cast<std::size_t>(i) * 5) % open.size();
      const TaskId task = open[victim];
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(victim));
      --in_use[*h.transport.worker_of(h.task_id(task))];
      ASSERT_EQ(h.ok(task), ReportVerdict::kAccepted);
      record_sends();
    }
  }
  ASSERT_GT(trace.size(), 700U);
  expect_sel3_bound(trace);
}

// ---------------------------------------------------------------- Broker against a reference

// A literal reading of SEL-1, SEL-2 and SEL-4 for the Broker's two keys: a deque per
// key, scanned from the head, every scanned worker moved to the back.
struct ReferenceBroker {
  struct Task {
    WorkerId worker = 0;
    int key = 0;
    std::string job;
    bool abandoned = false;
  };
  std::array<std::deque<WorkerId>, 2> queue;
  std::map<WorkerId, std::array<std::uint32_t, 2>> capacity;  // 0: not advertised
  std::map<TaskId, Task> tasks;                                // open and abandoned
  std::map<std::string, std::set<WorkerId>> tried;

  std::uint32_t in_use(WorkerId worker, int key) const {
    std::uint32_t n = 0;
    for (const auto& [id, task] : tasks) n += (task.worker == worker && task.key == key) ? 1 : 0;
    return n;
  }
  bool eligible(WorkerId worker, int key, const std::string& job) const {
    return in_use(worker, key) < capacity.at(worker)[key] && !tried.at(job).contains(worker);
  }
  std::set<WorkerId> eligible_set(int key, const std::string& job) const {
    std::set<WorkerId> out;
    for (WorkerId w : queue[key]) {
      if (eligible(w, key, job)) out.insert(w);
    }
    return out;
  }
  // SEL-2, literally.
  std::optional<WorkerId> pick(int key, const std::string& job) {
    std::deque<WorkerId>& q = queue[key];
    for (std::size_t i = 0; i < q.size(); ++i) {
      const WorkerId w = q.front();
      q.pop_front();
      q.push_back(w);
      if (eligible(w, key, job)) return w;
    }
    return std::nullopt;  // q.size() moves to the back: the order is what it was
  }
  void join(WorkerId id, std::array<std::uint32_t, 2> caps) {
    capacity[id] = caps;
    for (int key = 0; key < 2; ++key) {
      if (caps[key] > 0) queue[key].push_back(id);
    }
  }
  // Returns the jobs whose open attempt ended with the worker.
  void leave(WorkerId id) {
    for (auto& q : queue) q.erase(std::remove(q.begin(), q.end(), id), q.end());
    std::erase_if(tasks, [id](const auto& entry) { return entry.second.worker == id; });
  }
};

// The plain rotation of SEL-2: quarantine (QUAR-2) is off, since the reference
// here knows no seat states; tests/property and the simulator check the two together.
BrokerConfig unbounded_queue_config() {
  BrokerConfig config = default_config();
  config.queue_limit = 1'000'000;
  config.quarantine.after = 0;
  return config;
}

struct RandomizedRun {
  explicit RandomizedRun(std::uint64_t seed) : rng(seed) {}

  XorShift rng;
  Harness h{unbounded_queue_config()};
  ReferenceBroker ref;
  const std::array<Key, 2> keys = {key_of("a"), key_of("b", Pipeline::kImageToImage)};
  std::vector<WorkerId> live;
  std::map<JobId, std::string> tag_of;
  std::map<std::string, JobId> job_of;
  std::map<std::string, int> key_of_job;
  std::map<std::string, TaskId> open_task;  // the job's running attempt
  std::set<std::string> cancelled;
  std::set<std::string> unfinished;  // jobs whose outcome has not been checked yet
  std::array<std::vector<TracedDispatch>, 2> traces;
  std::size_t seen = 0;
  std::size_t next_worker = 0;
  std::size_t next_job = 0;
  std::size_t dispatches = 0;
  std::size_t waits_checked = 0;

  int key_index(const std::string& model) const { return model == "a" ? 0 : 1; }

  // Checks every send made since the last call against the reference, in order.
  void check_sends() {
    for (; seen < h.transport.sends.size(); ++seen) {
      const SentNotice& s = h.transport.sends[seen];
      const std::string& tag = *s.payload;
      const int key = key_index(s.model);
      ASSERT_EQ(key, key_of_job.at(tag));
      const TaskId task = h.number_of(s.task);
      ASSERT_EQ(task, static_cast<TaskId>(seen + 1)) << "attempts are numbered by one counter (TASK-1)";
      TracedDispatch d;
      d.eligible = ref.eligible_set(key, tag);
      const std::optional<WorkerId> expected = ref.pick(key, tag);
      ASSERT_TRUE(expected.has_value()) << "the Broker sent " << tag << " to " << s.worker
                                        << " but no worker is eligible";
      ASSERT_EQ(s.worker, *expected) << "dispatch " << seen << " of " << tag;
      d.chosen = s.worker;
      traces[key].push_back(std::move(d));
      ++dispatches;
      ref.tried[tag].insert(s.worker);
      ref.tasks[task] = ReferenceBroker::Task{s.worker, key, tag, false};
      open_task[tag] = task;
      if (!s.delivered) {  // CONN-4: the send failure ends the attempt and the worker
        ref.tasks.erase(task);
        open_task.erase(tag);
        leave_in_reference(s.worker);
      }
    }
  }

  void leave_in_reference(WorkerId id) {
    for (const auto& [task, t] : ref.tasks) {
      if (t.worker == id && !t.abandoned) open_task.erase(t.job);
    }
    ref.leave(id);
    live.erase(std::remove(live.begin(), live.end(), id), live.end());
  }

  // Everything the reference can say about the state after an event.
  void check_state() {
    for (int key = 0; key < 2; ++key) {
      const std::vector<WorkerId> expected(ref.queue[key].begin(), ref.queue[key].end());
      ASSERT_EQ(h.broker.rotation(keys[key]), expected) << "key " << key;
    }
    for (const WorkerView& w : h.broker.workers()) {
      ASSERT_TRUE(ref.capacity.contains(w.id));
      for (const SeatView& seat : w.seats) {
        const int key = key_index(seat.key.model);
        ASSERT_EQ(seat.in_use, ref.in_use(w.id, key)) << "worker " << w.id << " key " << key;
        ASSERT_EQ(seat.capacity, ref.capacity.at(w.id)[key]);
      }
    }
    ASSERT_EQ(h.broker.workers().size(), live.size());
    expect_ledger_matches_workers(h.broker);
    ASSERT_EQ(h.broker.live_attempts(), ref.tasks.size());
    // Outcomes: exactly one per finished job, and consistent with the reference.
    for (auto next = unfinished.begin(); next != unfinished.end();) {
      const std::string tag = *next++;
      const JobId job = job_of.at(tag);
      auto it = h.outcomes.find(job);
      const int key = key_of_job.at(tag);
      if (it == h.outcomes.end()) {
        if (!open_task.contains(tag)) {
          // ADM-2, RETRY-3: a waiting job has no eligible worker, or it would have been sent.
          ASSERT_TRUE(ref.eligible_set(key, tag).empty()) << tag << " waits while a worker is free";
          ++waits_checked;
        }
        continue;
      }
      unfinished.erase(tag);
      ASSERT_EQ(it->second.size(), 1U) << tag << " got several outcomes (TASK-5)";
      const JobOutcome& o = it->second.front();
      ASSERT_FALSE(open_task.contains(tag)) << tag;
      ASSERT_EQ(o.attempts, ref.tried[tag].size()) << tag;
      switch (o.status) {
        case JobStatus::kOk: break;
        case JobStatus::kCancelled: ASSERT_TRUE(cancelled.contains(tag)); break;
        case JobStatus::kNoWorker: ASSERT_EQ(o.attempts, 0U); break;
        case JobStatus::kAllFailed:
          // RETRY-2 (checked when it happens, see record_outcomes).
          break;
        default: FAIL() << tag << " " << job_status_name(o.status) << ": " << o.message;
      }
    }
    ASSERT_EQ(h.broker.open_jobs(), unfinished.size());
  }

  // RETRY-2, ADM-1, ADM-4: checked right after the event that produced each outcome.
  std::size_t outcomes_seen = 0;
  void check_new_outcomes() {
    for (; outcomes_seen < h.outcome_log.size(); ++outcomes_seen) {
      const JobOutcome& o = h.outcome_log[outcomes_seen];
      auto tag_it = tag_of.find(o.job);
      if (tag_it == tag_of.end()) continue;  // refused inside submit: checked there
      const std::string& tag = tag_it->second;
      const int key = key_of_job.at(tag);
      if (o.status == JobStatus::kAllFailed) {
        for (WorkerId w : ref.queue[key]) {
          ASSERT_TRUE(ref.tried[tag].contains(w)) << tag << " gave up on " << w;
        }
      }
      if (o.status == JobStatus::kNoWorker) {
        ASSERT_TRUE(ref.queue[key].empty()) << tag;
      }
    }
  }

  void step() {
    const std::uint64_t action = rng.below(100);
    if (action < 12 && live.size() < 14) {
      const WorkerId id = 1000 + 7919 * (++next_worker) % 100003;  // unique, not in join order
      std::array<std::uint32_t, 2> caps = {0, 0};
      while (caps[0] == 0 && caps[1] == 0) {
        for (int key = 0; key < 2; ++key) caps[key] = rng.chance(65) ? static_cast<std::uint32_t>(1 + rng.below(3)) : 0;
      }
      std::vector<Advert> adverts;
      for (int key = 0; key < 2; ++key) {
        if (caps[key] > 0) adverts.push_back(Advert{keys[key], caps[key]});
      }
      if (rng.chance(4)) h.transport.fail_for.insert(id);
      ref.join(id, caps);
      live.push_back(id);
      ASSERT_EQ(h.join(id, adverts).verdict, JoinVerdict::kAccepted);
    } else if (action < 18 && !live.empty()) {
      const WorkerId id = live[rng.below(live.size())];
      leave_in_reference(id);
      h.broker.worker_left(id, "eof");
    } else if (action < 52) {
      const int key = static_cast<int>(rng.below(2));
      const std::string tag = tagged("j", ++next_job);
      key_of_job[tag] = key;
      ref.tried[tag];
      const std::size_t before = h.outcome_log.size();
      const JobId job = h.submit(keys[key], tag);
      if (h.outcome_log.size() > before && h.outcome_log.back().job == job &&
          h.outcome_log.back().status == JobStatus::kNoWorker) {
        ASSERT_TRUE(ref.queue[key].empty() || h.outcome_log.back().attempts > 0) << tag;
      }
      if (h.outcome_log.size() > before && h.outcome_log.back().status == JobStatus::kQueueFull) {
        FAIL() << "queue limit not expected here";
      }
      tag_of[job] = tag;
      job_of[tag] = job;
      unfinished.insert(tag);
    } else if (action < 92) {
      std::vector<TaskId> open;
      for (const auto& [task, t] : ref.tasks) {
        if (!t.abandoned) open.push_back(task);
      }
      if (open.empty()) return;
      const TaskId task = open[rng.below(open.size())];
      const std::string tag = ref.tasks[task].job;
      const bool ok = rng.chance(60);
      ref.tasks.erase(task);
      open_task.erase(tag);
      ASSERT_EQ(ok ? h.ok(task) : h.fail(task, tagged("e", task)), ReportVerdict::kAccepted);
    } else if (action < 96) {
      std::vector<std::string> running;
      for (const std::string& tag : unfinished) {
        if (!h.outcomes.contains(job_of.at(tag))) running.push_back(tag);
      }
      if (running.empty()) return;
      const std::string tag = running[rng.below(running.size())];
      if (auto it = open_task.find(tag); it != open_task.end()) {
        ref.tasks[it->second].abandoned = true;
        open_task.erase(it);
      }
      cancelled.insert(tag);
      h.broker.cancel(job_of[tag]);
    } else {
      std::vector<TaskId> abandoned;
      for (const auto& [task, t] : ref.tasks) {
        if (t.abandoned) abandoned.push_back(task);
      }
      if (abandoned.empty()) return;
      const TaskId task = abandoned[rng.below(abandoned.size())];
      ref.tasks.erase(task);
      ASSERT_EQ(h.ok(task), ReportVerdict::kLateReleased);
    }
  }

  void run(int steps) {
    for (int i = 0; i < steps; ++i) {
      ASSERT_NO_FATAL_FAILURE(step()) << "step " << i;
      ASSERT_NO_FATAL_FAILURE(check_sends()) << "step " << i;
      ASSERT_NO_FATAL_FAILURE(check_new_outcomes()) << "step " << i;
      ASSERT_NO_FATAL_FAILURE(check_state()) << "step " << i;
    }
    // Everyone leaves: every job must end with exactly one outcome (TASK-5).
    while (!live.empty()) {
      const WorkerId id = live.front();
      leave_in_reference(id);
      h.broker.worker_left(id, "shutdown");
      ASSERT_NO_FATAL_FAILURE(check_sends());
      ASSERT_NO_FATAL_FAILURE(check_new_outcomes());
      ASSERT_NO_FATAL_FAILURE(check_state());
    }
    for (const auto& [tag, job] : job_of) {
      ASSERT_TRUE(h.outcomes.contains(job)) << tag;
      ASSERT_EQ(h.outcomes.at(job).size(), 1U) << tag;
    }
    // TASK-3: every attempt started (one per send) ended exactly once.
    ASSERT_EQ(h.observer.started.size(), h.transport.sends.size());
    std::map<TaskId, int> ends;
    for (const AttemptRecord& r : h.observer.ended) ++ends[r.task];
    ASSERT_EQ(ends.size(), h.transport.sends.size());
    for (const auto& [task, count] : ends) ASSERT_EQ(count, 1) << "task " << task;
    ASSERT_EQ(h.broker.open_jobs(), 0U);
    ASSERT_EQ(h.broker.live_attempts(), 0U);
    for (const auto& trace : traces) expect_sel3_bound(trace);
  }
};

// SEL-1, SEL-2, SEL-3, SEL-4, CAP-2, CAP-5, TASK-1, TASK-3, TASK-5, ADM-2, RETRY-2: over seeded random joins, leaves, failed sends, submits, results, worker errors, cancels and late reports on two keys, the Broker picks the same worker as a literal SEL-2 deque at every dispatch, its rotation and slot counts match the reference after every event, no job waits while an eligible worker is free, SEL-3's bound holds, and every attempt ends exactly once.
TEST(BrokerVsReference, SameChoiceAtEveryDispatch) {
  std::size_t total_dispatches = 0;
  std::size_t total_waits = 0;
  for (std::uint64_t seed : {1ULL, 2ULL, 3ULL, 0xC0FFEEULL, 0xDEADBEEFULL, 20240601ULL}) {
    SCOPED_TRACE(tagged("seed ", seed));
    RandomizedRun run(seed);
    run.run(2500);
    if (HasFatalFailure()) return;
    total_dispatches += run.dispatches;
    total_waits += run.waits_checked;
  }
  // The runs must actually exercise selection and waiting.
  EXPECT_GT(total_dispatches, 3000U);
  EXPECT_GT(total_waits, 500U);
}

// ---------------------------------------------------------------- RotationQueue

// SEL-5: with 10,000 seats of which one has a free slot, pick() examines exactly that one seat; with none free it examines none; with k free and none eligible it examines exactly k and changes nothing.
TEST(RotationQueueCost, OnlyFreeSeatsAreExamined) {
  constexpr std::size_t kSeats = 10000;
  std::vector<Seat> seats(kSeats);
  for (std::size_t i = 0; i < kSeats; ++i) {
    seats[i] = Seat{static_cast<WorkerId>(i + 1), 0, 1, i == 7777 ? 0U : 1U, 0};
  }
  RotationQueue q;
  for (Seat& s : seats) q.enter(s);
  std::size_t calls = 0;
  Seat* got = q.pick([&](const Seat&) {
    ++calls;
    return true;
  });
  EXPECT_EQ(got, &seats[7777]);
  EXPECT_EQ(calls, 1U);
  std::vector<const Seat*> order = q.order();
  ASSERT_EQ(order.size(), kSeats);
  EXPECT_EQ(order.front(), &seats[7778]);
  EXPECT_EQ(order.back(), &seats[7777]);

  seats[7777].in_use = 1;
  q.slots_changed(seats[7777]);
  calls = 0;
  EXPECT_EQ(q.pick([&](const Seat&) {
              ++calls;
              return true;
            }),
            nullptr);
  EXPECT_EQ(calls, 0U);
  EXPECT_FALSE(q.any_free());

  for (std::size_t i : {3U, 4000U, 9999U, 12U, 5000U}) {
    seats[i].in_use = 0;
    q.slots_changed(seats[i]);
  }
  order = q.order();
  calls = 0;
  EXPECT_EQ(q.pick([&](const Seat&) {
              ++calls;
              return false;
            }),
            nullptr);
  EXPECT_EQ(calls, 5U);
  EXPECT_EQ(q.order(), order);
}

// SEL-5: 10,000 dispatches over 10,000 seats where exactly one seat is free at a time examine exactly one seat each.
TEST(RotationQueueCost, OneExaminationPerDispatch) {
  constexpr std::size_t kSeats = 10000;
  std::vector<Seat> seats(kSeats);
  for (std::size_t i = 0; i < kSeats; ++i) seats[i] = Seat{static_cast<WorkerId>(i + 1), 0, 1, 1, 0};
  RotationQueue q;
  for (Seat& s : seats) q.enter(s);
  XorShift rng(99);
  std::size_t calls = 0;
  for (std::size_t n = 0; n < kSeats; ++n) {
    Seat& freed = seats[rng.below(kSeats)];
    freed.in_use = 0;
    q.slots_changed(freed);
    Seat* got = q.pick([&](const Seat&) {
      ++calls;
      return true;
    });
    ASSERT_EQ(got, &freed);
    got->in_use = 1;
    q.slots_changed(*got);
  }
  EXPECT_EQ(calls, kSeats);
}

// SEL-1, SEL-2, SEL-4, SEL-5: over seeded random enters, leaves, slot changes and picks with random eligibility, RotationQueue gives the same pick, examines the same seats in the same order (only free ones) and keeps the same order as a literal deque; relabelling is exercised.
TEST(RotationQueueVsDeque, SameAsLiteralQueue) {
  for (std::uint64_t seed : {7ULL, 8ULL, 9ULL, 1234567ULL}) {
    SCOPED_TRACE(tagged("seed ", seed));
    XorShift rng(seed);
    std::deque<std::unique_ptr<Seat>> storage;
    std::deque<Seat*> reference;
    RotationQueue q;
    WorkerId next_id = 1;
    std::size_t picks = 0, hits = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::uint64_t action = rng.below(100);
      if (action < (reference.size() < 300 ? 25U : 15U) || reference.empty()) {
        storage.push_back(std::make_unique<Seat>());
        Seat& s = *storage.back();
        s.worker = next_id++;
        s.capacity = static_cast<std::uint32_t>(1 + rng.below(2));
        s.in_use = static_cast<std::uint32_t>(rng.below(s.capacity + 1));
        q.enter(s);
        reference.push_back(&s);
      } else if (action < 45) {
        // Leaves are frequent enough that holes pile up and force relabelling.
        const std::size_t at = rng.below(reference.size());
        q.leave(*reference[at]);
        reference.erase(reference.begin() + static_cast<std::ptrdiff_t>(at));
      } else if (action < 65) {
        Seat& s = *reference[rng.below(reference.size())];
        s.in_use = static_cast<std::uint32_t>(rng.below(s.capacity + 1));
        q.slots_changed(s);
      } else {
        std::map<WorkerId, bool> eligible;
        for (Seat* s : reference) eligible[s->worker] = rng.chance(50);
        std::vector<WorkerId> examined_ref;
        Seat* expected = nullptr;
        for (std::size_t i = 0; i < reference.size(); ++i) {
          Seat* s = reference.front();
          reference.pop_front();
          reference.push_back(s);
          if (!s->has_free_slot()) continue;
          examined_ref.push_back(s->worker);
          if (eligible[s->worker]) {
            expected = s;
            break;
          }
        }
        std::vector<WorkerId> examined;
        Seat* got = q.pick([&](const Seat& s) {
          examined.push_back(s.worker);
          return eligible.at(s.worker);
        });
        ASSERT_EQ(got, expected) << "step " << step;
        ASSERT_EQ(examined, examined_ref) << "step " << step;
        ++picks;
        if (got != nullptr) {
          ++hits;
          if (rng.chance(50) && got->in_use < got->capacity) {
            ++got->in_use;
            q.slots_changed(*got);
          }
        }
      }
      ASSERT_EQ(q.size(), reference.size());
      ASSERT_EQ(q.any_free(), std::any_of(reference.begin(), reference.end(),
                                          [](const Seat* s) { return s->has_free_slot(); }));
      const std::vector<const Seat*> order = q.order();
      ASSERT_TRUE(std::equal(order.begin(), order.end(), reference.begin(), reference.end()))
          << "step " << step;
    }
    EXPECT_GT(picks, 5000U);
    EXPECT_GT(hits, 2000U);
  }
}

}  // namespace
}  // namespace aipool::testing
