// File: speech_ocr_request.h
// The request parsing shared by the OCR and speech executors (src/exec/ocr.h,
// src/exec/speech.h): the job's JSON (WIRE-4) with `model_id`, a base64 file field
// and a few string fields. Errors read like the diagnostic executor's:
// `invalid request: image is not valid base64`.
//
// Contract: pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "seams/executor.h"

namespace aipool::exec {

struct FileRequest {
  std::string file;                                  // the decoded file field
  std::map<std::string, std::string> strings;        // the string fields asked for that are present
};

// Parses `request`: a JSON object with a string `model_id`, the base64 file under
// `file_field` (required), and each of `string_fields` when present (a string, or a
// boolean given as "true"/"false"). On failure returns the failed ExecResult.
std::variant<FileRequest, ExecResult> parse_file_request(const ExecRequest& request, const std::string& file_field,
                                                         std::initializer_list<const char*> string_fields);

ExecResult exec_failure(std::string error);

}  // namespace aipool::exec
