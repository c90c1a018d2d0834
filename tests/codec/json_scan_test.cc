// Tests of src/net/json_scan.h: the worker reads a job's model_id without parsing
// the job (WIRE-4), and refuses what is not JSON as a full parser would.
#include <gtest/gtest.h>

#include <Poco/JSON/Parser.h>

#include <string>

#include "codec/json_scan.h"

namespace {

using aipool::codec::json_syntax_error;
using aipool::codec::JsonMember;
using aipool::codec::top_level_string_member;
using Status = JsonMember::Status;

// Proves the member is found at the top level only, decoded with its escapes, the last of repeated keys winning (WIRE-4).
TEST(JsonScan, FindsTheTopLevelStringMember) {
  const std::string big(1 << 20, 'A');
  const std::string job = R"({"image":")" + big + R"(","nested":{"model_id":"inner"},"list":[1,-2.5e3,true,null,{"a":[]}],)" +
                          R"("model_id":"test\/echo \u00e9\ud83d\ude00\"q\"","n":0})";
  JsonMember m = top_level_string_member(job, "model_id");
  ASSERT_EQ(m.status, Status::kFound) << m.error;
  EXPECT_EQ(m.value, "test/echo \xc3\xa9\xf0\x9f\x98\x80\"q\"");
  EXPECT_EQ(top_level_string_member(R"({"model_id":"a","model_id":"b"})", "model_id").value, "b");
  EXPECT_EQ(top_level_string_member(R"({"nested":{"model_id":"inner"}})", "model_id").status, Status::kMissing);
  EXPECT_EQ(top_level_string_member(R"({"model_id":7})", "model_id").status, Status::kNotString);
  EXPECT_EQ(top_level_string_member(R"(["model_id"])", "model_id").status, Status::kNotObject);
  EXPECT_EQ(top_level_string_member(R"( {} )", "model_id").status, Status::kMissing);
}

// Proves malformed text is refused saying where, and agrees with Poco's parser on a set of valid and invalid documents (WIRE-4).
TEST(JsonScan, RefusesWhatIsNotJson) {
  const char* invalid[] = {"",          "not json",     "{",          R"({"a":})",     R"({"a" 1})",
                           R"({"a":1,})", R"([1,])",      R"({"a":01})", R"({"a":1.})",  R"({"a":"\x"})",
                           R"({"a":"\ud800"})", "{\"a\":\"\x01\"}", R"({"a":tru})", R"({} {})", R"({"a":-})"};
  for (const char* text : invalid) {
    const JsonMember m = top_level_string_member(text, "model_id");
    EXPECT_EQ(m.status, Status::kInvalid) << text;
    EXPECT_NE(m.error.find("at byte"), std::string::npos) << text;
  }
  const char* valid[] = {R"({"a":[1,2,{"b":null}],"c":"d\n","e":-0.5E+2})", R"({"model_id":""})", "\t{ }\n",
                         R"({"a":"\u0041\/"})"};
  for (const char* text : valid) {
    EXPECT_NE(top_level_string_member(text, "model_id").status, Status::kInvalid) << text;
    Poco::JSON::Parser parser;
    EXPECT_NO_THROW(parser.parse(text)) << text;
  }
  std::string deep(600, '[');
  deep += std::string(600, ']');
  EXPECT_EQ(top_level_string_member(deep, "model_id").status, Status::kInvalid);
}

// Proves json_syntax_error points at the first byte that cannot continue a JSON text,
// and finds nothing in valid text of any top-level type (LIST-1).
TEST(JsonScan, SyntaxErrorPointsAtTheFirstBadByte) {
  struct Case {
    const char* text;
    std::size_t offset;
  };
  const Case cases[] = {{"[1,}", 3}, {"[tru}", 4}, {"{\"a\" 1}", 5}, {"[1] x", 4}, {"[1", 2}, {"", 0}, {"[\"a\x01\"]", 3}};
  for (const Case& c : cases) {
    const auto error = json_syntax_error(c.text);
    ASSERT_TRUE(error.has_value()) << c.text;
    EXPECT_EQ(error->offset, c.offset) << c.text;
    EXPECT_FALSE(error->reason.empty()) << c.text;
  }
  for (const char* text : {"[1,{\"a\":null}]", "\"s\"", "1.5e3", "true", " {} "}) {
    EXPECT_FALSE(json_syntax_error(text).has_value()) << text;
  }
}

}  // namespace
