// SEL-3 as a property of the real Broker: when the workers of a key have equal
// capacity, over any run of dispatches the attempts given to any two workers
// that were eligible at every dispatch of the run differ by at most one.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>

#include "property_harness.h"

namespace aipool::sim::test {
namespace {

// Proves SEL-3 (the guarantee of SEL-2's rotation) over random interleavings of
// submits and completions, for 2 to 6 workers of equal capacity 1 to 3.
RC_GTEST_PROP(Fairness, EqualCapacityWorkersShareEveryRunOfDispatches, ()) {
  const int workers = *rc::gen::inRange(2, 7);
  const auto capacity = static_cast<std::uint32_t>(*rc::gen::inRange(1, 4));
  const auto ops = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
  const Key key{Pipeline::kTextToImage, "m"};

  ModelConfig config = property_config();
  config.queue_limit = 1000;
  Harness sut(config);
  for (int w = 1; w <= workers; ++w) {
    sut.broker.worker_joined(JoinRequest{static_cast<WorkerId>(w), kSecret, "test", {Advert{key, capacity}}});
  }
  std::vector<TaskId> running;
  JobId next_job = 1;
  // One entry per dispatch: the chosen worker and the workers eligible for it.
  std::vector<std::pair<WorkerId, std::vector<WorkerId>>> dispatches;
  const auto free_workers = [&] {
    std::vector<WorkerId> out;
    for (const WorkerView& view : sut.broker.workers()) {
      if (view.seats[0].in_use < view.seats[0].capacity) out.push_back(view.id);
    }
    return out;
  };
  const auto record = [&](const std::vector<WorkerId>& eligible) {
    for (const Effect& effect : sut.effects) {
      if (effect.kind != Effect::Kind::kSend) continue;
      dispatches.emplace_back(effect.worker, eligible);
      running.push_back(effect.task);
    }
    sut.effects.clear();
  };
  for (int op : ops) {
    const std::vector<WorkerId> eligible = free_workers();  // a new job has tried no one
    if (op < 2 || running.empty()) {
      sut.submit(key, next_job++);
    } else {
      const auto i = static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, running.size()));
      Report report;
      report.credentials = kSecret;
      report.task = sut.id_of(running[i]);
      report.ok = true;
      report.result = std::make_shared<const ResultBody>();
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      RC_ASSERT(sut.broker.report(report) == ReportVerdict::kAccepted);
    }
    record(eligible);  // a single event frees or asks for one slot: at most one dispatch
  }
  for (std::size_t start = 0; start < dispatches.size(); ++start) {
    std::vector<WorkerId> always = dispatches[start].second;
    std::map<WorkerId, int> counts;
    for (std::size_t end = start; end < dispatches.size(); ++end) {
      std::vector<WorkerId> both;
      std::set_intersection(always.begin(), always.end(), dispatches[end].second.begin(),
                            dispatches[end].second.end(), std::back_inserter(both));
      always = both;
      ++counts[dispatches[end].first];
      if (always.size() < 2) break;
      int low = 1 << 30;
      int high = 0;
      for (WorkerId id : always) {
        low = std::min(low, counts[id]);
        high = std::max(high, counts[id]);
      }
      RC_ASSERT(high - low <= 1);
    }
  }
}

}  // namespace
}  // namespace aipool::sim::test
