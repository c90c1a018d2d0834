// File: child_process.h
// Test aid: runs a program as a child process with its stdout and stderr captured,
// so end-to-end tests can wait for a line (bounded), send signals and read the log.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace aipool::e2e {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();  // SIGKILLs the child if it still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The first output line that contains `needle`, waiting at most `timeout`.
  std::optional<std::string> wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits at most `timeout` until at least `count` output lines contain `needle`;
  // returns how many do then.
  std::size_t wait_for_count(const std::string& needle, std::size_t count, std::chrono::milliseconds timeout);
  // How many output lines contain `needle` so far.
  std::size_t count_lines(const std::string& needle) const;
  std::string output() const;
  void send_signal(int signal);
  // The exit code (or 128 + signal), waiting at most `timeout`; nullopt if still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running() const;
  int pid() const { return pid_; }

 private:
  void read_loop(int fd);

  int pid_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;
  bool eof_ = false;
  std::optional<int> exit_code_;
};

}  // namespace aipool::e2e
