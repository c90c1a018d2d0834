// File: job_threads.h
// The threads that run the external runner engine's jobs (runner_executor.h). A job
// is handed to a thread that waits idle, else to a new thread: jobs never wait for
// each other (the worker's SlotGate bounds how many run at once, MULTI-2), and a job
// that finds an idle thread starts with a wake-up instead of a thread creation. That
// matters on a busy machine: the scheduler runs a woken thread at once but puts a new
// one behind the threads already running, which cost a streamed job's first token
// milliseconds (bench/README.md, time to first token).
//
// Contract: thread-safe. run() never waits for a job; it returns false, without
// running the job, when no thread could be made or after stop(). Threads are kept
// until stop(): at most as many as jobs ever ran at once; the one that became idle
// last takes the next job. stop() lets every job handed over finish, then joins every
// thread; the destructor stops. A job must not call stop().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aipool::exec {

class JobThreads {
 public:
  JobThreads() = default;
  ~JobThreads();
  JobThreads(const JobThreads&) = delete;
  JobThreads& operator=(const JobThreads&) = delete;

  bool run(std::function<void()> job);
  void stop();
  // Threads made so far, and those idle now (for tests).
  std::size_t threads() const;
  std::size_t idle() const;

 private:
  struct Thread {
    std::condition_variable wake;
    std::function<void()> job;  // handed over by run(), taken by the thread
    std::thread thread;
  };
  void loop(Thread& self);

  mutable std::mutex mutex_;
  std::vector<Thread*> idle_;  // the last one became idle last
  std::vector<std::unique_ptr<Thread>> all_;
  bool stopping_ = false;
};

}  // namespace aipool::exec
