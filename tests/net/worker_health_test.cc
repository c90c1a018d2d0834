// Tests of each worker's health for GET /workers (src/net/worker_health.h,
// spec/api.md API-13) and its rendering (src/net/workers_json.h).
#include "net/worker_health.h"

#include <gtest/gtest.h>

#include "net/workers_json.h"

namespace aipool::net {
namespace {

const Key kEcho{Pipeline::kTextToImage, "test/echo"};
const Key kUp{Pipeline::kUpscale, "builtin/bicubic"};

AttemptEvent ended(WorkerId worker, const Key& key, AttemptEnd end, Micros ms, std::string_view detail = {}) {
  AttemptEvent e;
  e.worker = worker;
  e.key = &key;
  e.end = end;
  e.sent_at = 1'000'000;
  e.ended_at = 1'000'000 + ms * 1000;
  e.detail = detail;
  return e;
}

// API-13: results and failures, failures in a row, the last error and its time;
// rejected input and cancelled or late jobs are not the worker's failures.
TEST(WorkerHealth, CountsResultsFailuresAndTheLastError) {
  WorkerHealthBook book;
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kResult, 10), 100);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kWorkerError, 10, "CUDA out of memory"), 200);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kTimeout, 10), 300);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kWorkerError, 10, "invalid request: bad prompt"), 400);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kCancelled, 10, "job cancelled"), 500);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kDeadline, 10, "job deadline"), 600);
  WorkerHealth h = book.snapshot().at(7);
  EXPECT_EQ(h.jobs_ok, 1u);
  EXPECT_EQ(h.jobs_failed, 2u);
  EXPECT_EQ(h.rejected_input, 1u);
  EXPECT_EQ(h.consecutive_failures, 2u);
  EXPECT_EQ(h.last_error, "attempt timeout");
  EXPECT_EQ(h.last_error_at, 300);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kDisconnect, 10, "stream closed"), 700);
  EXPECT_EQ(book.snapshot().at(7).last_error, "disconnect: stream closed");
  EXPECT_EQ(book.snapshot().at(7).consecutive_failures, 3u);
  book.attempt_ended(ended(7, kEcho, AttemptEnd::kResult, 10), 800);
  EXPECT_EQ(book.snapshot().at(7).consecutive_failures, 0u);
  EXPECT_EQ(book.snapshot().at(7).last_error, "disconnect: stream closed");  // kept after a result
  book.forget(7);
  EXPECT_TRUE(book.snapshot().empty());
}

// API-13: the median of the last 32 results per key; older ones drop out.
TEST(WorkerHealth, LatencyMedianIsOfTheLastResultsPerKey) {
  WorkerHealthBook book;
  for (int i = 0; i < 40; ++i) book.attempt_ended(ended(3, kEcho, AttemptEnd::kResult, 1000), 1);  // 1 s each
  for (int i = 0; i < 17; ++i) book.attempt_ended(ended(3, kEcho, AttemptEnd::kResult, 20), 1);    // then 20 ms
  book.attempt_ended(ended(3, kUp, AttemptEnd::kResult, 5), 1);
  book.attempt_ended(ended(3, kUp, AttemptEnd::kResult, 7), 1);
  const WorkerHealth h = book.snapshot().at(3);
  EXPECT_EQ(h.recent.at(kEcho).size(), WorkerHealthBook::kSamples);
  EXPECT_EQ(WorkerHealthBook::median(h.recent.at(kEcho)), 20.0);  // 17 of the last 32 are 20 ms
  EXPECT_EQ(WorkerHealthBook::median(h.recent.at(kUp)), 6.0);
  EXPECT_EQ(WorkerHealthBook::median({}), std::nullopt);
}

// API-13: /workers carries the health fields, null before any error or result.
TEST(WorkerHealth, WorkersJsonCarriesTheHealth) {
  WorkersSnapshot snapshot;
  WorkerView fresh;
  fresh.id = 1;
  fresh.seats = {SeatView{kEcho, 2, 0}};
  WorkerView busy;
  busy.id = 2;
  busy.seats = {SeatView{kEcho, 2, 1}};
  snapshot.workers = {fresh, busy};
  WorkerHealthBook book;
  book.attempt_ended(ended(2, kEcho, AttemptEnd::kResult, 12), 1);
  book.attempt_ended(ended(2, kEcho, AttemptEnd::kWorkerError, 3, "out of \"memory\""), 1700000000);
  snapshot.health = book.snapshot();
  const std::string json = workers_json(snapshot);
  EXPECT_NE(json.find(R"("id":1,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("jobs_ok":0,"jobs_failed":0,"rejected_input":0,"consecutive_failures":0,)"
                      R"("last_error":null,"last_error_at":null)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("jobs_ok":1,"jobs_failed":1,"rejected_input":0,"consecutive_failures":1,)"
                      R"("last_error":"worker error: out of \"memory\"","last_error_at":1700000000)"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("latency_p50_ms":null,"quarantine":{)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("latency_p50_ms":12.000,"quarantine":{"state":"healthy")"), std::string::npos) << json;
}

// QUAR-6: /workers gives each seat's quarantine state, and while it is quarantined
// the Unix second at which the cool-down ends (the core's clock turned into Unix time).
TEST(WorkerHealth, WorkersJsonCarriesTheQuarantine) {
  WorkersSnapshot snapshot;
  snapshot.core_now = 5'000'000;
  snapshot.wall_now_unix = 1700000000;
  WorkerView worker;
  worker.id = 7;
  SeatView quarantined{kEcho, 2, 0};
  quarantined.state = SeatState::kQuarantined;
  quarantined.consecutive_failures = 3;
  quarantined.strikes = 2;
  quarantined.quarantined_until = 65'500'000;  // 60.5 s from now
  SeatView probing{kUp, 1, 1};
  probing.state = SeatState::kProbing;
  probing.strikes = 1;
  worker.seats = {quarantined, probing};
  snapshot.workers = {worker};
  const std::string json = workers_json(snapshot);
  EXPECT_NE(json.find(R"("quarantine":{"state":"quarantined","consecutive_failures":3,"strikes":2,)"
                      R"("quarantined_until":1700000061})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("quarantine":{"state":"probing","consecutive_failures":0,"strikes":1,)"
                      R"("quarantined_until":null})"),
            std::string::npos)
      << json;
}

}  // namespace
}  // namespace aipool::net
