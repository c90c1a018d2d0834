// File: json_scan.h
// Reads one string member of a JSON object without building a document: the
// worker learns a job's `model_id` this way before the executor parses the job,
// so a job carrying megabytes of base64 is not parsed twice (WIRE-4).
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

namespace aipool::net {

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

}  // namespace aipool::net
