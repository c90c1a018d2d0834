// File: work_queue.h
// A fixed set of threads that run submitted closures: the worker's job and post pools.
//
// Contract:
//  - At most `threads` closures run at once; the rest wait in a queue.
//  - Closures are taken in submission order (FIFO by dequeue): no closure is handed to
//    a thread before every closure submitted earlier has been handed to one. That is
//    all the order promised: two closures taken by two threads may begin running in
//    either order, since each thread is scheduled on its own. Only while a single
//    thread is free to take work do bodies start in submission order.
//  - The thread that became idle last takes the next closure (idle threads form a
//    stack). A lightly loaded pool thus keeps using the same few threads, whose
//    stacks, caches and malloc arenas are warm, instead of rotating through all of
//    them (a pool sized for 64 slots would otherwise touch 64 cold stacks and arenas
//    for 64 consecutive one-at-a-time jobs).
//  - shutdown() runs every closure submitted before it, then joins the threads; a
//    closure submitted after shutdown() is dropped. The destructor calls shutdown().
//  - Thread-safe; a closure may submit further closures.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aipool::net {

class WorkQueue {
 public:
  explicit WorkQueue(std::size_t threads);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void submit(std::function<void()> fn);
  void shutdown();

  // Threads waiting for work now (for tests and diagnostics).
  std::size_t idle_threads() const;

 private:
  struct Thread {
    std::condition_variable wake;
    std::function<void()> task;  // handed over by submit(), taken by the thread
    bool has_task = false;
  };
  void run(Thread& self);

  mutable std::mutex mutex_;
  std::deque<std::function<void()>> queue_;  // submitted while every thread was busy
  std::vector<Thread*> idle_;                // the last one became idle last
  std::vector<std::unique_ptr<Thread>> state_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace aipool::net
