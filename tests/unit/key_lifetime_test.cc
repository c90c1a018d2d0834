// Broker: how long a key lives (CAP-6): while a live worker advertises it or the
// model list names it, and no longer.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

// The keys the Broker holds, in its views' order.
std::vector<Key> held_keys(const Broker& broker) {
  std::vector<Key> out;
  for (const KeyView& view : broker.keys()) out.push_back(view.key);
  return out;
}

// CAP-6: the regression of issue 12: 10 rounds of a worker that advertises 2,000 new model names and leaves leave no key behind (the core used to hold 20,000), while a worker that stays keeps its own key.
TEST(BrokerKeys, KeysGoWithTheirLastWorker) {
  BrokerConfig config = default_config();
  config.max_models_per_worker = 2000;  // as in the issue (CONN-7 would refuse it by default)
  Harness h(config);
  h.join_ok(1, key_of("stays"), 1);
  WorkerId next = 2;
  for (int round = 0; round < 10; ++round) {
    std::vector<Advert> adverts;
    for (int i = 0; i < 2000; ++i) adverts.push_back(Advert{key_of(tagged(tagged("r", round) + "-m", i)), 1});
    const WorkerId id = next++;
    ASSERT_EQ(h.join(id, adverts).verdict, JoinVerdict::kAccepted);
    ASSERT_EQ(h.broker.keys().size(), 2001U);
    const JobId job = h.submit(key_of(tagged("r", round) + "-m7"));
    EXPECT_EQ(h.transport.last().worker, id);
    h.broker.worker_left(id, "eof");
    EXPECT_EQ(h.done(job).status, JobStatus::kAllFailed);
    ASSERT_EQ(held_keys(h.broker), (std::vector<Key>{key_of("stays")})) << "round " << round;
  }
  expect_ledger_matches_workers(h.broker);
}

// CAP-6, ADM-4: a key keeps living while another worker still advertises it; when its last worker leaves, its waiting job fails as ADM-4 says (no job is left hanging on a forgotten key), the key is gone from every view, and a new job for it is refused at once (ADM-1).
TEST(BrokerKeys, WaitingJobsEndBeforeTheKeyGoes) {
  Harness h;
  const Key k = key_of();
  h.join_ok(1, k, 1);
  h.join_ok(2, k, 1);
  h.submit(k);                      // w1
  h.submit(k);                      // w2
  const JobId waiting = h.submit(k);
  ASSERT_EQ(h.view(k)->waiting, 1U);
  h.broker.worker_left(1, "eof");   // job 1 waits at the head, for w2
  ASSERT_TRUE(h.view(k).has_value());
  h.broker.worker_left(2, "eof");   // the last one
  EXPECT_EQ(h.done(waiting).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(1).status, JobStatus::kAllFailed);
  EXPECT_EQ(h.done(2).status, JobStatus::kAllFailed);
  EXPECT_FALSE(h.view(k).has_value());
  EXPECT_TRUE(h.broker.keys().empty());
  EXPECT_TRUE(h.broker.rotation(k).empty());
  EXPECT_EQ(h.broker.open_jobs(), 0U);
  const JobId refused = h.submit(k);
  EXPECT_EQ(h.done(refused).status, JobStatus::kNoWorker);
  EXPECT_EQ(h.done(refused).message, "no worker offers pipeline text-to-image with model m");
}

// CAP-6, LIST-1, LIST-3: keys of the model list stay, with their prices, when their last worker leaves; keys outside the list are never held at all.
TEST(BrokerKeys, ListedKeysStay) {
  BrokerConfig config = default_config();
  config.model_list = std::vector<ModelOffer>{ModelOffer{key_of("listed"), 2, 1, "USD"}};
  Harness h(config);
  ASSERT_EQ(h.join(1, {Advert{key_of("listed"), 1}, Advert{key_of("other"), 1}}).verdict, JoinVerdict::kAccepted);
  EXPECT_EQ(held_keys(h.broker), (std::vector<Key>{key_of("listed")}));
  h.broker.worker_left(1, "eof");
  ASSERT_EQ(held_keys(h.broker), (std::vector<Key>{key_of("listed")}));
  EXPECT_EQ(h.view(key_of("listed"))->capacity, 0U);
  ASSERT_NE(h.view(key_of("listed"))->offer, nullptr);
  EXPECT_EQ(h.view(key_of("listed"))->offer->price_per_unit, 2);
  h.join_ok(2, key_of("listed"), 1);
  h.submit(key_of("listed"));
  EXPECT_EQ(h.dispatches(), (Dispatches{{2, 1}}));
}

// CAP-6, SEL-1, ADM-2: a forgotten key's place is taken by the next new key and the key itself comes back as new: each serves its own jobs, queue and waits, and the views never mix them up.
TEST(BrokerKeys, AKeyThatComesBackIsNew) {
  Harness h;
  const Key a = key_of("a");
  const Key b = key_of("b");
  h.join_ok(1, a, 1);
  h.join_ok(2, a, 1);
  h.broker.worker_left(1, "eof");
  h.broker.worker_left(2, "eof");
  ASSERT_TRUE(h.broker.keys().empty());
  h.join_ok(3, b, 1);   // takes a's old place
  h.join_ok(4, a, 1);   // a again, new
  h.join_ok(5, a, 1);
  EXPECT_EQ(held_keys(h.broker), (std::vector<Key>{a, b}));
  EXPECT_EQ(h.broker.rotation(a), (std::vector<WorkerId>{4, 5}));
  EXPECT_EQ(h.broker.rotation(b), (std::vector<WorkerId>{3}));
  h.submit(b);   // w3
  h.submit(b);   // waits for b
  h.submit(a);   // w4
  EXPECT_EQ(h.view(b)->waiting, 1U);
  EXPECT_EQ(h.view(a)->waiting, 0U);
  EXPECT_EQ(h.view(a)->capacity, 2U);
  EXPECT_EQ(h.dispatches(), (Dispatches{{3, 1}, {4, 2}}));
  h.ok(1);       // w3 frees: the waiting b job runs there
  EXPECT_EQ(h.dispatches_since(2), (Dispatches{{3, 3}}));
  EXPECT_EQ(h.done(1).status, JobStatus::kOk);
  expect_ledger_matches_workers(h.broker);
}

}  // namespace
}  // namespace aipool::testing
