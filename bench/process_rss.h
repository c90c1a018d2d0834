// File: process_rss.h
// Bench aid: the resident memory of a process, for the load tools' memory figures.
// Contract: reads /proc/<pid>/status each call; -1 when it cannot (no such process,
// not Linux). Thread-safe.
#pragma once

#include <fstream>
#include <string>

namespace aipool::bench {

inline long rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace aipool::bench
