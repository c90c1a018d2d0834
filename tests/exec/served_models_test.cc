// Tests of src/exec/served_models.h: from the worker's aiModels entries to the one
// executor that serves them (spec/models.md MODEL-1), with the errors and warnings
// that name the entry.
#include "exec/served_models.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "codec/model_config.h"
#include "exec_test_support.h"

namespace aipool::exec {
namespace {

using exec_test::request;
using exec_test::run;

std::vector<ModelSpec> specs_of(const std::string& json) {
  codec::ModelConfigResult parsed = codec::parse_models_json(json, "test.json");
  if (const auto* error = std::get_if<codec::ModelConfigError>(&parsed)) ADD_FAILURE() << error->message;
  if (!std::holds_alternative<std::vector<codec::ModelEntry>>(parsed)) return {};
  return model_specs(std::get<std::vector<codec::ModelEntry>>(parsed));
}

struct Built {
  std::unique_ptr<ServedModels> models;
  std::string error;
  std::vector<std::string> warnings;
};

Built build(const std::vector<ModelSpec>& specs) {
  Built out;
  auto built = build_router(specs, EngineOptions{}, [&](const std::string& w) { out.warnings.push_back(w); });
  if (auto* error = std::get_if<std::string>(&built)) out.error = *error;
  else out.models = std::move(std::get<std::unique_ptr<ServedModels>>(built));
  return out;
}

// Proves model_specs keeps what an executor needs, the runner's url and token included (RUN-1).
TEST(ServedModels, SpecsKeepWhatTheExecutorNeeds) {
  const std::vector<ModelSpec> specs = specs_of(
      R"([{"pipeline":"upscale","model_id":"m","warm":true,"capacity":3,"executor":"test/echo","steps":4},
          {"pipeline":"text-to-image","model_id":"test/fail","url":"http://runner:8000","token":"t0ken"}])");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].key, (Key{Pipeline::kUpscale, "m"}));
  EXPECT_TRUE(specs[0].warm);
  EXPECT_EQ(specs[0].capacity, 3u);
  EXPECT_NE(specs[0].executor_json.find("\"executor\""), std::string::npos) << specs[0].executor_json;
  EXPECT_TRUE(specs[0].url.empty());
  EXPECT_TRUE(specs[0].token.empty());
  EXPECT_EQ(specs[1].url, "http://runner:8000");
  EXPECT_EQ(specs[1].token, "t0ken");
}

// MODEL-1: each served key runs on the engine its entry names (its `executor` field, else
// its model_id); a key no entry serves fails; unused fields and a token without a url are warned about.
TEST(ServedModels, EachEntryRunsOnItsEngine) {
  Built built = build(specs_of(
      R"([{"pipeline":"text-to-image","model_id":"ByteDance/SDXL-Lightning","executor":"test/echo","steps":4},
          {"pipeline":"text-to-image","model_id":"test/fail","token":"t0ken"}])"));
  ASSERT_TRUE(built.models) << built.error;
  ServedModels& models = *built.models;
  EXPECT_TRUE(models.supports({Pipeline::kTextToImage, "ByteDance/SDXL-Lightning"}));
  EXPECT_TRUE(models.supports({Pipeline::kTextToImage, "test/fail"}));
  EXPECT_FALSE(models.supports({Pipeline::kTextToImage, "test/echo"}));
  EXPECT_TRUE(run(models, request(Pipeline::kTextToImage, "ByteDance/SDXL-Lightning", R"("prompt":"p")")).ok);
  EXPECT_EQ(run(models, request(Pipeline::kTextToImage, "test/fail", R"("prompt":"p")")).error,
            DiagnosticExecutor::kFailError);
  EXPECT_EQ(run(models, request(Pipeline::kUpscale, "test/echo", R"("prompt":"p")")).error,
            "model not served by this worker: upscale/test/echo");
  ASSERT_EQ(built.warnings.size(), 2u);
  EXPECT_EQ(built.warnings[0], "aiModels entry 0: field 'steps' is not used by engine test/echo");
  EXPECT_EQ(built.warnings[1], "aiModels entry 1: token is used with a url only (an external runner); ignored");
  for (const std::string& warning : built.warnings) EXPECT_EQ(warning.find("t0ken"), std::string::npos);
}

// MODEL-1: an entry that names no engine of this worker stops the start, naming the entry.
TEST(ServedModels, ErrorsNameTheEntry) {
  Built built = build(specs_of(R"([{"pipeline":"text-to-image","model_id":"test/echo","extra":1},
                                   {"pipeline":"text-to-image","model_id":"nobody/serves-this"}])"));
  EXPECT_FALSE(built.models);
  EXPECT_EQ(built.error.rfind("aiModels entry 1: no executor serves text-to-image/nobody/serves-this; ", 0), 0u)
      << built.error;
  EXPECT_EQ(built.warnings, std::vector<std::string>{"aiModels entry 0: field 'extra' is not used by engine test/echo"});

  built = build(specs_of(R"([{"pipeline":"text-to-image","model_id":"a"},
                             {"pipeline":"text-to-image","model_id":"b","executor":7}])"));
  EXPECT_EQ(built.error, "aiModels entry 1: executor must be a string naming an engine model");

  ModelSpec not_an_object;
  not_an_object.key = {Pipeline::kTextToImage, "test/echo"};
  not_an_object.executor_json = "[1]";
  built = build({not_an_object});
  EXPECT_EQ(built.error.rfind("aiModels entry 0: executor fields are not a JSON object: ", 0), 0u) << built.error;
}

}  // namespace
}  // namespace aipool::exec
