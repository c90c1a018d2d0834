// File: metrics_text.h
// Test helper: reads one sample out of Prometheus text (spec/metrics.md).
#pragma once

#include <sstream>
#include <string>

namespace aipool::testing {

// The value of the sample `series` (its name and labels exactly as rendered), or -1
// when the text has no such line.
inline double metric_sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace aipool::testing
