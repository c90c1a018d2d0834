// File: runner_json.h
// A shallow, zero-copy reader of JSON objects and arrays for the external runner
// engine (spec/runners.md): it splits one level of an object into its members, or of
// an array into its elements, as views into the text, without building a document.
// Jobs and runner answers carry megabytes of base64 in single strings; a full parser
// would copy them into a DOM only for the runner engine to copy them out again.
//
// The reader checks structure (quotes, brackets, commas, colons), not the full JSON
// grammar: a job reaching an executor has been checked by the worker (WIRE-4), and a
// runner's answer is checked by the client that reads it.
//
// Contract: pure functions; the views point into the text passed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aipool::exec::runner_json {

struct Member {
  std::string key;         // decoded
  std::string_view value;  // the value's JSON text, e.g. "\"abc\"", "12", "{...}"
};

// The members of the object `text` (white space around it allowed), in order;
// nullopt when it is not an object.
std::optional<std::vector<Member>> object_members(std::string_view text);
// The elements of the array `text`; nullopt when it is not an array.
std::optional<std::vector<std::string_view>> array_elements(std::string_view text);
// The decoded string when `value` is a JSON string, else nullopt.
std::optional<std::string> string_value(std::string_view value);
// The member `key` of `members` (the last one when it repeats), or nullptr.
const Member* find(const std::vector<Member>& members, std::string_view key);

}  // namespace aipool::exec::runner_json
