#include "exec/request_json.h"
#include "exec/speech_ocr_request.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "codec/base64.h"

namespace aipool::exec {

ExecResult exec_failure(std::string error) {
  ExecResult result;
  result.ok = false;
  result.error = std::move(error);
  return result;
}

namespace {
ExecResult invalid(const std::string& what) { return exec_failure("invalid request: " + what); }
}  // namespace

std::variant<FileRequest, ExecResult> parse_file_request(const ExecRequest& request, const std::string& file_field,
                                                         std::initializer_list<const char*> string_fields) {
  auto parsed = request_object(request);
  if (auto* error = std::get_if<std::string>(&parsed)) return invalid(*error);
  const Poco::JSON::Object::Ptr object = std::get<Poco::JSON::Object::Ptr>(parsed);
  if (!object->get("model_id").isString()) return invalid("model_id is required and must be a string");
  FileRequest out;
  const Poco::Dynamic::Var file = object->get(file_field);
  if (file.isEmpty()) return invalid(file_field + " is required (base64)");
  if (!file.isString()) return invalid(file_field + " must be a base64 string");
  std::optional<std::string> bytes = codec::base64_decode(file.extract<std::string>());
  if (!bytes) return invalid(file_field + " is not valid base64");
  out.file = std::move(*bytes);
  for (const char* name : string_fields) {
    const Poco::Dynamic::Var v = object->get(name);
    if (v.isEmpty()) continue;
    if (v.isBoolean()) {
      out.strings[name] = v.extract<bool>() ? "true" : "false";
    } else if (v.isString()) {
      out.strings[name] = v.extract<std::string>();
    } else {
      return invalid(std::string(name) + " must be a string");
    }
  }
  return out;
}

}  // namespace aipool::exec
