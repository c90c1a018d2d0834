// File: program.h
// What aipool-orchestrator and aipool-worker share around main(): the command line
// (gflags; -help lists only the program's own flags, grouped, each with its default
// and an example; -helpfull lists every flag, the libraries' included; -version), the
// one exit-code convention of both programs, and the start-up helpers that stop a
// program with a message naming the flag (die, read_secret, set_log_level).
//
// Exit codes (printed by -help):
//   0      stopped by SIGTERM or SIGINT once its work was done; -help, -helpfull, -version
//   2      a configuration error: a bad flag, value or setting stops the program at
//          start with a message naming it (an unknown flag and a bad value too: gflags'
//          own code 1 is not used); the worker also exits 2 when an orchestrator refuses
//          it (e.g. `invalid secret`), after posting its running jobs
//   128+N  the worker: a second signal N, a second or more after the first, cut its
//          stop short
//
// Contract: parse_command_line() once, first thing in main(), on main's thread; the
// other functions after it, at start. die() exits the process from whichever thread
// calls it; nothing else here is meant for other threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aipool::bin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitConfig = 2;

// The -v flag's description, for both programs (the worker with libtorch reads glog's -v).
inline constexpr const char* kLogLevelHelp = "log level: 0 off, 1 error, 2 warning, 3 info, 4 debug, 5-6 trace";

// One line of the -help page: a flag the program reads, under its group.
struct FlagHelp {
  std::string_view group;    // e.g. "Connection"; groups are shown in order of first use
  std::string_view name;     // the gflags flag; it must be registered (else the program stops)
  std::string_view example;  // one command-line use, e.g. "-orchAddr orch.example:8935"
  std::string_view text{};   // shown instead of the flag's own description when not empty
};

struct ProgramHelp {
  std::string_view name;     // "aipool-worker"
  std::string_view summary;  // what it does, one line
  std::string_view usage;    // its usual arguments
  std::vector<FlagHelp> flags;
};

// Parses argv into the FLAGS_ variables and removes the flags. -help, --help and -h
// print help_text() and exit 0; -helpfull prints every flag and exits 0; -version
// prints the version and exits 0. A bad flag or value, or an argument that is not a
// flag, dies (kExitConfig) naming it.
void parse_command_line(const ProgramHelp& program, std::string_view version, int& argc, char**& argv);

// The -help page: summary, usage, the flags by group, and the exit codes above.
std::string help_text(const ProgramHelp& program, std::string_view version);

// Prints "<program>: <message>" on stderr and exits with kExitConfig.
[[noreturn]] void die(const std::string& message);

// A flag that holds a secret (spec/security.md SEC-1): -orchSecret, -adminKey.
struct SecretFlag {
  std::string_view name;          // "-orchSecret", for messages
  const std::string& value;       // the flag's value as given
  std::string_view env;           // read when the value is empty: "AIPOOL_ORCH_SECRET"
  std::string_view when_missing;  // the message to die with when no secret is found;
                                  // empty: the secret is optional ("" is returned)
};

// SEC-1, FLAG-1: the trimmed content of the regular file `value` names; when `value`
// is empty, the trimmed environment variable `env`; else the trimmed value itself,
// with a warning that it shows in `ps`, after which the value is overwritten in the
// process's argument list (hide_argument). A value that looks like a path (it starts
// with '/', './', '../' or '~'; '~' is not expanded) must name a regular file. Dies
// naming the flag when a path-like value names no regular file, when the file cannot
// be read or holds only white space, and with `when_missing` when no secret is found.
std::string read_secret(const SecretFlag& flag);

// Overwrites `value` with '*' wherever it is a whole argument, or the value of a
// `-flag=value` argument, in the command line the kernel shows for this process
// (/proc/<pid>/cmdline). FLAGS_ variables hold copies and are not changed.
void hide_argument(std::string_view value);

// spdlog's level for -v (0..6); dies on another value.
void set_log_level(int v);

// -logFormat: "text" (the default) or "json", one JSON object per line (LOG-2); dies on
// another value. Call once at start, before any other thread logs.
inline constexpr const char* kLogFormatHelp = "log lines: text, or json (one JSON object per line)";
void set_log_format(const std::string& format);

}  // namespace aipool::bin
