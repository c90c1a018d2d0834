// Unit tests of the llm and text-to-speech requests and answers (src/net/api_request.h,
// spec/llm.md, spec/api.md API-2, API-6).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/base64.h"
#include "net/api_request.h"

namespace aipool::net {
namespace {

ModelLister only(std::vector<std::string> models) {
  return [models](Pipeline) { return models; };
}

ParsedApiRequest llm(const std::string& body, std::vector<std::string> models = {"m"}) {
  return parse_api_request(Pipeline::kLlm, "application/json", body, only(std::move(models)));
}

// LLM-1: defaults are filled in, the model id travels as model_id and as model, and stream marks the job as streamed.
TEST(ApiLlm, DefaultsModelAndStream) {
  ParsedApiRequest r = llm(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.job.key, (Key{Pipeline::kLlm, "m"}));
  EXPECT_FALSE(r.job.stream);
  EXPECT_EQ(*r.job.job_json,
            R"({"model_id":"m","max_tokens":256,"messages":[{"content":"hi","role":"user"}],"model":"m",)"
            R"("stream":false,"temperature":0.7,"top_k":-1,"top_p":1})");
  EXPECT_EQ(r.job.work_units, 256);

  r = llm(R"({"model_id":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":9})");
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_TRUE(r.job.stream);
  EXPECT_NE(r.job.job_json->find(R"("model":"m")"), std::string::npos);

  r = llm(R"({"messages":[{"role":"user","content":"hi"}]})");  // API-4: the only llm model
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.job.key.model, "m");
}

// LLM-1: bad requests get 400 naming the field.
TEST(ApiLlm, BadRequestsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"model":"m"})", "missing required field 'messages'"},
      {R"({"model":"m","messages":[]})", "field 'messages' must be a non-empty array"},
      {R"({"model":"m","messages":"hi"})", "field 'messages' must be a non-empty array"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "field 'messages[0].content' must be a string"},
      {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":1,"content":"b"}]})",
       "field 'messages[1].role' must be a string"},
      {R"({"model":"m","messages":[{"role":"u","content":"a"}],"temperature":3})", "field 'temperature' must be between"},
      {R"({"model":"m","messages":[{"role":"u","content":"a"}],"max_tokens":0})", "field 'max_tokens' must be between"},
      {R"({"model":"m","messages":[{"role":"u","content":"a"}],"stream":"yes"})", "field 'stream' must be a boolean"},
      {R"({"model":"m","model_id":"n","messages":[{"role":"u","content":"a"}]})", "name different models"},
  };
  for (const auto& [body, message] : cases) {
    const ParsedApiRequest r = llm(body);
    EXPECT_FALSE(r.ok) << body;
    EXPECT_EQ(r.error.status, 400) << body;
    EXPECT_NE(r.error.message.find(message), std::string::npos) << body << " -> " << r.error.message;
  }
  const ParsedApiRequest form = parse_api_request(Pipeline::kLlm, "multipart/form-data; boundary=x", "", only({"m"}));
  EXPECT_NE(form.error.message.find("llm expects a JSON body"), std::string::npos) << form.error.message;
}

// LLM-2: the worker's answer is passed on as it is; one without choices is 502.
TEST(ApiLlm, AnswerNeedsChoices) {
  ResultBody body;
  const std::string json = R"({"id":"x","model":"m","created":1,"usage":{},"choices":[{"index":0}]})";
  body.json = std::make_shared<const std::string>(json);
  RenderedResponse r = render_api_response(Pipeline::kLlm, body);
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.json(), json);
  body.json = std::make_shared<const std::string>(R"({"id":"x"})");
  r = render_api_response(Pipeline::kLlm, body);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 502);
  EXPECT_NE(r.error.message.find("choices"), std::string::npos);
}

// API-2: text-to-speech takes text (required, 1 to 10,000 characters, counted as characters not bytes) and the ai-runner's default description.
TEST(ApiSpeech, TextAndDescription) {
  const auto tts = [](const std::string& body) {
    return parse_api_request(Pipeline::kTextToSpeech, "application/json", body, only({"v"}));
  };
  ParsedApiRequest r = tts(R"({"model_id":"v","text":"héllo"})");
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_NE(r.job.job_json->find(R"("description":"A male speaker delivers)"), std::string::npos);
  EXPECT_EQ(r.job.work_units, 5);
  EXPECT_NE(tts(R"({"model_id":"v"})").error.message.find("missing required field 'text'"), std::string::npos);
  EXPECT_NE(tts(R"({"model_id":"v","text":""})").error.message.find("1 to 10000 characters (got 0)"),
            std::string::npos);
  const std::string long_text(10001, 'a');
  EXPECT_EQ(tts(R"({"model_id":"v","text":")" + long_text + "\"}").error.status, 400);
  EXPECT_TRUE(tts(R"({"model_id":"v","text":")" + std::string(10000, 'a') + "\"}").ok);
}

// API-6: a text-to-speech answer's audio file becomes a data:audio/wav URL; a url naming no file is 502.
TEST(ApiSpeech, AudioIsADataUrl) {
  ResultBody body;
  body.json = std::make_shared<const std::string>(R"({"audio":{"url":"audio.wav"}})");
  body.files.push_back({"audio.wav", "audio/wav", std::make_shared<const std::string>("RIFFxxxx")});
  RenderedResponse r = render_api_response(Pipeline::kTextToSpeech, body);
  ASSERT_TRUE(r.ok) << r.error.message;
  EXPECT_EQ(r.json(), R"({"audio":{"url":"data:audio/wav;base64,)" + codec::base64_encode("RIFFxxxx") + "\"}}");
  body.files.clear();
  r = render_api_response(Pipeline::kTextToSpeech, body);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error.status, 502);
}

}  // namespace
}  // namespace aipool::net
