#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace aipool::e2e {

ChildProcess::ChildProcess(std::vector<std::string> argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    const char* msg = "exec failed\n";
    (void)!write(2, msg, std::strlen(msg));
    _exit(127);
  }
  close(fds[1]);
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
