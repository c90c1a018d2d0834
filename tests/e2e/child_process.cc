#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace aipool::e2e {

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  // posix_spawn, not fork: this test process has threads (readers, stand-in servers),
  // and a forked child may not call malloc before exec; under the sanitizers' allocators
  // it hangs there now and then, a child that never prints a line.
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);  // dup2 clears close-on-exec
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  pid_ = pid;
  reader_ = std::thread([this, fd = fds[0]] { read_loop(fd); });
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
  }
  wait_exit(std::chrono::seconds(10));
  if (reader_.joinable()) reader_.join();
}

void ChildProcess::read_loop(int fd) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock(mutex_);
    output_.append(buffer, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

std::optional<std::string> ChildProcess::wait_for_line(const std::string& needle,
                                                       std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    std::size_t start = 0;
    while (start < output_.size()) {
      std::size_t end = output_.find('\n', start);
      if (end == std::string::npos) break;  // only whole lines
      const std::string line = output_.substr(start, end - start);
      if (line.find(needle) != std::string::npos) {
        found = line;
        return true;
      }
      start = end + 1;
    }
    return eof_;
  });
  return found;
}

std::size_t ChildProcess::wait_for_count(const std::string& needle, std::size_t count,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::size_t seen = count_lines(needle);
    if (seen >= count || std::chrono::steady_clock::now() >= deadline) return seen;
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  }
}

std::size_t ChildProcess::count_lines(const std::string& needle) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < output_.size()) {
    std::size_t end = output_.find('\n', start);
    if (end == std::string::npos) end = output_.size();
    if (output_.substr(start, end - start).find(needle) != std::string::npos) ++count;
    start = end + 1;
  }
  return count;
}

std::string ChildProcess::output() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

void ChildProcess::send_signal(int signal) {
  if (running()) kill(pid_, signal);
}

bool ChildProcess::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !exit_code_.has_value();
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (exit_code_) return exit_code_;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      std::unique_lock<std::mutex> lock(mutex_);
      exit_code_ = code;
      // The reader may not have drained the pipe yet: wait (bounded: a grandchild may
      // hold the pipe open) for its end, so that output() holds all the child wrote.
      changed_.wait_for(lock, std::chrono::seconds(5), [&] { return eof_; });
      return code;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(20));  // woken early by output
  }
}

}  // namespace aipool::e2e
