// Tests of src/net/model_config.h: the -aiModels list in go-livepeer's aiModels.json
// schema and in the inline form, shared by the worker (what it serves, with what
// capacity: WIRE-3, MULTI-2) and the orchestrator (what it offers and at what price:
// LIST-1, LIST-3).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "codec/model_config.h"

namespace {

using aipool::Key;
using aipool::Pipeline;
using namespace aipool::codec;
namespace codec = aipool::codec;

std::vector<codec::ModelEntry> ok(const codec::ModelConfigResult& result) {
  if (const auto* error = std::get_if<codec::ModelConfigError>(&result)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
    return {};
  }
  return std::get<std::vector<codec::ModelEntry>>(result);
}

std::string error_of(const codec::ModelConfigResult& result) {
  if (const auto* error = std::get_if<codec::ModelConfigError>(&result)) return error->message;
  ADD_FAILURE() << "expected an error";
  return {};
}

// Expects codec::parse_models_json(json) to fail with a message containing every `parts`.
void expect_json_error(const std::string& json, std::initializer_list<std::string> parts) {
  const std::string message = error_of(codec::parse_models_json(json, "models.json"));
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected: " << part
                                                      << "\njson: " << json;
  }
}

void expect_inline_error(const std::string& text, std::initializer_list<std::string> parts) {
  const std::string message = error_of(codec::parse_models_inline(text));
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected: " << part
                                                      << "\ntext: " << text;
  }
}

class TempFile {
 public:
  explicit TempFile(const std::string& content, const std::string& suffix = ".json") {
    path_ = std::filesystem::temp_directory_path() /
            ("aipool_models_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + suffix);
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// Proves every field of go-livepeer's aiModels.json schema is read, with prices kept for the orchestrator (LIST-1, LIST-3).
TEST(ModelConfig, ParsesEveryJsonField) {
  const auto entries = ok(codec::parse_models_json(R"([
    {"pipeline": "text-to-image", "model_id": "ByteDance/SDXL-Lightning", "warm": true, "capacity": 3,
     "price_per_unit": 4768371, "pixels_per_unit": 1000000, "currency": "USD", "gateway": "0xabc",
     "url": "http://runner:8000", "token": "tok",
     "optimization_flags": {"SFAST": true, "DEEPCACHE": "false"}},
    {"pipeline": "audio-to-text", "model_id": "openai/whisper-large-v3", "price_per_unit": 0.5}
  ])", "models.json"));
  ASSERT_EQ(entries.size(), 2u);
  const codec::ModelEntry& a = entries[0];
  EXPECT_EQ(a.key, (Key{Pipeline::kTextToImage, "ByteDance/SDXL-Lightning"}));
  EXPECT_TRUE(a.warm);
  EXPECT_EQ(a.capacity, 3u);
  EXPECT_DOUBLE_EQ(a.price_per_unit, 4768371);
  EXPECT_EQ(a.pixels_per_unit, 1000000);
  EXPECT_EQ(a.currency, "USD");
  EXPECT_EQ(a.gateway, "0xabc");
  EXPECT_EQ(a.url, "http://runner:8000");
  EXPECT_EQ(a.token, "tok");
  EXPECT_EQ(a.optimization_flags.at("SFAST"), "true");
  EXPECT_EQ(a.optimization_flags.at("DEEPCACHE"), "false");
  EXPECT_EQ(a.executor_json, "{}");
  const codec::ModelEntry& b = entries[1];
  EXPECT_EQ(b.key, (Key{Pipeline::kAudioToText, "openai/whisper-large-v3"}));
  EXPECT_FALSE(b.warm);
  EXPECT_EQ(b.capacity, 1u);  // default
  EXPECT_DOUBLE_EQ(b.price_per_unit, 0.5);
  EXPECT_EQ(b.pixels_per_unit, 1);  // default

  const auto offers = codec::offers_of(entries);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0].key, a.key);
  EXPECT_DOUBLE_EQ(offers[0].price_per_unit, 4768371);
  EXPECT_EQ(offers[0].pixels_per_unit, 1000000);
  EXPECT_EQ(offers[0].currency, "USD");
  const auto adverts = codec::adverts_of(entries);
  ASSERT_EQ(adverts.size(), 2u);
  EXPECT_EQ(adverts[0].key, a.key);
  EXPECT_EQ(adverts[0].capacity, 3u);
  EXPECT_EQ(adverts[1].capacity, 1u);
}

// Proves keys outside the schema are kept, in order, as the executor's own fields (WIRE-3: the advert is unaffected).
TEST(ModelConfig, KeepsExecutorFieldsAsJson) {
  const auto entries = ok(codec::parse_models_json(
      R"([{"pipeline":"upscale","model_id":"test/echo","zeta":1,"alpha":{"x":[1,2]},"capacity":2,"device":"cuda:0"}])",
      "m.json"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].capacity, 2u);
  EXPECT_EQ(entries[0].executor_json, R"({"zeta":1,"alpha":{"x":[1,2]},"device":"cuda:0"})");
}

// Proves the inline form pipeline:model_id[:warm[:capacity]] with its defaults (WIRE-3, MULTI-2).
TEST(ModelConfig, ParsesInlineForm) {
  const auto entries =
      ok(codec::parse_models_inline("text-to-image:test/echo, image-to-text:test/echo:true ,upscale:test/sleep:FALSE:4"));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, (Key{Pipeline::kTextToImage, "test/echo"}));
  EXPECT_FALSE(entries[0].warm);
  EXPECT_EQ(entries[0].capacity, 1u);
  EXPECT_EQ(entries[1].key, (Key{Pipeline::kImageToText, "test/echo"}));
  EXPECT_TRUE(entries[1].warm);
  EXPECT_EQ(entries[2].key, (Key{Pipeline::kUpscale, "test/sleep"}));
  EXPECT_FALSE(entries[2].warm);
  EXPECT_EQ(entries[2].capacity, 4u);
}

// Proves -aiModels reads a JSON file, takes other values inline, and an empty value as no list (LIST-1, LIST-2).
TEST(ModelConfig, FlagChoosesFileOrInline) {
  const TempFile file(R"([{"pipeline":"image-to-image","model_id":"m","capacity":2}])");
  const auto from_file = ok(codec::parse_models_flag(file.path()));
  ASSERT_EQ(from_file.size(), 1u);
  EXPECT_EQ(from_file[0].key, (Key{Pipeline::kImageToImage, "m"}));
  EXPECT_EQ(from_file[0].capacity, 2u);
  const auto from_inline = ok(codec::parse_models_flag("audio-to-text:w:true:2"));
  ASSERT_EQ(from_inline.size(), 1u);
  EXPECT_EQ(from_inline[0].capacity, 2u);
  EXPECT_TRUE(ok(codec::parse_models_flag("")).empty());
  EXPECT_TRUE(ok(codec::parse_models_flag("  ")).empty());
  EXPECT_TRUE(ok(codec::parse_models_json("[]", "empty.json")).empty());
}

// Proves a missing file is reported as such, naming the path (LIST-1).
TEST(ModelConfig, MissingFileIsNamed) {
  for (const std::string path : {"/nonexistent/models.json", "models-missing", "dir/x.JSON"}) {
    const std::string message = error_of(codec::parse_models_flag(path));
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("file not found"), std::string::npos) << message;
  }
}

// Proves bad JSON is reported with its line and column (LIST-1).
TEST(ModelConfig, BadJsonGivesPosition) {
  expect_json_error("[\n  {\"pipeline\": \"upscale\",}\n]", {"models.json", "bad JSON", "line 2, column 26"});
  expect_json_error("[{\"pipeline\": tru}]", {"bad JSON", "line 1, column 18"});
  expect_json_error("[{\"a\":1}", {"bad JSON", "end of input"});
  expect_json_error("[{\"a\":1}] x", {"bad JSON", "line 1, column 11"});
  const TempFile file("[{\"pipeline\" \"upscale\"}]");
  const std::string message = error_of(codec::parse_models_flag(file.path()));
  EXPECT_NE(message.find(file.path()), std::string::npos) << message;
  EXPECT_NE(message.find("line 1, column 14"), std::string::npos) << message;
}

// Proves each schema violation names the entry index and the field, and says what is wrong (LIST-1, LIST-3).
TEST(ModelConfig, JsonFieldErrorsNameEntryAndField) {
  expect_json_error(R"({"pipeline":"upscale"})", {"expected a JSON array"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m"}, 5])", {"entry 1", "expected a JSON object"});
  expect_json_error(R"([{"model_id":"m"}])", {"entry 0", "pipeline is required"});
  expect_json_error(R"([{"pipeline":7,"model_id":"m"}])", {"entry 0", "pipeline must be a string"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m"},{"pipeline":"foo","model_id":"m"}])",
                    {"entry 1", "unknown pipeline \"foo\"", "text-to-image", "audio-to-text, llm, text-to-speech)"});
  expect_json_error(R"([{"pipeline":"upscale"}])", {"entry 0", "model_id is required"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":""}])", {"entry 0", "model_id must not be empty"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":3}])", {"entry 0", "model_id must be a string"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","warm":"yes"}])",
                    {"entry 0", "warm must be true or false", "\"yes\""});
  for (const char* capacity : {"0", "-2", "1.5", "\"2\"", "true", "4294967296"}) {
    expect_json_error(std::string(R"([{"pipeline":"upscale","model_id":"m","capacity":)") + capacity + "}]",
                      {"entry 0", "capacity must be a positive integer", "got"});
  }
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","price_per_unit":"5"}])",
                    {"entry 0", "price_per_unit must be a number", "\"5\""});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","price_per_unit":-1}])",
                    {"entry 0", "price_per_unit must be a non-negative number"});
  for (const char* pixels : {"0", "-1", "2.5", "\"100\""}) {
    expect_json_error(std::string(R"([{"pipeline":"upscale","model_id":"m","pixels_per_unit":)") + pixels + "}]",
                      {"entry 0", "pixels_per_unit must be a positive integer"});
  }
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","currency":1}])", {"entry 0", "currency must be a string"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","url":[]}])", {"entry 0", "url must be a string"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","token":{}}])", {"entry 0", "token must be a string"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","optimization_flags":"x"}])",
                    {"entry 0", "optimization_flags must be an object"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m","optimization_flags":{"A":1}}])",
                    {"entry 0", "optimization_flags.A must be a string or a bool"});
  expect_json_error(R"([{"pipeline":"upscale","model_id":"m"},{"pipeline":"upscale","model_id":"n"},)"
                    R"({"pipeline":"upscale","model_id":"m"}])",
                    {"entry 2", "duplicate entry for upscale/m", "also entry 0"});
}

// Proves a wrongly typed token is reported without echoing its value (the token is a secret).
TEST(ModelConfig, TokenErrorDoesNotEchoValue) {
  const std::string message =
      error_of(codec::parse_models_json(R"([{"pipeline":"upscale","model_id":"m","token":123456789}])", "m.json"));
  EXPECT_EQ(message.find("123456789"), std::string::npos) << message;
}

// Proves each inline-form error names the entry and says what is wrong (WIRE-5, MULTI-2).
TEST(ModelConfig, InlineErrorsNameEntry) {
  expect_inline_error("foo:m", {"entry 0", "unknown pipeline \"foo\""});
  expect_inline_error("upscale:m,bar:m", {"entry 1", "unknown pipeline \"bar\""});
  expect_inline_error("upscale", {"entry 0", "expected pipeline:model_id"});
  expect_inline_error("upscale:m:true:1:extra", {"entry 0", "expected pipeline:model_id"});
  expect_inline_error("upscale:", {"entry 0", "model_id must not be empty"});
  expect_inline_error("upscale:m:yes", {"entry 0", "warm must be true or false", "\"yes\""});
  for (const char* capacity : {"0", "-1", "x", "1.5", "99999999999"}) {
    expect_inline_error(std::string("upscale:m:true:") + capacity,
                        {"entry 0", "capacity must be a positive integer"});
  }
  expect_inline_error("upscale:m,,upscale:n", {"entry 1", "empty entry"});
  expect_inline_error("upscale:m,", {"entry 1", "empty entry"});
  expect_inline_error("upscale:m,upscale:m:true", {"entry 1", "duplicate entry for upscale/m", "also entry 0"});
}

}  // namespace

namespace {

// LIST-4: an entry's own attempt_timeout and job_deadline, as duration strings or a
// number of seconds; they stay out of the executor's fields and reach the offers.
TEST(ModelConfig, ParsesPerModelTimeouts) {
  const auto entries = ok(codec::parse_models_json(R"([
    {"pipeline":"llm","model_id":"chat","attempt_timeout":"120s","job_deadline":"30m"},
    {"pipeline":"upscale","model_id":"x","attempt_timeout":90,"job_deadline":"1500ms"},
    {"pipeline":"text-to-image","model_id":"y"}])",
                                                   "models.json"));
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].attempt_timeout, 120'000'000);
  EXPECT_EQ(entries[0].job_deadline, 1'800'000'000);
  EXPECT_EQ(entries[0].executor_json, "{}");
  EXPECT_EQ(entries[1].attempt_timeout, 90'000'000);
  EXPECT_EQ(entries[1].job_deadline, 1'500'000);
  EXPECT_EQ(entries[2].attempt_timeout, 0);  // not set: the pipeline's or the default applies
  EXPECT_EQ(entries[2].job_deadline, 0);
  const std::vector<aipool::ModelOffer> offers = codec::offers_of(entries);
  EXPECT_EQ(offers[0].attempt_timeout, 120'000'000);
  EXPECT_EQ(offers[0].job_deadline, 1'800'000'000);
}

// LIST-4, FLAG-2: a bad per-model timeout names the entry, the field and the value.
TEST(ModelConfig, PerModelTimeoutErrorsNameEntryAndField) {
  expect_json_error(R"([{"pipeline":"llm","model_id":"m","attempt_timeout":"soon"}])",
                    {"entry 0", "attempt_timeout must be a duration above 0", "\"soon\""});
  expect_json_error(R"([{"pipeline":"llm","model_id":"a"},{"pipeline":"llm","model_id":"m","job_deadline":"0s"}])",
                    {"entry 1", "job_deadline must be a duration above 0", "\"0s\""});
  expect_json_error(R"([{"pipeline":"llm","model_id":"m","job_deadline":-5}])",
                    {"entry 0", "job_deadline must be a duration above 0", "-5"});
  expect_json_error(R"([{"pipeline":"llm","model_id":"m","attempt_timeout":true}])",
                    {"entry 0", "attempt_timeout must be a duration above 0", "true"});
  expect_json_error(R"([{"pipeline":"llm","model_id":"m","attempt_timeout":"5 weeks"}])",
                    {"entry 0", "attempt_timeout"});
}

}  // namespace
