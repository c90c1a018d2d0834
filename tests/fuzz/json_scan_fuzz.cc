// Fuzz target: the JSON scanner (json_scan.h) and the string writer it must read
// back (json_text.h). The input is the JSON text. Checked beyond "no crash": the
// scanner's two entry points agree on whether the text is JSON, and any bytes
// written with json_string come back unchanged as a member's value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "codec/json_scan.h"
#include "codec/json_text.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool;
  using codec::JsonMember;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  const std::optional<codec::JsonSyntaxError> syntax = codec::json_syntax_error(json);
  const JsonMember member = codec::top_level_string_member(json, "model_id");
  fuzz::fuzz_check(syntax.has_value() == (member.status == JsonMember::Status::kInvalid));
  if (syntax) fuzz::fuzz_check(syntax->offset <= size && !syntax->reason.empty());

  const std::string document = "{\"a\":[1,{\"model_id\":2}],\"model_id\":" + codec::json_string(json) + "}";
  const JsonMember back = codec::top_level_string_member(document, "model_id");
  fuzz::fuzz_check(back.status == JsonMember::Status::kFound && back.value == json);
  fuzz::fuzz_check(!codec::json_syntax_error(document).has_value());
  return 0;
}
