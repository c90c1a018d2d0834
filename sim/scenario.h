// File: scenario.h
// Golden scenarios: a small text language that drives a scripted World and
// compares what happens with the expected trace written under each command
// (etcd raft's datadriven files). The reference model and every invariant are
// checked after each event as in any run.
//
//   # a comment; cite the rules the file proves, e.g. SEL-2
//   config attempt_timeout=10s job_deadline=60s slot_reclaim=30s queue_limit=4 orchestrators=2
//          quarantine_after=3 quarantine_cooldown=30s quarantine_max_cooldown=10m   (QUAR-2)
//   join w1 text-to-image/m cap=2 image-to-text/x cap=1 [orch=2] [secret=WRONG]
//   exec w1 [latency=2s] [fail] [manual] [lose]  (lose: its job notices never arrive)
//   submit j1 text-to-image/m [orch=2]
//   cancel j1 [orch=2]
//   kill w1             the process dies; every orchestrator notices at once
//   leave w1            it disconnects; its running jobs still finish and post
//   break w1 [orch=2]   its stream breaks; the orchestrator finds out at the next send
//   post w1 task=3 ok|error="text" [rejected] [secret=WRONG] [from=w2|none] [orch=2]
//                       rejected: the error rejects the request itself (RETRY-6)
//   tick 5s             let 5 s of simulated time pass
//   state [orch=2]      rotation queues with slots (and a seat's quarantine state
//                       when it is not healthy, QUAR-6), waiting jobs, open jobs
//   drain               run until nothing is left to happen
//   ----
//   @0s the expected trace lines of the command above, up to a blank line
//
// A command with no "----" block must produce no output. `config` comes before
// any other command. Orchestrators are numbered from 1. Scripted workers run
// each job for 1 s and succeed unless `exec` says otherwise; notices and uploads
// take no time.
//
// Contract: single-threaded; one runner per scenario.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/world.h"

namespace aipool::sim {

class ScenarioRunner {
 public:
  // `echo` receives each command and its output as it runs (may be empty).
  explicit ScenarioRunner(std::function<void(const std::string&)> echo = {});
  ~ScenarioRunner();

  // Runs the scenario text. False on a syntax or usage error (error() says
  // where); true otherwise, whatever the outcome of the checks.
  bool run(const std::string& text);

  const std::string& error() const { return error_; }
  // Commands whose output differed from the expected trace, with both.
  int mismatches() const { return mismatches_; }
  const std::string& mismatch_report() const { return mismatch_report_; }
  // The world's own failure (an invariant or the model), if any.
  bool world_failed() const { return world_ && world_->failed(); }
  const World* world() const { return world_.get(); }
  std::size_t commands() const { return commands_; }
  // The scenario with every expected block replaced by what happened.
  const std::string& rewritten() const { return rewritten_; }

 private:
  struct Step;
  struct Command;
  // A command's handler; false (from usage()) on a usage error.
  using Handler = bool (ScenarioRunner::*)(const Command&);

  bool parse(const std::string& text, std::vector<Step>& steps, std::vector<std::string>& trailing);
  // Parses the step's command and hands it to its handler; out receives its trace.
  bool execute(const Step& step, std::vector<std::string>& out);
  static Handler handler_for(const std::string& name);  // nullptr: no such command
  bool ensure_world();
  bool usage(const Step& step, const std::string& message);
  std::optional<std::uint32_t> worker_arg(const Command& command) const;  // the first word

  // One handler per command of the language above (config: before the world exists).
  bool command_config(const Command& command);
  bool command_join(const Command& command);
  bool command_exec(const Command& command);
  bool command_submit(const Command& command);
  bool command_cancel(const Command& command);
  bool command_kill(const Command& command);
  bool command_leave(const Command& command);
  bool command_break(const Command& command);
  bool command_post(const Command& command);
  bool command_tick(const Command& command);
  bool command_state(const Command& command);
  bool command_drain(const Command& command);

  std::function<void(const std::string&)> echo_;
  WorldConfig config_;
  std::unique_ptr<World> world_;
  std::vector<std::string>* sink_ = nullptr;
  std::string error_;
  std::string mismatch_report_;
  std::string rewritten_;
  int mismatches_ = 0;
  std::size_t commands_ = 0;
};

}  // namespace aipool::sim
