#include "exec/request_json.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

namespace aipool::exec {

std::variant<Poco::JSON::Object::Ptr, std::string> request_object(const ExecRequest& request) {
  if (!request.request_json) return std::string("empty request");
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(*request.request_json);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return std::string("not a JSON object");
    Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    if (!object) return std::string("not a JSON object");
    return object;
  } catch (const Poco::Exception& e) {
    return "not valid JSON: " + e.message();
  }
}

}  // namespace aipool::exec
