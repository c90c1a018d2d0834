// File: model_config.h
// The `-aiModels` model list, shared by the worker (what it serves, with what
// capacity) and the orchestrator (which keys it offers and at what price, LIST-1..3).
//
// Two forms are accepted, as in go-livepeer:
//  - a path to a JSON file holding go-livepeer's aiModels.json schema: an array of
//    objects with `pipeline` (string, required), `model_id` (string, required),
//    `warm` (bool, default false), `capacity` (positive integer, default 1),
//    `price_per_unit` (number, default 0), `pixels_per_unit` (positive integer,
//    default 1), `currency` (string), `gateway` (string), `url` (string), `token`
//    (string) and `optimization_flags` (object of string or bool values); aipool adds
//    `attempt_timeout` and `job_deadline` (a duration string such as "120s", or a
//    number of seconds; the orchestrator's per-model timeouts, spec/core.md LIST-4).
//    Every other key of an entry is one of the executor's own fields: they are kept,
//    as one JSON object, in ModelEntry::executor_json for the executor to read and
//    validate (aipool extension; go-livepeer ignores unknown keys).
//  - the inline form `pipeline:model_id[:warm[:capacity]][,...]`, warm being
//    `true` or `false`.
// A value is taken as a file path when a file of that name exists, or when it holds
// no ':' or ends in ".json" (then a missing file is an error that says so).
//
// Errors name the entry (0-based index) and the field, and say what is wrong, e.g.
//   aiModels entry 1: capacity must be a positive integer (got -2)
//   aiModels entry 0: unknown pipeline "foo" (expected one of text-to-image, ...)
//   aiModels file models.json: bad JSON at line 3, column 14: unexpected byte '}'
//
// Contract: pure functions apart from reading the file; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "seams/types.h"

namespace aipool::codec {

struct ModelEntry {
  Key key;
  bool warm = false;
  std::uint32_t capacity = 1;
  double price_per_unit = 0;
  std::int64_t pixels_per_unit = 1;
  std::string currency;  // empty: wei
  std::string gateway;   // empty: "default"
  std::string url;       // an external runner's base URL (unused by aipool's executors so far)
  std::string token;     // its bearer token; never log it
  std::map<std::string, std::string> optimization_flags;  // bools as "true"/"false"
  // The executor's own fields of this entry, as one JSON object ("{}" when none).
  std::string executor_json = "{}";
  // LIST-4, TIME-5: this key's own timeouts on an orchestrator; 0: not set.
  Micros attempt_timeout = 0;
  Micros job_deadline = 0;
};

struct ModelConfigError {
  std::string message;
};

// The parsed list, in the order given, or what is wrong with it.
using ModelConfigResult = std::variant<std::vector<ModelEntry>, ModelConfigError>;

// Parses the value of `-aiModels` (file path or inline form, see above). An empty
// value gives an empty list: whether that is allowed is the caller's decision.
ModelConfigResult parse_models_flag(std::string_view value);
// The JSON schema form; `origin` names the source in error messages (a file name).
ModelConfigResult parse_models_json(std::string_view json, std::string_view origin);
// The inline form `pipeline:model_id[:warm[:capacity]][,...]`.
ModelConfigResult parse_models_inline(std::string_view text);

// What a worker advertises for these entries (WIRE-3): one advert per entry.
std::vector<Advert> adverts_of(const std::vector<ModelEntry>& entries);
// What an orchestrator offers for these entries (LIST-1, LIST-3).
std::vector<ModelOffer> offers_of(const std::vector<ModelEntry>& entries);

}  // namespace aipool::codec
