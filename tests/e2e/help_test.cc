// The programs' command line (src/bin/program.h), run as real processes: -help lists
// each program's own flags, grouped, and none of the libraries' (gflags, glog, libtorch);
// -helpfull still lists every flag; both programs keep one exit-code convention (FLAG-2:
// a bad flag or value, gflags' own errors included, exits 2 naming it).
#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "child_process.h"
#include "e2e_support.h"

namespace aipool::e2e {
namespace {

using namespace std::chrono_literals;

struct Exit {
  int code = -1;
  std::string output;
};

Exit run(const std::vector<std::string>& argv) {
  ChildProcess p(argv);
  const std::optional<int> code = p.wait_exit(20s);
  p.wait_for_line("\x01 (never printed)", 5s);  // returns once the whole output is read
  return {code.value_or(-1), p.output()};
}

// The flags -helpfull lists under the program's own sources (src/bin/).
std::vector<std::string> own_flags(const std::string& helpfull) {
  std::vector<std::string> flags;
  bool ours = false;
  std::istringstream lines(helpfull);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  Flags from ", 0) == 0) {
      ours = line.find("/src/bin/") != std::string::npos;
    } else if (ours && line.rfind("    -", 0) == 0) {
      flags.push_back(line.substr(4, line.find(' ', 4) - 4));
    }
  }
  return flags;
}

class Help : public ::testing::TestWithParam<const char*> {};

// FLAG-1: -help, --help and -h list the program's own flags by group, each with its
// default and an example, and the exit codes; no flag of gflags, glog or libtorch.
TEST_P(Help, ListsOurFlagsOnly) {
  const std::string program = bin_path(GetParam());
  const Exit full = run({program, "-helpfull"});
  ASSERT_EQ(full.code, 0) << full.output;
  const std::vector<std::string> ours = own_flags(full.output);
  ASSERT_GE(ours.size(), 8u) << full.output;
  EXPECT_NE(full.output.find("-flagfile"), std::string::npos);
  EXPECT_NE(full.output.find("-tryfromenv"), std::string::npos);
  for (const char* spelling : {"-help", "--help", "-h"}) {
    const Exit help = run({program, spelling});
    EXPECT_EQ(help.code, 0) << spelling << ": " << help.output;
    EXPECT_NE(help.output.find("\n  -help, --help, -h "), std::string::npos) << help.output;
    for (const std::string& flag : ours) {
      if (flag == "-h") continue;  // listed with -help above
      EXPECT_NE(help.output.find("\n  " + flag + " ("), std::string::npos) << spelling << ": no " << flag;
    }
    EXPECT_NE(help.output.find("\n  -v (int32, default 3)\n"), std::string::npos) << help.output;
    for (const char* part : {"Connection:", "Models:", "Limits:", "Logging:", "e.g. -orchSecret ", "Exit codes",
                             "-helpfull", "-version"}) {
      EXPECT_NE(help.output.find(part), std::string::npos) << spelling << ": no " << part;
    }
    for (const char* foreign : {"-flagfile", "-tryfromenv", "-logtostderr", "-minloglevel", "-caffe2", "-torch_"}) {
      EXPECT_EQ(help.output.find(foreign), std::string::npos) << spelling << " lists " << foreign;
    }
  }
  const Exit version = run({program, "-version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.output.find(std::string(GetParam()) + " version "), std::string::npos) << version.output;
}

// FLAG-2: an unknown flag, a bad value, a missing value and a stray argument all exit 2,
// naming the flag (gflags alone would exit 1).
TEST_P(Help, BadFlagsExitTwoNamingThem) {
  const std::string program = bin_path(GetParam());
  Exit e = run({program, "-bogus", "1"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("unknown flag -bogus"), std::string::npos) << e.output;
  e = run({program, "--v=abc"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("-v: \"abc\" is not a valid int32 value"), std::string::npos) << e.output;
  e = run({program, "-v", "9"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("-v must be from 0 to 6 (got 9)"), std::string::npos) << e.output;
  e = run({program, "-orchSecret"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("-orchSecret needs a value"), std::string::npos) << e.output;
  e = run({program, "-orchSecret", "x", "stray"});
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("unexpected argument \"stray\""), std::string::npos) << e.output;
}

// FLAG-1, FLAG-2: an -orchSecret value that looks like a path (it starts with '/', './',
// '../' or '~') and names no regular file stops either program at start with exit
// code 2 and a message naming it, instead of becoming the secret; a base64 secret
// with a '/' inside stays a secret.
TEST_P(Help, OrchSecretPathThatIsNoFileExitsTwoNamingIt) {
  const std::string program = bin_path(GetParam());
  const bool worker = std::string(GetParam()) == "aipool-worker";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/nonexistent-aipool-dir/secret", "no such file: /nonexistent-aipool-dir/secret"},
      {"./no-such-aipool-secret", "no such file: ./no-such-aipool-secret"},
      {"../no-such-aipool-dir/secret", "no such file: ../no-such-aipool-dir/secret"},
      {"~/no-such-aipool-secret", "no such file: ~/no-such-aipool-secret"},
      {"/", "/ is not a regular file"},
  };
  for (const auto& [value, expected] : cases) {
    std::vector<std::string> argv = {program, "-orchSecret", value};
    if (worker) argv.insert(argv.end(), {"-orchAddr", "127.0.0.1:1", "-aiModels", "text-to-image:test/echo"});
    if (!worker) argv.insert(argv.end(), {"-serviceAddr", "127.0.0.1:0", "-httpAddr", "127.0.0.1:0"});
    const Exit e = run(argv);
    EXPECT_EQ(e.code, 2) << value << ": " << e.output;
    EXPECT_NE(e.output.find("-orchSecret: " + expected), std::string::npos) << value << ": " << e.output;
    if (value[0] == '~') {
      EXPECT_NE(e.output.find("'~' is not expanded"), std::string::npos) << e.output;
    }
  }
  if (worker) return;
  ChildProcess orch({program, "-orchSecret", "q8/Zr+Tk2w==", "-serviceAddr", "127.0.0.1:0", "-httpAddr",
                     "127.0.0.1:0", "-insecure"});
  EXPECT_TRUE(orch.wait_for_line("aipool-orchestrator ready", std::chrono::seconds(20)).has_value()) << orch.output();
}

// FLAG-2, MODEL-2, MODEL-3, RES-11: the worker's limits are flags; a value out of range
// stops it at start with exit code 2 and a message naming the flag.
TEST(WorkerLimits, BadLimitsExitTwoNamingTheFlag) {
  const std::vector<std::string> base = {bin_path("aipool-worker"), "-orchAddr", "127.0.0.1:1", "-orchSecret",
                                         "not-a-path", "-aiModels", "image-to-image:test/echo"};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-maxPixels", "0"}, "-maxPixels must be at least 1 (got 0)"},
      {{"-maxPixels=-5"}, "-maxPixels must be at least 1 (got -5)"},
      {{"-maxOutputPixels", "0"}, "-maxOutputPixels must be at least 1 (got 0)"},
      {{"-maxMessageBytes", "4095"}, "-maxMessageBytes must be at least 4096 (got 4095)"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), flags.begin(), flags.end());
    const Exit e = run(argv);
    EXPECT_EQ(e.code, 2) << flags[0] << ": " << e.output;
    EXPECT_NE(e.output.find(expected), std::string::npos) << flags[0] << ": " << e.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Programs, Help, ::testing::Values("aipool-orchestrator", "aipool-worker"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param).substr(7);  // "orchestrator", "worker"
                         });

}  // namespace
}  // namespace aipool::e2e
