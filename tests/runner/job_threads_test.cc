// Tests of the runner engine's job threads (src/exec/job_threads.h): a job goes to an
// idle thread when there is one, never waits for another job, and stop() runs what
// was handed over before it joins.
#include "exec/job_threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace aipool::exec {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until `threads.idle()` is `n`.
bool wait_idle(const JobThreads& threads, std::size_t n) {
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (threads.idle() != n) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// One job after another: the second runs on the thread the first left idle.
TEST(JobThreads, AJobTakesTheIdleThread) {
  JobThreads threads;
  std::promise<std::thread::id> first;
  ASSERT_TRUE(threads.run([&] { first.set_value(std::this_thread::get_id()); }));
  const std::thread::id first_id = first.get_future().get();
  ASSERT_TRUE(wait_idle(threads, 1));
  std::promise<std::thread::id> second;
  ASSERT_TRUE(threads.run([&] { second.set_value(std::this_thread::get_id()); }));
  EXPECT_EQ(second.get_future().get(), first_id);
  EXPECT_EQ(threads.threads(), 1u);
}

// Jobs that run at once each get a thread: none waits for another to end (each
// waits here until all three have started).
TEST(JobThreads, JobsNeverWaitForEachOther) {
  JobThreads threads;
  std::mutex mutex;
  std::condition_variable all_in;
  int started = 0;
  std::atomic<int> finished{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(threads.run([&] {
      std::unique_lock lock(mutex);
      ++started;
      all_in.notify_all();
      if (all_in.wait_for(lock, 30s, [&] { return started == 3; })) ++finished;
    }));
  }
  threads.stop();
  EXPECT_EQ(finished.load(), 3);
  EXPECT_EQ(threads.threads(), 3u);
}

// stop() lets a job handed over finish, then joins; run() after it refuses.
TEST(JobThreads, StopRunsWhatWasHandedOverThenRefuses) {
  JobThreads threads;
  std::atomic<bool> ran{false};
  ASSERT_TRUE(threads.run([&] {
    std::this_thread::sleep_for(50ms);
    ran = true;
  }));
  threads.stop();
  EXPECT_TRUE(ran.load());
  std::atomic<bool> late{false};
  EXPECT_FALSE(threads.run([&] { late = true; }));
  threads.stop();  // twice is harmless
  EXPECT_FALSE(late.load());
}

}  // namespace
}  // namespace aipool::exec
