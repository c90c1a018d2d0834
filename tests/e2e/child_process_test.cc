// Tests of the e2e harness itself (child_process.h): what a child wrote is all in
// output() once wait_exit() has seen it exit.
#include "child_process.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

// Proves wait_exit() returns only after the child's whole output was read: a child
// that writes its output in one go just before it exits (as aipool-load does, its
// stdout buffered) used to be reaped while the reader thread was still draining the
// pipe, so checks on output() right after wait_exit() saw part of it or nothing
// (seen as a chance failure of EndToEnd.LoadToolMeasuresRealProcesses under load).
TEST(ChildProcess, OutputIsCompleteWhenWaitExitReturns) {
  for (int round = 0; round < 20; ++round) {
    ChildProcess child({"/bin/sh", "-c", "sleep 0.05; printf '%60000s\\nlast line\\n' x"});
    ASSERT_EQ(child.wait_exit(30s), 0);
    const std::string out = child.output();
    ASSERT_EQ(out.size(), 60000u + 1 + 10) << "round " << round;
    EXPECT_EQ(child.count_lines("last line"), 1u) << "round " << round;
  }
}

// Children start with posix_spawn (the no_fork lint says why fork is not used): both
// stdout and stderr reach output(), and a program that does not exist is an exception
// that names it, not a child that prints nothing.
TEST(ChildProcess, CapturesBothStreamsAndNamesAMissingProgram) {
  ChildProcess child({"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3"});
  ASSERT_EQ(child.wait_exit(30s), 3);
  EXPECT_EQ(child.count_lines("to-out"), 1u) << child.output();
  EXPECT_EQ(child.count_lines("to-err"), 1u) << child.output();
  try {
    ChildProcess missing({"/no/such/aipool-program"});
    FAIL() << "a missing program started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/aipool-program"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace aipool::e2e
