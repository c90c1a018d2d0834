// Broker: attempt timeouts and job deadlines per pipeline and per model (spec/core.md
// TIME-5, LIST-4), and the messages that name the value that applied (TIME-2, TIME-3).
#include <string>

#include <gtest/gtest.h>

#include "core/broker.h"
#include "fakes.h"

namespace aipool::testing {
namespace {

constexpr Micros kSecond = kMicrosPerSecond;
const Key kImage = key_of("m", Pipeline::kTextToImage);
const Key kLlm = key_of("chat", Pipeline::kLlm);
const Key kOcr = key_of("ocr", Pipeline::kImageToText);

// One worker for each of kImage, kLlm and kOcr, capacity 4.
void join_all(Harness& h) {
  h.join_ok(1, kImage, 4);
  h.join_ok(2, kLlm, 4);
  h.join_ok(3, kOcr, 4);
}

// The outcome message of `job` after `elapsed` from now.
std::string message_after(Harness& h, JobId job, Micros elapsed) {
  h.advance_by(elapsed);
  const JobOutcome* o = h.outcome(job);
  return o == nullptr ? "<no outcome yet>" : o->message;
}

// Proves a pipeline's own attempt timeout applies to its jobs, the others keep the default, and the message names the value that applied (TIME-5, TIME-2).
TEST(BrokerTimeouts, PerPipelineAttemptTimeout) {
  BrokerConfig config = default_config();
  config.pipeline_attempt_timeout[static_cast<std::size_t>(Pipeline::kLlm)] = 20 * kSecond;
  Harness h(std::move(config));
  join_all(h);
  const JobId llm = h.submit(kLlm);
  const JobId image = h.submit(kImage);
  EXPECT_EQ(message_after(h, llm, 20 * kSecond - 1), "<no outcome yet>");
  EXPECT_NE(message_after(h, llm, 1).find("took longer than 20 s"), std::string::npos) << h.done(llm).message;
  EXPECT_EQ(h.outcome(image), nullptr);  // 300 s, the default
  EXPECT_NE(message_after(h, image, 280 * kSecond).find("took longer than 300 s"), std::string::npos);
}

// Proves a model list entry's own timeouts beat its pipeline's, which beat the default, for the attempt timeout and the job deadline, and the deadline's message names the value that applied (TIME-5, TIME-3, LIST-4).
TEST(BrokerTimeouts, PerModelBeatsPerPipelineBeatsDefault) {
  BrokerConfig config = default_config();
  config.pipeline_attempt_timeout[static_cast<std::size_t>(Pipeline::kLlm)] = 20 * kSecond;
  config.pipeline_job_deadline[static_cast<std::size_t>(Pipeline::kLlm)] = 500 * kSecond;
  config.pipeline_job_deadline[static_cast<std::size_t>(Pipeline::kImageToText)] = 42'500'000;  // 42.5 s
  ModelOffer llm_offer{kLlm, 0, 1, ""};
  llm_offer.attempt_timeout = 7 * kSecond;
  config.model_list = std::vector<ModelOffer>{llm_offer, ModelOffer{kImage, 0, 1, ""}, ModelOffer{kOcr, 0, 1, ""}};
  config.attempt_timeout = 1000 * kSecond;  // past every deadline below
  Harness h(std::move(config));
  join_all(h);
  const JobId llm = h.submit(kLlm);
  const JobId ocr = h.submit(kOcr);
  const JobId image = h.submit(kImage);
  // llm: its entry's 7 s attempt timeout, then no other worker: all failed.
  EXPECT_NE(message_after(h, llm, 7 * kSecond).find("took longer than 7 s"), std::string::npos);
  // image-to-text: its pipeline's 42.5 s deadline.
  EXPECT_EQ(message_after(h, ocr, 42'500'000 - 7 * kSecond), "job deadline exceeded after 42.5 s");
  // text-to-image: the default deadline, 900 s.
  EXPECT_EQ(message_after(h, image, 900 * kSecond - 42'500'000), "job deadline exceeded after 900 s");

}

// Proves the job deadline of a model list entry beats its pipeline's (TIME-5, TIME-3, LIST-4).
TEST(BrokerTimeouts, PerModelJobDeadline) {
  BrokerConfig config = default_config();
  config.pipeline_job_deadline[static_cast<std::size_t>(Pipeline::kTextToImage)] = 60 * kSecond;
  ModelOffer offer{kImage, 0, 1, ""};
  offer.job_deadline = 30 * kSecond;
  config.model_list = std::vector<ModelOffer>{offer};
  Harness h(std::move(config));
  h.join_ok(1, kImage, 1);
  const JobId job = h.submit(kImage);
  EXPECT_EQ(message_after(h, job, 30 * kSecond), "job deadline exceeded after 30 s");
  EXPECT_EQ(h.done(job).status, JobStatus::kDeadline);
}

}  // namespace
}  // namespace aipool::testing
