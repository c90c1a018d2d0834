// Broker: what one registration may hold (CONN-7, CONN-8) and how long a refusal's
// message may grow (CONN-2, LIST-1).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

std::vector<Advert> adverts_of(std::size_t n, std::string_view prefix = "m") {
  std::vector<Advert> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(Advert{key_of(tagged(prefix, static_cast<std::int64_t>(i))), 1});
  return out;
}

// CONN-7: a registration with more adverts than the limit (1,024 by default) is refused with a message naming both numbers and changes nothing (its id stays free); one at the limit is accepted.
TEST(BrokerJoinLimits, TooManyModelsRefused) {
  Harness h;
  const JoinResult refused = h.join(1, adverts_of(1025));
  EXPECT_EQ(refused.verdict, JoinVerdict::kTooManyModels);
  EXPECT_EQ(refused.message, "the registration advertises 1025 models, more than the limit of 1024 per worker "
                             "(-maxModelsPerWorker)");
  EXPECT_TRUE(h.broker.workers().empty());
  EXPECT_TRUE(h.broker.keys().empty());
  const JoinResult at_limit = h.join(1, adverts_of(1024));
  EXPECT_EQ(at_limit.verdict, JoinVerdict::kAccepted) << at_limit.message;
  EXPECT_EQ(h.broker.keys().size(), 1024U);
}

// CONN-7, CONN-1: the secret is checked first: a wrong secret with too many adverts is refused as `invalid secret`; the count is that of the registration (a reader that stopped early says how many it saw), whatever could be served.
TEST(BrokerJoinLimits, CountedAfterTheSecretAndWhole) {
  Harness h;
  EXPECT_EQ(h.join(1, adverts_of(5000), "", "wrong").verdict, JoinVerdict::kInvalidSecret);
  JoinRequest request;
  request.id = 2;
  request.secret = kSecret;
  request.advertised = 70'000;  // the adverts themselves were not copied
  const JoinResult counted = h.broker.worker_joined(request);
  EXPECT_EQ(counted.verdict, JoinVerdict::kTooManyModels);
  EXPECT_NE(counted.message.find("advertises 70000 models"), std::string::npos) << counted.message;
  BrokerConfig config = default_config();
  config.max_models_per_worker = 3;
  Harness small(config);
  std::vector<Advert> four = adverts_of(3);
  four.push_back(Advert{key_of("zero"), 0});  // a zero advert still counts
  EXPECT_EQ(small.join(1, four).verdict, JoinVerdict::kTooManyModels);
  EXPECT_EQ(small.join(1, adverts_of(3)).verdict, JoinVerdict::kAccepted);
}

// CONN-8: an advert whose model id is longer than the limit (256 bytes by default) is skipped with a reason giving its length and the limit; the worker's other adverts are served, and an id at the limit is fine.
TEST(BrokerJoinLimits, LongModelIdSkipped) {
  Harness h;
  const Key at_limit = key_of(std::string(256, 'a'));
  const Key too_long = key_of(std::string(257, 'b'), Pipeline::kUpscale);
  const JoinResult r = h.join(1, {Advert{key_of("ok"), 1}, Advert{too_long, 2}, Advert{at_limit, 1}});
  ASSERT_EQ(r.verdict, JoinVerdict::kAccepted) << r.message;
  EXPECT_EQ(r.offered_keys, (std::vector<Key>{at_limit, key_of("ok")}));
  ASSERT_EQ(r.skipped.size(), 1U);
  EXPECT_EQ(r.skipped[0], "upscale model id of 257 bytes is longer than the limit of 256 (-maxModelIdBytes): " +
                              std::string(32, 'b') + "...");
  EXPECT_FALSE(h.view(too_long).has_value());
}

// CONN-8, CONN-2: a join whose every model id is too long is refused as offering nothing, with a message that says so and is no longer than a line.
TEST(BrokerJoinLimits, OnlyLongModelIdsRefused) {
  BrokerConfig config = default_config();
  config.max_model_id_bytes = 4;
  Harness h(config);
  const JoinResult r = h.join(1, {Advert{key_of("toolong"), 1}, Advert{key_of(std::string(100'000, 'x')), 1}});
  EXPECT_EQ(r.verdict, JoinVerdict::kNothingOffered);
  EXPECT_EQ(r.message, "no advertised model can be served: 2 model id(s) longer than the limit of 4 bytes "
                       "(-maxModelIdBytes)");
  EXPECT_EQ(r.skipped.size(), 2U);
  for (const std::string& reason : r.skipped) EXPECT_LT(reason.size(), 200U) << reason;
  EXPECT_TRUE(h.broker.workers().empty());
}

// CONN-2, LIST-1: the refusal of a join that offers only unlisted keys names the first 8 of them and counts the rest, so its size does not grow with the registration.
TEST(BrokerJoinLimits, RefusalMessageIsBounded) {
  BrokerConfig config = default_config();
  config.model_list = std::vector<ModelOffer>{ModelOffer{key_of("listed"), 1, 1, "USD"}};
  Harness h(config);
  const JoinResult r = h.join(1, adverts_of(1000, "unlisted"));
  EXPECT_EQ(r.verdict, JoinVerdict::kNothingOffered);
  EXPECT_EQ(r.ignored_keys.size(), 1000U);
  EXPECT_EQ(r.message,
            "none of the advertised models is in the orchestrator's model list (advertised: text-to-image/unlisted0 "
            "text-to-image/unlisted1 text-to-image/unlisted2 text-to-image/unlisted3 text-to-image/unlisted4 "
            "text-to-image/unlisted5 text-to-image/unlisted6 text-to-image/unlisted7 and 992 more; offered: "
            "text-to-image/listed)");
}

}  // namespace
}  // namespace aipool::testing
