#include "sim/scenario.h"

#include <charconv>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <utility>

namespace aipool::sim {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// Splits on blanks; double quotes group words and are dropped.
std::vector<std::string> tokenize(const std::string& line) {
  std::vector<std::string> tokens;
  std::string current;
  bool quoted = false;
  bool any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if ((c == ' ' || c == '\t') && !quoted) {
      if (any) tokens.push_back(current);
      current.clear();
      any = false;
    } else {
      current += c;
      any = true;
    }
  }
  if (any) tokens.push_back(current);
  return tokens;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "5s", "1.5s", "250ms", "2m".
std::optional<Micros> parse_duration(std::string_view text) {
  Micros unit = kMicrosPerSecond;
  if (text.ends_with("ms")) {
    unit = 1000;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    unit = 60 * kMicrosPerSecond;
    text.remove_suffix(1);
  } else {
    return std::nullopt;
  }
  const std::size_t dot = text.find('.');
  const std::optional<std::uint64_t> whole = parse_number(text.substr(0, dot));
  if (!whole) return std::nullopt;
  Micros value = static_cast<Micros>(*whole) * unit;
  if (dot != std::string_view::npos) {
    std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 6) return std::nullopt;
    const std::optional<std::uint64_t> digits = parse_number(frac);
    if (!digits) return std::nullopt;
    Micros scale = unit;
    for (std::size_t i = 0; i < frac.size(); ++i) scale /= 10;
    value += static_cast<Micros>(*digits) * scale;
  }
  return value;
}

std::optional<Key> parse_key(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash + 1 >= text.size()) return std::nullopt;
  const std::optional<Pipeline> pipeline = pipeline_from_name(text.substr(0, slash));
  if (!pipeline) return std::nullopt;
  return Key{*pipeline, std::string(text.substr(slash + 1))};
}

// "name=value" options of a command; positional words stay in order.
struct Args {
  std::vector<std::string> words;
  std::vector<std::pair<std::string, std::string>> options;

  std::optional<std::string> option(const std::string& name) const {
    for (const auto& [key, value] : options) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
};

Args parse_args(const std::vector<std::string>& tokens, std::size_t from) {
  Args args;
  for (std::size_t i = from; i < tokens.size(); ++i) {
    const std::size_t eq = tokens[i].find('=');
    if (eq == std::string::npos) {
      args.words.push_back(tokens[i]);
    } else {
      args.options.emplace_back(tokens[i].substr(0, eq), tokens[i].substr(eq + 1));
    }
  }
  return args;
}

}  // namespace

struct ScenarioRunner::Step {
  std::vector<std::string> before;  // comments and blank lines above the command
  std::string command;
  int line = 0;
  bool has_block = false;
  std::vector<std::string> expected;
};

ScenarioRunner::ScenarioRunner(std::function<void(const std::string&)> echo)
    : echo_(std::move(echo)) {
  config_.attempt_timeout = seconds(300);
  config_.job_deadline = seconds(900);
  config_.slot_reclaim = seconds(300);
  config_.queue_limit = 256;
  config_.orchestrators = 1;
  config_.checks = CheckLevel::kFull;
}

ScenarioRunner::~ScenarioRunner() = default;

bool ScenarioRunner::parse(const std::string& text, std::vector<Step>& steps,
                           std::vector<std::string>& trailing) {
  const std::vector<std::string> lines = split_lines(text);
  Step pending;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      pending.before.push_back(line);
      continue;
    }
    if (line == "----") {
      error_ = "line " + std::to_string(i + 1) + ": ---- without a command above it";
      return false;
    }
    pending.command = line;
    pending.line = static_cast<int>(i + 1);
    if (i + 1 < lines.size() && lines[i + 1] == "----") {
      pending.has_block = true;
      i += 2;
      while (i < lines.size() && !lines[i].empty()) pending.expected.push_back(lines[i++]);
    }
    steps.push_back(std::move(pending));
    pending = Step{};
  }
  trailing = std::move(pending.before);
  return true;
}

bool ScenarioRunner::usage(const Step& step, const std::string& message) {
  error_ = "line " + std::to_string(step.line) + ": " + message + ": " + step.command;
  return false;
}

bool ScenarioRunner::ensure_world() {
  if (world_) return true;
  world_ = std::make_unique<World>(config_, /*scripted=*/true);
  world_->set_trace([this](const std::string& line) {
    if (sink_ != nullptr) sink_->push_back(line);
  });
  return true;
}

// One parsed command line, as its handler reads it.
struct ScenarioRunner::Command {
  const Step& step;
  Args args;
  std::uint8_t orch = 0;  // orch=N, from 0
  std::vector<std::string>& out;
};

bool ScenarioRunner::execute(const Step& step, std::vector<std::string>& out) {
  const std::vector<std::string> tokens = tokenize(step.command);
  const std::string& name = tokens[0];
  Command command{step, parse_args(tokens, 1), 0, out};
  if (std::optional<std::string> o = command.args.option("orch")) {
    const std::optional<std::uint64_t> n = parse_number(*o);
    if (!n || *n < 1 || *n > config_.orchestrators) return usage(step, "no such orchestrator");
    command.orch = static_cast<std::uint8_t>(*n - 1);
  }
  if (name == "config") return command_config(command);
  ensure_world();
  const Handler handler = handler_for(name);
  if (handler == nullptr) return usage(step, "unknown command");
  return (this->*handler)(command);
}

ScenarioRunner::Handler ScenarioRunner::handler_for(const std::string& name) {
  static constexpr std::pair<std::string_view, Handler> kCommands[] = {
      {"join", &ScenarioRunner::command_join},     {"exec", &ScenarioRunner::command_exec},
      {"submit", &ScenarioRunner::command_submit}, {"cancel", &ScenarioRunner::command_cancel},
      {"kill", &ScenarioRunner::command_kill},     {"leave", &ScenarioRunner::command_leave},
      {"break", &ScenarioRunner::command_break},   {"post", &ScenarioRunner::command_post},
      {"tick", &ScenarioRunner::command_tick},     {"state", &ScenarioRunner::command_state},
      {"drain", &ScenarioRunner::command_drain},
  };
  for (const auto& [command, handler] : kCommands) {
    if (command == name) return handler;
  }
  return nullptr;
}

std::optional<std::uint32_t> ScenarioRunner::worker_arg(const Command& c) const {
  if (c.args.words.empty()) return std::nullopt;
  return world_->find_worker(c.args.words[0]);
}

bool ScenarioRunner::command_config(const Command& c) {
  if (world_) return usage(c.step, "config must come before every other command");
  for (const auto& [key, value] : c.args.options) {
    if (key == "attempt_timeout" || key == "job_deadline" || key == "slot_reclaim") {
      const std::optional<Micros> d = parse_duration(value);
      if (!d || *d <= 0) return usage(c.step, "bad duration " + value);
      (key == "attempt_timeout" ? config_.attempt_timeout
                                : key == "job_deadline" ? config_.job_deadline : config_.slot_reclaim) = *d;
    } else if (key == "quarantine_cooldown" || key == "quarantine_max_cooldown") {
      const std::optional<Micros> d = parse_duration(value);
      if (!d || *d <= 0) return usage(c.step, "bad duration " + value);
      (key == "quarantine_cooldown" ? config_.quarantine_cooldown : config_.quarantine_max_cooldown) = *d;
    } else if (key == "quarantine_after") {
      const std::optional<std::uint64_t> n = parse_number(value);
      if (!n || *n > 255) return usage(c.step, "bad number " + value);
      config_.quarantine_after = static_cast<std::uint32_t>(*n);
    } else if (key == "queue_limit" || key == "orchestrators") {
      const std::optional<std::uint64_t> n = parse_number(value);
      if (!n || *n == 0 || *n > 255) return usage(c.step, "bad number " + value);
      (key == "queue_limit" ? config_.queue_limit : config_.orchestrators) = static_cast<std::uint32_t>(*n);
    } else {
      return usage(c.step, "unknown setting " + key);
    }
  }
  return true;
}

bool ScenarioRunner::command_join(const Command& c) {
  const Args& args = c.args;
  if (args.words.empty()) return usage(c.step, "join needs a worker name");
  std::vector<Advert> adverts;
  for (std::size_t i = 1; i < args.words.size(); ++i) {
    const std::optional<Key> key = parse_key(args.words[i]);
    if (!key) return usage(c.step, "bad key " + args.words[i]);
    adverts.push_back(Advert{*key, 1});
  }
  std::size_t cap_index = 0;
  for (const auto& [key, value] : args.options) {
    if (key != "cap") continue;
    const std::optional<std::uint64_t> n = parse_number(value);
    if (!n || cap_index >= adverts.size()) return usage(c.step, "cap= without a key before it");
    adverts[cap_index++].capacity = static_cast<std::uint32_t>(*n);
  }
  const std::uint32_t w = world_->scripted_worker(args.words[0], adverts);
  const std::string secret = args.option("secret").value_or(world_->secret());
  world_->scripted_join(w, c.orch, secret);
  return true;
}

bool ScenarioRunner::command_exec(const Command& c) {
  const std::optional<std::uint32_t> w = worker_arg(c);
  if (!w) return usage(c.step, "unknown worker");
  ExecProfile profile;
  const std::optional<Micros> latency = parse_duration(c.args.option("latency").value_or("1s"));
  if (!latency) return usage(c.step, "bad latency");
  profile.latency_min = *latency;
  profile.latency_max = *latency;
  for (std::size_t i = 1; i < c.args.words.size(); ++i) {
    const std::string& word = c.args.words[i];
    if (word == "fail") {
      profile.kind = ProfileKind::kFailing;
      profile.fail = Ratio{1, 1};
    } else if (word == "manual") {
      profile.kind = ProfileKind::kManual;
    } else if (word == "lose") {
      profile.loses_notices = true;
    } else if (word != "ok") {
      return usage(c.step, "unknown exec behaviour " + word);
    }
  }
  world_->scripted_exec(*w, profile);
  return true;
}

bool ScenarioRunner::command_submit(const Command& c) {
  if (c.args.words.size() != 2) return usage(c.step, "submit needs a job name and a key");
  const std::optional<Key> key = parse_key(c.args.words[1]);
  if (!key) return usage(c.step, "bad key");
  if (world_->find_job(c.orch, c.args.words[0])) return usage(c.step, "job name used twice");
  world_->scripted_submit(c.orch, *key, c.args.words[0]);
  return true;
}

bool ScenarioRunner::command_cancel(const Command& c) {
  if (c.args.words.empty()) return usage(c.step, "cancel needs a job name");
  const std::optional<JobId> job = world_->find_job(c.orch, c.args.words[0]);
  if (!job) return usage(c.step, "unknown job");
  world_->scripted_cancel(c.orch, *job);
  return true;
}

bool ScenarioRunner::command_kill(const Command& c) {
  const std::optional<std::uint32_t> w = worker_arg(c);
  if (!w) return usage(c.step, "unknown worker");
  world_->scripted_kill(*w);
  return true;
}

bool ScenarioRunner::command_leave(const Command& c) {
  const std::optional<std::uint32_t> w = worker_arg(c);
  if (!w) return usage(c.step, "unknown worker");
  world_->scripted_leave(*w);
  return true;
}

bool ScenarioRunner::command_break(const Command& c) {
  const std::optional<std::uint32_t> w = worker_arg(c);
  if (!w) return usage(c.step, "unknown worker");
  world_->scripted_break(*w, c.orch);
  return true;
}

bool ScenarioRunner::command_post(const Command& c) {
  const Args& args = c.args;
  const std::optional<std::uint32_t> w = worker_arg(c);
  if (!w) return usage(c.step, "unknown worker");
  const std::optional<std::uint64_t> task = parse_number(args.option("task").value_or(""));
  if (!task) return usage(c.step, "post needs task=N");
  const bool ok = args.words.size() > 1 && args.words[1] == "ok";
  const std::optional<std::string> error = args.option("error");
  if (ok == error.has_value()) return usage(c.step, "post needs ok or error=TEXT");
  std::optional<WorkerId> from = world_->session_id(*w, c.orch);
  if (std::optional<std::string> who = args.option("from")) {
    if (*who == "none") {
      from.reset();
    } else {
      const std::optional<std::uint32_t> other = world_->find_worker(*who);
      if (!other) return usage(c.step, "unknown worker " + *who);
      from = world_->session_id(*other, c.orch);
    }
  }
  bool rejected = false;  // RETRY-6: `post w1 task=3 error="invalid request: ..." rejected`
  for (std::size_t i = 1; i < args.words.size(); ++i) rejected = rejected || args.words[i] == "rejected";
  if (rejected && ok) return usage(c.step, "only an error can reject the input");
  world_->scripted_post(c.orch, *w, static_cast<TaskId>(*task), ok, error.value_or(""),
                        args.option("secret").value_or(world_->secret()), from, rejected);
  return true;
}

bool ScenarioRunner::command_tick(const Command& c) {
  const std::optional<Micros> d =
      c.args.words.empty() ? std::nullopt : parse_duration(c.args.words[0]);
  if (!d) return usage(c.step, "tick needs a duration");
  world_->run_until(world_->now() + *d);
  return true;
}

bool ScenarioRunner::command_state(const Command& c) {
  std::istringstream lines(world_->scripted_state(c.orch));
  std::string line;
  while (std::getline(lines, line)) c.out.push_back(line);
  return true;
}

bool ScenarioRunner::command_drain(const Command& /*c*/) {
  world_->scripted_drain();
  return true;
}

bool ScenarioRunner::run(const std::string& text) {
  std::vector<Step> steps;
  std::vector<std::string> trailing;
  if (!parse(text, steps, trailing)) return false;
  rewritten_.clear();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    for (const std::string& line : step.before) rewritten_ += line + "\n";
    rewritten_ += step.command + "\n";
    std::vector<std::string> out;
    const bool stopped = world_failed();
    if (!stopped) {
      sink_ = &out;
      const bool ok = execute(step, out);
      sink_ = nullptr;
      if (!ok) return false;
      ++commands_;
      if (echo_) {
        echo_("> " + step.command);
        for (const std::string& line : out) echo_("  " + line);
      }
    }
    const std::vector<std::string>& actual = stopped ? step.expected : out;
    if (!stopped && actual != step.expected) {
      ++mismatches_;
      mismatch_report_ += "line " + std::to_string(step.line) + ": " + step.command + "\n  expected:\n";
      for (const std::string& line : step.expected) mismatch_report_ += "    " + line + "\n";
      if (step.expected.empty()) mismatch_report_ += "    (nothing)\n";
      mismatch_report_ += "  got:\n";
      for (const std::string& line : actual) mismatch_report_ += "    " + line + "\n";
      if (actual.empty()) mismatch_report_ += "    (nothing)\n";
    }
    if (!actual.empty() || (stopped && step.has_block)) {
      rewritten_ += "----\n";
      for (const std::string& line : actual) rewritten_ += line + "\n";
      rewritten_ += "\n";
    } else if (step.has_block && i + 1 < steps.size()) {
      rewritten_ += "\n";
    }
  }
  for (const std::string& line : trailing) rewritten_ += line + "\n";
  return true;
}

}  // namespace aipool::sim
