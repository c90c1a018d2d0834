// The asynchronous jobs' store (src/net/async_store.h, spec/async.md): queues and
// positions, results kept by time and memory with the oldest first out, 410 for the
// ids that went, and a job seen only by its own client key; plus the pure helpers of
// job ids, the Prefer header and callback URLs.
#include "net/async_store.h"

#include <gtest/gtest.h>

#include "net/async_jobs.h"
#include "net/webhook_sender.h"

namespace aipool::net {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;

AsyncJob job_of(std::uint64_t n, const ApiKey* owner = nullptr, const std::string& model = "m") {
  AsyncJob job;
  job.token = AsyncToken{n, n * 7 + 1};
  job.owner = owner;
  job.key = Key{Pipeline::kTextToImage, model};
  job.request = std::make_shared<const std::string>("{}");
  return job;
}

std::shared_ptr<const AsyncAnswer> answer_of_size(std::size_t bytes) {
  auto answer = std::make_shared<AsyncAnswer>();
  answer->state = "succeeded";
  answer->body = std::string(bytes, 'x');
  return answer;
}

// Proves queued jobs keep their order per key, positions count only jobs still queued
// ahead, and the unfinished cap refuses one more (ASYNC-4, ASYNC-5).
TEST(AsyncStore, QueuesInOrderWithPositionsAndACap) {
  AsyncStore store(AsyncStoreLimits{600 * kSecond, 1 << 20, 3, 3600 * kSecond, 16});
  AsyncJob* a = store.add(job_of(1));
  AsyncJob* b = store.add(job_of(2));
  AsyncJob* c = store.add(job_of(3, nullptr, "other"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(store.add(job_of(4)), nullptr);  // 3 unfinished: the cap
  EXPECT_EQ(store.queued_position(*a), 1u);
  EXPECT_EQ(store.queued_position(*b), 2u);
  EXPECT_EQ(store.queued_position(*c), 1u);  // a queue per key
  EXPECT_EQ(store.queue_head(a->key), a);
  store.handed_over(*a, 11);
  EXPECT_EQ(store.in_broker(b->key), 1u);
  EXPECT_EQ(store.queued_position(*b), 1u);
  EXPECT_EQ(store.keys_with_queued().size(), 2u);
  store.finish(*b, answer_of_size(10), 0);  // cancelled while queued: leaves its queue
  EXPECT_EQ(store.queue_head(a->key), nullptr);
  EXPECT_EQ(store.unfinished(), 2u);
  EXPECT_NE(store.add(job_of(5)), nullptr);  // room again
}

// Proves a finished result is kept for the TTL and then answers 410 (gone), while an
// id never issued answers 404 (ASYNC-8).
TEST(AsyncStore, ResultsExpireAfterTheirTimeAndAnswerGone) {
  AsyncStore store(AsyncStoreLimits{10 * kSecond, 1 << 20, 100, 3600 * kSecond, 16});
  AsyncJob* a = store.add(job_of(1));
  store.handed_over(*a, 1);
  store.finish(*a, answer_of_size(100), 5 * kSecond);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 14 * kSecond).found, AsyncStore::Found::kJob);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 15 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{2, 15}, nullptr, 15 * kSecond).found, AsyncStore::Found::kUnknown);
  EXPECT_EQ(store.result_bytes(), 0u);
  // Remembered for gone_ttl after it went, then unknown.
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 3614 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 3615 * kSecond).found, AsyncStore::Found::kUnknown);
}

// Proves the memory cap evicts the results that finished first, counting each body plus
// its fixed overhead, and that the gone ids are bounded in number (ASYNC-8).
TEST(AsyncStore, MemoryCapEvictsOldestFirst) {
  const std::size_t each = 1000 + kResultOverheadBytes;
  AsyncStore store(AsyncStoreLimits{600 * kSecond, 3 * each, 100, 3600 * kSecond, 2});
  for (std::uint64_t n = 1; n <= 3; ++n) store.finish(*store.add(job_of(n)), answer_of_size(1000), n * kSecond);
  EXPECT_EQ(store.finished(), 3u);
  EXPECT_EQ(store.result_bytes(), 3 * each);
  store.finish(*store.add(job_of(4)), answer_of_size(1000), 4 * kSecond);  // one over: the first goes
  EXPECT_EQ(store.finished(), 3u);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 5 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{2, 15}, nullptr, 5 * kSecond).found, AsyncStore::Found::kJob);
  store.finish(*store.add(job_of(5)), answer_of_size(2500), 6 * kSecond);  // needs two more places
  // Jobs 2, 3 and 4 went; only the last gone_max (2) gone ids are remembered.
  EXPECT_EQ(store.find(AsyncToken{2, 15}, nullptr, 7 * kSecond).found, AsyncStore::Found::kUnknown);
  EXPECT_EQ(store.find(AsyncToken{3, 22}, nullptr, 7 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{4, 29}, nullptr, 7 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{5, 36}, nullptr, 7 * kSecond).found, AsyncStore::Found::kJob);
  EXPECT_EQ(store.gone_remembered(), 2u);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 7 * kSecond).found, AsyncStore::Found::kUnknown);
}

// Proves a job is seen only by the key that made it: another key, or none, gets
// "unknown", for a live job and for a gone one alike (ASYNC-6, ASYNC-8).
TEST(AsyncStore, OnlyTheOwnerSeesItsJob) {
  ApiKey alice{0, "alice", 0};
  ApiKey bob{1, "bob", 0};
  AsyncStore store(AsyncStoreLimits{10 * kSecond, 1 << 20, 100, 3600 * kSecond, 16});
  store.add(job_of(1, &alice));
  EXPECT_EQ(store.find(AsyncToken{1, 8}, &alice, 0).found, AsyncStore::Found::kJob);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, &bob, 0).found, AsyncStore::Found::kUnknown);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, nullptr, 0).found, AsyncStore::Found::kUnknown);
  store.finish(*store.get(AsyncToken{1, 8}), answer_of_size(1), 0);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, &alice, 20 * kSecond).found, AsyncStore::Found::kGone);
  EXPECT_EQ(store.find(AsyncToken{1, 8}, &bob, 20 * kSecond).found, AsyncStore::Found::kUnknown);
}

// Proves job ids are the node id, a dash and 32 hex digits, read back only for this
// node, and the Prefer token is found in any case and list position (ASYNC-1, ASYNC-2).
TEST(AsyncIds, IdsCarryTheirNodeAndPreferIsParsed) {
  const AsyncToken token{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  const std::string id = async_job_id("orch7", token);
  EXPECT_EQ(id, "orch7-0123456789abcdeffedcba9876543210");
  EXPECT_EQ(parse_async_job_id(id, "orch7"), token);
  EXPECT_FALSE(parse_async_job_id(id, "orch8"));
  EXPECT_FALSE(parse_async_job_id("orch7-0123456789ABCDEFfedcba9876543210", "orch7"));
  EXPECT_FALSE(parse_async_job_id("orch7-0123", "orch7"));
  HttpRequest request;
  request.headers = {{"Prefer", "wait=10, Respond-Async"}};
  EXPECT_TRUE(prefers_async(request));
  request.headers = {{"Prefer", "return=minimal"}};
  EXPECT_FALSE(prefers_async(request));
}

// Proves callback URLs must be http(s) with a host and no user info, and that
// addresses inside the network are refused unless allowed (ASYNC-9, ASYNC-11).
TEST(AsyncCallbacks, UrlsAreCheckedAgainstForgery) {
  EXPECT_FALSE(callback_url_error("https://hooks.example.com/x?y=1", false));
  EXPECT_TRUE(callback_url_error("ftp://example.com/x", false));
  EXPECT_TRUE(callback_url_error("http:///x", false));
  EXPECT_TRUE(callback_url_error("http://user:pw@example.com/x", false));
  EXPECT_TRUE(callback_url_error(std::string(3000, 'a'), false));
  EXPECT_TRUE(callback_url_error("http://127.0.0.1:8080/x", false));
  EXPECT_TRUE(callback_url_error("http://169.254.169.254/latest/meta-data", false));
  EXPECT_TRUE(callback_url_error("http://[::1]/x", false));
  EXPECT_TRUE(callback_url_error("http://localhost/x", false));
  EXPECT_FALSE(callback_url_error("http://127.0.0.1:8080/x", true));
  for (const char* inside : {"10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                             "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::"}) {
    EXPECT_FALSE(is_public_address(inside)) << inside;
  }
  for (const char* outside : {"8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"}) {
    EXPECT_TRUE(is_public_address(outside)) << outside;
  }
}

}  // namespace
}  // namespace aipool::net
