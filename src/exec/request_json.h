// File: request_json.h
// Reads a job's request JSON (WIRE-4) as an object, for the executors. One place for
// the three ways it can be wrong, so every executor words them the same.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <variant>

#include "seams/executor.h"

namespace aipool::exec {

// The request as a JSON object, or why not: "empty request", "not a JSON object",
// "not valid JSON: <parser message>".
std::variant<Poco::JSON::Object::Ptr, std::string> request_object(const ExecRequest& request);

}  // namespace aipool::exec
