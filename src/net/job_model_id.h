// File: job_model_id.h
// The model_id of a job's request JSON (WIRE-4), read without parsing the whole
// request (the executor parses it, once), so that the worker can admit the job by
// its key (MULTI-2) before running it.
//
// Contract: a pure function; thread-safe.
#pragma once

#include <string>
#include <variant>

namespace aipool::net {

// The model_id (index 0), or what is wrong with the request (index 1), e.g.
// `invalid job request: model_id is required`.
std::variant<std::string, std::string> job_model_id(const std::string& json);

}  // namespace aipool::net
