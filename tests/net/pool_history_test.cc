// Tests of the dashboard's history (src/net/pool_history.h, spec/api.md API-14).
#include "net/pool_history.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace aipool::net {
namespace {

const Key kEcho{Pipeline::kTextToImage, "test/echo"};

Poco::JSON::Object::Ptr parse(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

// API-14: one entry per second of the last 300, with counts and percentiles; seconds
// that fell out of the window, or had no job, read empty.
TEST(PoolHistory, SeriesHasEverySecondWithItsJobsAndPercentiles) {
  PoolHistory h;
  const std::int64_t now = 1'700'000'000;
  for (int i = 1; i <= 100; ++i) h.job_ended(kEcho, now - 1, true, i);  // 1..100 ms
  h.job_ended(kEcho, now - 1, false, 5);
  h.job_ended(kEcho, now - 400, true, 7);  // beyond the window (and its slot is reused)
  h.job_ended(kEcho, now - 100, true, 9);
  auto series = parse(h.json(now))->getArray("series");
  ASSERT_EQ(series->size(), PoolHistory::kSeconds);
  auto last = series->getObject(static_cast<unsigned>(PoolHistory::kSeconds - 1));
  EXPECT_EQ(last->getValue<std::int64_t>("t"), now);
  EXPECT_EQ(last->getValue<int>("ok"), 0);
  EXPECT_TRUE(last->isNull("p50_ms"));
  auto busy = series->getObject(static_cast<unsigned>(PoolHistory::kSeconds - 2));
  EXPECT_EQ(busy->getValue<int>("ok"), 100);
  EXPECT_EQ(busy->getValue<int>("failed"), 1);
  EXPECT_NEAR(busy->getValue<double>("p50_ms"), 51, 1);
  EXPECT_NEAR(busy->getValue<double>("p90_ms"), 90, 1);
  EXPECT_NEAR(busy->getValue<double>("p99_ms"), 99, 1);
  int total = 0;
  for (unsigned i = 0; i < series->size(); ++i) total += series->getObject(i)->getValue<int>("ok");
  EXPECT_EQ(total, 101);  // the job 400 s ago is not in the window
}

// API-14: per key, the jobs ended in the last 60 s; at most kMaxKeys keys.
TEST(PoolHistory, PerKeyThroughputIsTheLastMinuteAndBounded) {
  PoolHistory h;
  const std::int64_t now = 1'700'000'000;
  for (int i = 0; i < 30; ++i) h.job_ended(kEcho, now - i, true, 1);
  h.job_ended(kEcho, now - 70, true, 1);
  for (std::size_t i = 0; i < PoolHistory::kMaxKeys + 10; ++i) {
    std::string model = "m";
    model += std::to_string(i);  // (not "m" + ...: g++ 12's false -Wrestrict)
    h.job_ended(Key{Pipeline::kUpscale, model}, now, false, 1);
  }
  auto per_key = parse(h.json(now))->getArray("per_key");
  EXPECT_EQ(per_key->size(), PoolHistory::kMaxKeys);
  bool found = false;
  for (unsigned i = 0; i < per_key->size(); ++i) {
    auto k = per_key->getObject(i);
    if (k->getValue<std::string>("model_id") == "test/echo") {
      found = true;
      EXPECT_EQ(k->getValue<int>("jobs_last_minute"), 30);
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace aipool::net
