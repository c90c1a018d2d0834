#include "codec/result_codec.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <typeinfo>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "codec/multipart.h"
#include "codec/text.h"

namespace aipool::codec {
namespace {

std::string make_boundary() {
  static std::atomic<std::uint64_t> counter{0x9e3779b97f4a7c15ULL};
  std::uint64_t x = counter.fetch_add(0x9e3779b97f4a7c15ULL) ^ 0xd1b54a32d192ed03ULL;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "aipool-";
  for (int i = 0; i < 16; ++i) out += kHex[(x >> (i * 4)) & 0xF];
  return out;
}

DecodeResult fail(std::optional<TaskId> task, std::string message) {
  DecodeResult r;
  r.failure.task = task;
  r.failure.message = std::move(message);
  return r;
}

// RES-10: the JSON form's TaskID, a JSON integer. Poco's parser reads an integer
// token as Int64 (UInt64 above 2^63 - 1) and anything with a point or an exponent as
// a double, so an Int64 holds the token exactly; a string, a boolean, a double or
// null is refused, not converted.
std::optional<TaskId> json_task_id(const Poco::Dynamic::Var& value) {
  if (value.type() != typeid(Poco::Int64) && value.type() != typeid(int) && value.type() != typeid(unsigned)) {
    return std::nullopt;
  }
  const auto task = value.convert<Poco::Int64>();
  if (task < 1) return std::nullopt;
  return static_cast<TaskId>(task);
}

DecodeResult decode_json_form(std::optional<TaskId> header_task, std::string_view body) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(std::string(body));
    object = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return fail(header_task, std::string("result body is not a JSON object: ") + e.what());
  }
  if (!object) return fail(header_task, "result body is not a JSON object");
  std::optional<TaskId> task = header_task;
  if (object->has("TaskID")) {
    const std::optional<TaskId> body_task = json_task_id(object->get("TaskID"));
    if (!body_task) return fail(std::nullopt, "TaskID must be an integer from 1 to 9223372036854775807");
    if (header_task && *header_task != *body_task) {
      return fail(std::nullopt, "TaskID " + std::to_string(*body_task) + " differs from the TaskId header " +
                                    std::to_string(*header_task));
    }
    task = body_task;
  }
  if (!task) return fail(std::nullopt, "missing TaskID");
  ResultPost post;
  post.task = *task;
  std::string err;
  if (object->has("Err") && !object->get("Err").isEmpty()) {
    try {
      err = object->getValue<std::string>("Err");
    } catch (const std::exception&) {
      return fail(task, "Err must be a string");
    }
  }
  if (!err.empty()) {
    post.ok = false;
    post.error = std::move(err);
    return DecodeResult{std::move(post), {}};
  }
  std::string data;
  if (object->has("Data") && !object->get("Data").isEmpty()) {
    try {
      data = object->getValue<std::string>("Data");
    } catch (const std::exception&) {
      return fail(task, "Data must be a base64 string");
    }
  }
  std::optional<std::string> json = base64_decode(data);
  if (!json) return fail(task, "Data is not valid base64");
  if (json->empty()) return fail(task, "Data is empty and Err is empty: no result");
  post.ok = true;
  post.body.json = std::make_shared<const std::string>(std::move(*json));
  return DecodeResult{std::move(post), {}};
}

DecodeResult decode_multipart_form(std::string_view content_type, std::optional<TaskId> task,
                                   const Payload& body) {
  if (!task) return fail(std::nullopt, "multipart result without a valid TaskId header");
  const std::optional<std::string> boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty()) return fail(task, "multipart/mixed without a boundary");
  MultipartResult parsed = parse_multipart(*body, *boundary);
  if (!parsed.error.empty()) return fail(task, parsed.error);
  ResultPost post;
  post.task = *task;
  post.ok = true;
  bool have_json = false;
  for (const MultipartPart& part : parsed.parts) {
    if (media_type(part.content_type) == "application/json") {
      if (have_json) return fail(task, "multipart result has more than one application/json part");
      have_json = true;
      post.body.json = std::make_shared<const std::string>(part.content);
    } else if (part.filename) {
      post.body.files.push_back(ResultFile{*part.filename, part.content_type, SharedBytes(body, part.content)});
    }
  }
  if (!have_json) return fail(task, "multipart result has no application/json part");
  return DecodeResult{std::move(post), {}};
}

}  // namespace

std::optional<TaskId> parse_task_id(std::string_view text) {
  text = trim(text, kHeaderSpace);
  // Digits only: from_chars alone would take a leading '-'.
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  TaskId value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

std::size_t EncodedPost::size() const {
  std::size_t total = 0;
  for (const SharedBytes& piece : pieces) total += piece->size();
  return total;
}

std::string EncodedPost::joined() const {
  std::string out;
  out.reserve(size());
  for (const SharedBytes& piece : pieces) out += *piece;
  return out;
}

EncodedPost encode_json_result(Pipeline pipeline, TaskId task, bool ok, std::string_view response_json,
                               std::string_view error) {
  EncodedPost post;
  post.content_type = "application/json";
  std::string out;
  out.reserve(response_json.size() * 4 / 3 + 96 + error.size());
  out += "{\"JobType\":";
  out += std::to_string(pipeline_request_type(pipeline));
  out += ",\"TaskID\":";
  out += std::to_string(task);
  out += ",\"Data\":\"";
  if (ok) out += base64_encode(response_json);
  out += "\",\"Err\":";
  append_json_string(out, ok ? std::string_view{} : (error.empty() ? "worker error" : error));
  out += '}';
  post.pieces.emplace_back(std::make_shared<const std::string>(std::move(out)));
  return post;
}

EncodedPost encode_multipart_result(const ResultBody& body) {
  const std::string boundary = make_boundary();
  EncodedPost post;
  post.content_type = "multipart/mixed; boundary=" + boundary;
  // The framing between the files is built here; the files themselves are shared.
  std::string framing;
  for (const ResultFile& f : body.files) {
    framing += "--" + boundary + "\r\n";
    framing += "Content-Type: " + f.content_type + "\r\n";
    framing += "Content-Length: " + std::to_string(f.bytes->size()) + "\r\n";
    framing += "Content-Disposition: attachment; filename=\"" + f.name + "\"\r\n\r\n";
    post.pieces.emplace_back(std::make_shared<const std::string>(std::move(framing)));
    framing.clear();
    post.pieces.push_back(f.bytes);
    framing += "\r\n";
  }
  framing += "--" + boundary + "\r\n";
  framing += "Content-Type: application/json\r\n";
  const std::string_view json = body.json ? std::string_view(*body.json) : std::string_view("{}");
  framing += "Content-Length: " + std::to_string(json.size()) + "\r\n\r\n";
  framing += json;
  framing += "\r\n--" + boundary + "--\r\n";
  post.pieces.emplace_back(std::make_shared<const std::string>(std::move(framing)));
  return post;
}

EncodedPost encode_worker_result(Pipeline pipeline, TaskId task, ExecResult& result, std::size_t max_bytes) {
  if (result.ok && !result.body.json) {
    result.ok = false;
    result.error = "executor returned no response JSON";
  }
  const auto encode = [&] {
    if (result.ok && !result.body.files.empty()) return encode_multipart_result(result.body);  // RES-3
    return encode_json_result(pipeline, task, result.ok,
                              result.ok ? std::string_view(*result.body.json) : std::string_view{},
                              result.error);  // RES-2
  };
  EncodedPost post = encode();
  if (post.size() <= max_bytes) return post;
  result.ok = false;
  result.error = "output of " + std::to_string(post.size()) + " bytes is larger than the limit of " +
                 std::to_string(max_bytes) + " bytes";
  result.body = ResultBody{};
  return encode();
}

DecodeResult decode_result(std::string_view content_type, std::optional<std::string_view> task_header,
                           std::string_view body) {
  return decode_result(content_type, task_header, std::make_shared<const std::string>(body));
}

DecodeResult decode_result(std::string_view content_type, std::optional<std::string_view> task_header,
                           const Payload& shared_body) {
  const Payload body = shared_body ? shared_body : std::make_shared<const std::string>();
  std::optional<TaskId> header_task;
  if (task_header) {
    header_task = parse_task_id(*task_header);
    if (!header_task) return fail(std::nullopt, "TaskId header is not an integer from 1 to 9223372036854775807");
  }
  const std::string type = media_type(content_type);
  if (type == "application/json") return decode_json_form(header_task, *body);
  if (type == "multipart/mixed") return decode_multipart_form(content_type, header_task, body);
  if (type.empty()) return fail(header_task, "missing Content-Type");
  return fail(header_task, "unsupported Content-Type " + type +
                               " (use application/json or multipart/mixed)");
}

}  // namespace aipool::codec
