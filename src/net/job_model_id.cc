// The model_id of a job the worker received (job_model_id.h).
#include "net/job_model_id.h"

#include "codec/json_scan.h"

namespace aipool::net {

std::variant<std::string, std::string> job_model_id(const std::string& json) {
  using Result = std::variant<std::string, std::string>;
  codec::JsonMember model = codec::top_level_string_member(json, "model_id");
  switch (model.status) {
    case codec::JsonMember::Status::kFound:
      if (!model.value.empty()) return Result(std::in_place_index<0>, std::move(model.value));
      break;
    case codec::JsonMember::Status::kMissing:
    case codec::JsonMember::Status::kNotString: break;
    case codec::JsonMember::Status::kNotObject:
      return Result(std::in_place_index<1>, "invalid job request: not a JSON object");
    case codec::JsonMember::Status::kInvalid:
      return Result(std::in_place_index<1>, "invalid job request: not valid JSON: " + model.error);
  }
  return Result(std::in_place_index<1>, "invalid job request: model_id is required");
}

}  // namespace aipool::net
