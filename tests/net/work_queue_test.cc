// Tests of src/net/work_queue.h: the worker's job and post pools.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "net/work_queue.h"

namespace {

using aipool::net::WorkQueue;

// Waits (bounded) until the pool has `n` idle threads.
bool wait_idle(const WorkQueue& pool, std::size_t n) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pool.idle_threads() != n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// Proves every submitted closure runs exactly once, more closures than threads included.
TEST(WorkQueue, RunsEveryClosureOnce) {
  std::vector<std::atomic<int>> runs(500);
  {
    WorkQueue pool(4);
    for (auto& r : runs) pool.submit([&r] { r.fetch_add(1); });
  }  // the destructor runs what was submitted
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
}

// Proves one-at-a-time work keeps going to the thread that became idle last, not to
// every thread of the pool in turn.
TEST(WorkQueue, TheLastIdleThreadTakesTheNextClosure) {
  WorkQueue pool(8);
  ASSERT_TRUE(wait_idle(pool, 8));
  std::set<std::thread::id> used;
  for (int i = 0; i < 50; ++i) {
    std::promise<std::thread::id> ran;
    pool.submit([&ran] { ran.set_value(std::this_thread::get_id()); });
    used.insert(ran.get_future().get());
    ASSERT_TRUE(wait_idle(pool, 8));
  }
  EXPECT_EQ(used.size(), 1u);
}

// Proves at most `threads` closures run at once and the rest start in submission order.
TEST(WorkQueue, QueuesBeyondItsThreadsInOrder) {
  WorkQueue pool(2);
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  int running = 0;
  int most = 0;
  std::vector<int> started;
  for (int i = 0; i < 10; ++i) {
    pool.submit([&, i] {
      std::unique_lock<std::mutex> lock(mutex);
      started.push_back(i);
      most = std::max(most, ++running);
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      --running;
    });
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return started.size() == 2; }));
    release = true;
    cv.notify_all();
  }
  pool.shutdown();
  EXPECT_EQ(most, 2);
  ASSERT_EQ(started.size(), 10u);
  // The first two run together in either order; the queued ones start in order.
  for (std::size_t i = 2; i < started.size(); ++i) EXPECT_EQ(started[i], static_cast<int>(i));
}

// Proves a closure submitted after shutdown() is dropped, not run on a dead pool.
TEST(WorkQueue, ClosuresAfterShutdownAreDropped) {
  WorkQueue pool(2);
  pool.shutdown();
  std::atomic<bool> ran{false};
  pool.submit([&ran] { ran = true; });
  pool.shutdown();
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(pool.idle_threads(), 0u);
}

}  // namespace
