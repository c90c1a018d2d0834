// File: fuzz_input.h
// Reading a fuzz input in pieces: a leading byte, then lines, then the rest. The
// targets whose parser takes several arguments (a content type and a body, a
// boundary and a body) take them from one input this way, so a seed file reads as
// its arguments one per line followed by the body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aipool::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // The first byte (0 when none is left), consumed.
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Everything up to the next '\n' (all that is left when there is none), consumed
  // with the '\n'.
  std::string_view line() {
    const std::size_t eol = rest_.find('\n');
    const std::string_view line = rest_.substr(0, eol);
    rest_.remove_prefix(eol == std::string_view::npos ? rest_.size() : eol + 1);
    return line;
  }
  // What is left.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Fails the run (abort, which libFuzzer and the replay driver report with the input)
// when `condition` is false: for properties a target checks beyond "no crash".
inline void fuzz_check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace aipool::fuzz
