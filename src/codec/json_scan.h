// File: json_scan.h
// A JSON grammar checker that builds no document, with two uses:
//  - top_level_string_member reads one string member of a JSON object: the worker
//    learns a job's `model_id` this way before the executor parses the job, so a
//    job carrying megabytes of base64 is not parsed twice (WIRE-4);
//  - json_syntax_error finds where a text stops being JSON, for error messages
//    that give a position (the -aiModels file, LIST-1).
//
// Contract: the whole text is checked against RFC 8259's grammar (so garbage is
// refused as it would be by a full parser); string contents are skipped, not
// copied, except the member asked for, which is decoded (escapes included, \u
// surrogate pairs to UTF-8). Nesting deeper than 512 levels is refused. No
// allocation besides the result.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace aipool::codec {

struct JsonMember {
  enum class Status {
    kFound,      // `value` holds the member's string
    kMissing,    // the object has no such member
    kNotString,  // the member is there but is not a string
    kNotObject,  // the text is valid JSON but not an object
    kInvalid,    // the text is not valid JSON; `error` says where
  };
  Status status = Status::kMissing;
  std::string value;
  std::string error;
};

// The string member `key` of the top-level object in `json` (the last one when a
// key repeats, as the project's JSON parser keeps).
JsonMember top_level_string_member(std::string_view json, std::string_view key);

struct JsonSyntaxError {
  std::size_t offset = 0;  // the first byte that cannot continue valid JSON (size(): the end)
  std::string reason;      // e.g. "':' expected"
};

// Where `json` stops being valid JSON, by the same grammar; nullopt when it is valid.
std::optional<JsonSyntaxError> json_syntax_error(std::string_view json);

}  // namespace aipool::codec
