// Tests of the JSON form of log lines (src/net/log_line.h, spec/api.md LOG-2).
#include "net/log_line.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <string>

namespace aipool::net {
namespace {

Poco::JSON::Object::Ptr parse(const std::string& line) {
  Poco::JSON::Parser parser;
  return parser.parse(line).extract<Poco::JSON::Object::Ptr>();
}

// LOG-2: named fields, ids as strings, numbers as numbers.
TEST(LogLine, FieldsMakeOneJsonObject) {
  LogFields line("attempt");
  line.add_id("task", 9063640117273663895ULL).add("job", std::uint64_t{3}).add("model", "test/echo");
  line.add("ms", 1.25).add("attempts", std::uint32_t{2});
  EXPECT_EQ(line.json(),
            R"({"event":"attempt","task":"9063640117273663895","job":3,"model":"test/echo","ms":1.250,"attempts":2})");
  auto object = parse(line.json());
  EXPECT_EQ(object->getValue<std::string>("task"), "9063640117273663895");
}

// LOG-1, LOG-2: a string from a client can neither break the line nor the JSON:
// control bytes are escaped, bytes outside UTF-8 become U+FFFD, long text is cut.
TEST(LogLine, HostileStringsStayOneValidLine) {
  const std::string hostile = std::string("a\"b\\c\nd\x01") + "\xff\xc3(" + "\xe2\x82\xac";  // ... then a real euro sign
  LogFields line("job");
  line.add("model", hostile);
  const std::string json = line.json();
  EXPECT_EQ(json.find('\n'), std::string::npos);
  auto object = parse(json);
  EXPECT_EQ(object->getValue<std::string>("model"), "a\"b\\c\nd\x01\xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac");
  const std::string long_text(1000, 'x');
  EXPECT_EQ(log_json_string(long_text), "\"" + std::string(256, 'x') + "...(1000 bytes)\"");
}

}  // namespace
}  // namespace aipool::net
