#include "bin/program.h"

#include <gflags/gflags.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codec/text.h"

DEFINE_bool(h, false, "same as -help: this program's own flags");
DECLARE_bool(help);
DECLARE_bool(helpfull);

namespace aipool::bin {
namespace {

constexpr std::size_t kWidth = 88;   // columns of the -help page
constexpr std::size_t kIndent = 6;   // of a flag's description and example

constexpr std::string_view kExitCodes =
    "Exit codes (aipool-orchestrator and aipool-worker alike):\n"
    "  0      stopped by SIGTERM or SIGINT once its work was done; -help, -helpfull, -version\n"
    "  2      a configuration error: a bad flag, value or setting stops it at start with a\n"
    "         message naming it; the worker also exits 2 when an orchestrator refuses it\n"
    "         (e.g. invalid secret), after posting its running jobs\n"
    "  128+N  the worker: a second signal N, a second or more after the first, cut its\n"
    "         stop short\n";

// The command line as the kernel shows it (/proc/<pid>/cmdline): each argument's
// memory, saved before gflags reorders argv.
std::vector<std::pair<char*, std::size_t>>& original_args() {
  static std::vector<std::pair<char*, std::size_t>> args;
  return args;
}

std::string& program_name() {
  static std::string name = "aipool";
  return name;
}

// `text` wrapped at kWidth columns, each line indented by kIndent.
void put_wrapped(std::ostringstream& out, std::string_view text) {
  std::size_t column = 0;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (column > 0 && column + 1 + word.size() > kWidth) {
      out << '\n';
      column = 0;
    }
    out << (column == 0 ? std::string(kIndent, ' ') : " ") << word;
    column += (column == 0 ? kIndent : 1) + word.size();
  }
  out << '\n';
}

void put_flag(std::ostringstream& out, const FlagHelp& flag) {
  const gflags::CommandLineFlagInfo info = gflags::GetCommandLineFlagInfoOrDie(std::string(flag.name).c_str());
  const std::string value = info.type == "string" ? "\"" + info.default_value + "\"" : info.default_value;
  out << "  -" << flag.name << " (" << info.type << ", default " << value << ")\n";
  put_wrapped(out, flag.text.empty() ? std::string_view(info.description) : flag.text);
  out << std::string(kIndent, ' ') << "e.g. " << flag.example << '\n';
}

// gflags stops a program with code 1 at a bad flag; ours stop with kExitConfig. So each
// flag of the command line is checked first, by gflags' rules: one or two dashes;
// `-name=value`, or `-name value` for all but a bool; `-noname` for a bool; `--` ends
// the flags. A value that is not a string is tried with gflags' own parser (parsing
// then sets it again, to the same value).
void check_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return;
    if (arg.size() < 2 || arg[0] != '-') continue;  // an argument: refused after parsing
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    const std::size_t equals = arg.find('=');
    const std::string name(arg.substr(0, equals));
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      const bool negated_bool = equals == std::string_view::npos && name.rfind("no", 0) == 0 &&
                                gflags::GetCommandLineFlagInfo(name.c_str() + 2, &info) && info.type == "bool";
      if (negated_bool) continue;
      die("unknown flag -" + name + " (-help lists the flags)");
    }
    if (info.type == "bool" && equals == std::string_view::npos) continue;
    std::string value;
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      die("-" + name + " needs a value");
    }
    if (info.type != "string" && gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      die("-" + name + ": \"" + value + "\" is not a valid " + info.type + " value");
    }
  }
}

}  // namespace

void parse_command_line(const ProgramHelp& program, std::string_view version, int& argc, char**& argv) {
  program_name() = std::string(program.name);
  for (int i = 1; i < argc; ++i) original_args().emplace_back(argv[i], std::strlen(argv[i]));
  gflags::SetVersionString(std::string(version));
  gflags::SetUsageMessage(std::string(program.summary) + "\n  " + std::string(program.name) + " " +
                          std::string(program.usage) + "\n(-help lists only this program's own flags)");
  check_flags(argc, argv);
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, true);
  if (FLAGS_help || FLAGS_h) {
    std::fputs(help_text(program, version).c_str(), stdout);
    std::exit(kExitOk);
  }
  if (FLAGS_helpfull) {
    gflags::ShowUsageWithFlags(argv[0]);
    std::exit(kExitOk);
  }
  gflags::HandleCommandLineHelpFlags();  // -version (exit 0), and gflags' other help flags
  if (argc > 1) die(std::string("unexpected argument \"") + argv[1] + "\" (flags start with - or --)");
}

std::string help_text(const ProgramHelp& program, std::string_view version) {
  std::ostringstream out;
  out << program.name << ' ' << version << ": " << program.summary << "\n\n"
      << "Usage: " << program.name << ' ' << program.usage << "\n"
      << "Flags take one or two dashes: -flag value, -flag=value, --flag value; a bool also\n"
      << "-flag or -noflag.\n";
  std::vector<std::string_view> groups;
  for (const FlagHelp& flag : program.flags) {
    if (std::find(groups.begin(), groups.end(), flag.group) == groups.end()) groups.push_back(flag.group);
  }
  for (std::string_view group : groups) {
    out << '\n' << group << ":\n";
    for (const FlagHelp& flag : program.flags) {
      if (flag.group == group) put_flag(out, flag);
    }
  }
  out << "\nHelp:\n"
      << "  -help, --help, -h   these flags, then exit\n"
      << "  -helpfull           every flag, those of the libraries (gflags, glog) included\n"
      << "  -version            the version, then exit\n\n"
      << kExitCodes;
  return out.str();
}

void die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program_name().c_str(), message.c_str());
  std::exit(kExitConfig);
}

namespace {

// A secret flag's value read as a path (FLAG-1).
// A path starts with '/', './', '../' or '~'; a secret may hold '/' elsewhere (base64).
bool looks_like_path(std::string_view value) {
  return value.starts_with('/') || value.starts_with("./") || value.starts_with("../") || value.starts_with('~');
}

// The trimmed content of the regular file `path`; dies naming the flag and the path.
std::string read_secret_file(const SecretFlag& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die(std::string(flag.name) + ": the file " + path + " cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret(codec::trim(text.str()));
  if (secret.empty()) die(std::string(flag.name) + ": the file " + path + " is empty");
  return secret;
}

}  // namespace

void hide_argument(std::string_view value) {
  if (value.empty()) return;
  for (const auto& [arg, size] : original_args()) {
    const std::string_view text(arg, size);
    const bool whole = text == value;
    const bool joined = !whole && text.starts_with('-') && text.size() > value.size() &&
                        text.ends_with(value) && text[text.size() - value.size() - 1] == '=';
    if (whole || joined) std::memset(arg + (size - value.size()), '*', value.size());
  }
}

std::string read_secret(const SecretFlag& flag) {
  const std::string& value = flag.value;
  const std::string name(flag.name);
  if (value.empty()) {
    const char* env = std::getenv(std::string(flag.env).c_str());
    std::string secret(codec::trim(env != nullptr ? std::string_view(env) : std::string_view()));
    if (secret.empty() && !flag.when_missing.empty()) die(std::string(flag.when_missing));
    return secret;
  }
  std::error_code ec;
  const bool is_file = std::filesystem::is_regular_file(value, ec);
  if (!is_file && looks_like_path(value)) {
    const bool exists = std::filesystem::exists(value, ec);
    die(name + ": " + (exists ? value + " is not a regular file" : "no such file: " + value) +
        " (a value that starts with '/', './', '../' or '~' is the path of a file holding the secret" +
        (value.starts_with('~') ? "; '~' is not expanded" : "") + ")");
  }
  if (is_file) return read_secret_file(flag, value);
  std::string secret(codec::trim(value));
  if (secret.empty()) {
    if (!flag.when_missing.empty()) die(std::string(flag.when_missing));
    return secret;
  }
  spdlog::warn("{}: a literal value shows in `ps` and in shell history; give the path of a file holding it, or "
               "set {} and leave the flag out (spec/security.md SEC-1)",
               name, flag.env);
  hide_argument(value);
  return secret;
}

void set_log_level(int v) {
  static const spdlog::level::level_enum kLevels[] = {spdlog::level::off,   spdlog::level::err,
                                                      spdlog::level::warn,  spdlog::level::info,
                                                      spdlog::level::debug, spdlog::level::trace,
                                                      spdlog::level::trace};
  if (v < 0 || v > 6) die("-v must be from 0 to 6 (got " + std::to_string(v) + ")");
  spdlog::set_level(kLevels[v]);
}

}  // namespace aipool::bin
