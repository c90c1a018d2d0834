// The simulator checks itself: a run replays exactly, the scenario runner
// notices a wrong trace, and the checker notices a core that disagrees with the
// reference model.
#include <gtest/gtest.h>

#include "property_harness.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace aipool::sim {
namespace {

// Proves a seed replays exactly: two runs give the same running hash after
// every event (SEL-6, DET-1), and a different seed gives a different run.
TEST(SimWorld, SameSeedSameRun) {
  RunOptions options;
  options.swarm = true;
  const SeedRun run = run_seed(make_config(12345, options), /*check_determinism=*/true);
  EXPECT_TRUE(run.passed()) << run.failure.rule << ": " << run.failure.message;
  World a(make_config(12345, options));
  World b(make_config(12346, options));
  a.run();
  b.run();
  EXPECT_NE(a.hash(), b.hash());
}

// Proves the determinism check names the first event that differs: a run
// compared against another seed's hashes fails at event 1 (SEL-6).
TEST(SimWorld, DeterminismCheckNamesTheFirstDifference) {
  std::vector<std::uint64_t> hashes;
  World first(make_config(1, RunOptions{}));
  first.record_hashes(&hashes);
  first.run();
  ASSERT_FALSE(first.failed());
  World other(make_config(2, RunOptions{}));
  other.expect_hashes(&hashes);
  other.run();
  ASSERT_TRUE(other.failed());
  EXPECT_EQ(other.failure().kind, FailureKind::kNondeterminism);
  EXPECT_EQ(other.failure().event, 1U);
}

// Proves a scenario whose expected trace is wrong fails, and one that matches
// passes (the golden files mean something). Cites SEL-2.
TEST(SimScenario, WrongExpectedTraceIsAMismatch) {
  const std::string text =
      "join w1 text-to-image/m cap=1\n"
      "----\n"
      "@0s w1 joins as worker 1 (text-to-image/m cap=1)\n"
      "\n"
      "submit j1 text-to-image/m\n"
      "----\n"
      "@0s j1 submitted for text-to-image/m\n"
      "@0s task 1: j1 -> w2\n"
      "@0s w1 starts task 1\n";
  ScenarioRunner runner;
  ASSERT_TRUE(runner.run(text)) << runner.error();
  EXPECT_EQ(runner.mismatches(), 1);
  EXPECT_FALSE(runner.world_failed());
  ScenarioRunner again;
  ASSERT_TRUE(again.run(runner.rewritten()));
  EXPECT_EQ(again.mismatches(), 0);
}

// Proves a malformed scenario is rejected with its line number.
TEST(SimScenario, SyntaxErrorsNameTheLine) {
  ScenarioRunner runner;
  EXPECT_FALSE(runner.run("join w1 text-to-image/m cap=1\nfrobnicate w1\n"));
  EXPECT_NE(runner.error().find("line 2"), std::string::npos);
}

// Proves the checker catches a core that differs from the model: a join the
// model saw and the core did not is reported against CONN-5.
TEST(SimChecker, NoticesACoreThatDiffersFromTheModel) {
  test::Harness sut;
  ReferenceModel model(test::property_config());
  const std::vector<Advert> adverts = {Advert{Key{Pipeline::kTextToImage, "m"}, 1}};
  model.join(1, test::kSecret, adverts);
  const std::optional<Violation> v = check_against_model(sut.broker, model, sut.clock);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->rule, "CONN-5");
}

// Proves the checker catches an effect the model did not expect (SEL-2).
TEST(SimChecker, NoticesADifferentDecision) {
  Effect a;
  a.kind = Effect::Kind::kSend;
  a.worker = 1;
  a.task = 1;
  a.job = 1;
  Effect b = a;
  b.worker = 2;
  const std::optional<Violation> v = check_effects({a}, {b});
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->rule, "SEL-2");
}

}  // namespace
}  // namespace aipool::sim
