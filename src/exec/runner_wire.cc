#include "exec/runner_wire.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <atomic>
#include <cctype>
#include <sstream>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "exec/runner_json.h"

namespace aipool::exec::runner {
namespace {

using runner_json::Member;

constexpr std::size_t kMessageBytes = 256;

std::string invalid(const std::string& what) { return "invalid request: " + what; }

// "/<pipeline>" (built by append: gcc 12 warns, -Wrestrict, a false positive, on "/" + string).
std::string pipeline_path(Pipeline pipeline) {
  std::string path(1, '/');
  path.append(pipeline_name(pipeline));
  return path;
}

// The file part of a multipart pipeline: "image", "audio", or nullptr for JSON ones.
const char* file_field(Pipeline pipeline) {
  switch (pipeline) {
    case Pipeline::kImageToImage:
    case Pipeline::kUpscale:
    case Pipeline::kImageToText:
      return "image";
    case Pipeline::kAudioToText:
      return "audio";
    default:
      return nullptr;
  }
}

// A boundary that occurs in none of the parts.
std::string boundary_for(const std::vector<std::pair<std::string, std::string>>& parts) {
  static std::atomic<unsigned> counter{0};
  for (;;) {
    std::string boundary = "aipool-runner-" + std::to_string(counter.fetch_add(1)) + "-x7Qe2bNf";
    bool clash = false;
    for (const auto& part : parts) clash = clash || part.second.find(boundary) != std::string::npos;
    if (!clash) return boundary;
  }
}

// A text part's value: strings as they are, other JSON values as their text; nullopt for null.
std::optional<std::string> text_part(std::string_view value) {
  if (value == "null") return std::nullopt;
  if (!value.empty() && value.front() == '"') return runner_json::string_value(value);
  return std::string(value);
}

// The file is decoded from base64 straight into the body (no copy of it in between);
// a file that holds the boundary gets the body made again with another one.
std::variant<Request, std::string> multipart_request(Pipeline pipeline, const char* file,
                                                     const std::vector<Member>& members) {
  std::vector<std::pair<std::string, std::string>> parts;  // name, content
  std::optional<std::string_view> encoded;
  for (const Member& member : members) {
    if (member.key == file) {
      if (member.value.empty() || member.value.front() != '"') return invalid(std::string(file) + " must be a base64 string");
      encoded = member.value.substr(1, member.value.size() - 2);
      continue;
    }
    std::optional<std::string> text = text_part(member.value);
    if (text) parts.emplace_back(member.key, std::move(*text));
  }
  if (!encoded) return invalid(std::string(file) + " is required (base64)");
  for (;;) {
    const std::string boundary = boundary_for(parts);
    Request request{pipeline_path(pipeline), "multipart/form-data; boundary=" + boundary, {}};
    std::size_t size = encoded->size() / 4 * 3 + 2 * boundary.size() + 256;
    for (const auto& part : parts) size += part.first.size() + part.second.size() + boundary.size() + 128;
    request.body.reserve(size);
    const auto part_head = [&](const std::string& name) {
      request.body += "--" + boundary + "\r\nContent-Disposition: form-data; name=";
      codec::append_json_string(request.body, name);  // a quoted string; names are plain field names
    };
    for (const auto& [name, content] : parts) {
      part_head(name);
      request.body += "\r\n\r\n";
      request.body += content;
      request.body += "\r\n";
    }
    part_head(file);
    request.body += "; filename=\"" + std::string(file) + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    const std::size_t at = request.body.size();
    if (!codec::base64_decode_append(request.body, *encoded)) return invalid(std::string(file) + " is not valid base64");
    if (request.body.find(boundary, at) != std::string::npos) continue;  // boundary_for gives another next time
    request.body += "\r\n--" + boundary + "--\r\n";
    return request;
  }
}

struct DataUrl {
  std::string content_type;
  std::string extension;
  std::string bytes;
};

std::string extension_of(const std::string& type) {
  if (type == "image/jpeg") return "jpg";
  if (type == "audio/mpeg") return "mp3";
  if (type == "audio/x-wav" || type == "audio/wave") return "wav";
  const std::size_t slash = type.find('/');
  std::string sub = slash == std::string::npos ? "" : type.substr(slash + 1);
  for (char c : sub) {
    if (!std::isalnum(static_cast<unsigned char>(c)) || sub.size() > 8) return "bin";
  }
  return sub.empty() ? "bin" : sub;
}

// `data:<type>;base64,<data>`; nullopt with `error` set when it is one that cannot be decoded.
std::optional<DataUrl> decode_data_url(std::string_view url, std::string& error) {
  const std::size_t comma = url.find(',');
  const std::string_view head = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
  if (comma == std::string_view::npos || head.size() < 7 || head.substr(head.size() - 7) != ";base64") {
    error = "is a data: URL that is not base64";
    return std::nullopt;
  }
  DataUrl out;
  out.content_type = std::string(head.substr(0, head.find(';')));
  for (char& c : out.content_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.content_type.empty()) out.content_type = "application/octet-stream";
  out.extension = extension_of(out.content_type);
  std::optional<std::string> bytes = codec::base64_decode(url.substr(comma + 1));
  if (!bytes) {
    error = "is a data: URL whose base64 cannot be decoded";
    return std::nullopt;
  }
  out.bytes = std::move(*bytes);
  return out;
}

// Replaces the data: URL in `url_value` (a view into the answer) by a result file
// `<stem>.<ext>`; the new text goes to `edits`. `where` names the field for errors.
bool take_data_url(std::string_view url_value, const std::string& stem, const std::string& where, ExecResult& result,
                   std::vector<std::pair<std::string_view, std::string>>& edits, std::string& error) {
  if (url_value.size() < 7 || url_value.substr(0, 6) != "\"data:") return true;  // a plain URL: passed on
  // Base64 holds no escapes: the URL is read in place unless it has some.
  const std::string_view inner = url_value.substr(1, url_value.size() - 2);
  const bool escaped = inner.find('\\') != std::string_view::npos;
  const std::optional<std::string> unescaped = escaped ? runner_json::string_value(url_value) : std::nullopt;
  std::string why;
  std::optional<DataUrl> data;
  if (!escaped || unescaped) data = decode_data_url(unescaped ? std::string_view(*unescaped) : inner, why);
  if (!data) {
    error = "answer's " + where + " " + (escaped && !unescaped ? "is not a JSON string" : why);
    return false;
  }
  const std::string name = stem + "." + data->extension;
  result.body.files.push_back(
      ResultFile{name, data->content_type, std::make_shared<const std::string>(std::move(data->bytes))});
  edits.emplace_back(url_value, codec::json_string(name));
  return true;
}

// `answer` with each edit's view replaced by its text (views in order, inside it).
std::string apply_edits(std::string_view answer, const std::vector<std::pair<std::string_view, std::string>>& edits) {
  std::string out;
  std::size_t at = 0;
  for (const auto& [view, text] : edits) {
    const std::size_t begin = static_cast<std::size_t>(view.data() - answer.data());
    out.append(answer.substr(at, begin - at));
    out += text;
    at = begin + view.size();
  }
  out.append(answer.substr(at));
  return out;
}

}  // namespace

std::variant<Request, std::string> ai_runner_request(Pipeline pipeline, std::string_view job_json) {
  const std::optional<std::vector<Member>> members = runner_json::object_members(job_json);
  if (!members) return invalid("not a JSON object");
  if (const char* file = file_field(pipeline)) return multipart_request(pipeline, file, *members);
  return Request{pipeline_path(pipeline), "application/json", std::string(job_json)};
}

std::variant<Request, std::string> openai_request(std::string_view model, std::string_view job_json) {
  const std::optional<std::vector<Member>> members = runner_json::object_members(job_json);
  if (!members) return invalid("not a JSON object");
  const Member* messages = runner_json::find(*members, "messages");
  if (messages == nullptr || messages->value.empty() || messages->value.front() != '[') {
    return invalid("messages is required (an array)");
  }
  Request request{"/v1/chat/completions", "application/json", "{\"model\":"};
  codec::append_json_string(request.body, model);
  request.body += ",\"messages\":";
  request.body += messages->value;
  for (const char* name : {"temperature", "max_tokens", "top_p", "stream", "top_k"}) {
    const Member* field = runner_json::find(*members, name);
    if (field == nullptr || field->value == "null") continue;
    if (std::string_view(name) == "top_k" && field->value == "-1") continue;
    request.body += ",\"" + std::string(name) + "\":";
    request.body += field->value;
  }
  request.body += '}';
  return request;
}

Answer ai_runner_result(Pipeline pipeline, std::string_view answer) {
  const std::optional<std::vector<Member>> members = runner_json::object_members(answer);
  if (!members) return std::string("answer is not a JSON object");
  ExecResult result;
  result.ok = true;
  std::vector<std::pair<std::string_view, std::string>> edits;
  std::string error;
  if (pipeline == Pipeline::kTextToImage || pipeline == Pipeline::kImageToImage || pipeline == Pipeline::kUpscale) {
    const Member* images = runner_json::find(*members, "images");
    const auto elements = images ? runner_json::array_elements(images->value) : std::nullopt;
    if (!elements) return std::string("answer has no images array");
    for (std::size_t k = 0; k < elements->size(); ++k) {
      const auto image = runner_json::object_members((*elements)[k]);
      const Member* url = image ? runner_json::find(*image, "url") : nullptr;
      const std::string where = "images[" + std::to_string(k) + "].url";
      if (url && !take_data_url(url->value, "image-" + std::to_string(k), where, result, edits, error)) return error;
    }
  } else if (pipeline == Pipeline::kTextToSpeech) {
    const Member* audio = runner_json::find(*members, "audio");
    const auto fields = audio ? runner_json::object_members(audio->value) : std::nullopt;
    const Member* url = fields ? runner_json::find(*fields, "url") : nullptr;
    if (url && !take_data_url(url->value, "audio", "audio.url", result, edits, error)) return error;
  }
  result.body.json = std::make_shared<const std::string>(edits.empty() ? std::string(answer) : apply_edits(answer, edits));
  return result;
}

Answer openai_result(std::string_view model, std::string_view answer) {
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(answer));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return std::string("answer is not a JSON object");
    const Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    const Poco::JSON::Array::Ptr choices = object->getArray("choices");
    if (!choices) return std::string("answer has no choices array");
    const auto text_of = [](const Poco::Dynamic::Var& value, const char* fallback) {
      if (value.isEmpty()) return std::string(fallback);
      if (value.isString()) return codec::json_string(value.toString());
      std::ostringstream out;
      Poco::JSON::Stringifier::stringify(value, out);
      return out.str();
    };
    std::string json = "{\"id\":" + text_of(object->get("id"), "\"\"") + ",\"model\":" + codec::json_string(model) +
                       ",\"created\":" + text_of(object->get("created"), "0") +
                       ",\"usage\":" + text_of(object->get("usage"), "{}") + ",\"choices\":[";
    for (std::size_t i = 0; i < choices->size(); ++i) {
      const Poco::JSON::Object::Ptr choice = choices->getObject(static_cast<unsigned>(i));
      if (!choice) return std::string("answer's choices[" + std::to_string(i) + "] is not an object");
      const Poco::JSON::Object::Ptr message = choice->getObject("message");
      if (i > 0) json += ',';
      json += "{\"index\":" + text_of(choice->get("index"), std::to_string(i).c_str()) +
              ",\"finish_reason\":" + text_of(choice->get("finish_reason"), "null") + ",\"message\":{\"role\":" +
              text_of(message ? message->get("role") : Poco::Dynamic::Var(), "\"assistant\"") +
              ",\"content\":" + text_of(message ? message->get("content") : Poco::Dynamic::Var(), "\"\"") + "}}";
    }
    json += "]}";
    ExecResult result;
    result.ok = true;
    result.body.json = std::make_shared<const std::string>(std::move(json));
    return result;
  } catch (const Poco::Exception& e) {
    return "answer is not valid JSON: " + e.message();
  }
}

std::string error_message(std::string_view body) {
  if (const auto members = runner_json::object_members(body)) {
    if (const Member* detail = runner_json::find(*members, "detail")) {
      if (const auto fields = runner_json::object_members(detail->value)) {
        if (const Member* msg = runner_json::find(*fields, "msg")) {
          if (std::optional<std::string> text = runner_json::string_value(msg->value)) return *text;
        }
      }
    }
  }
  return std::string(body.substr(0, kMessageBytes));
}

Health ai_runner_health(int status, std::string_view body) {
  if (status != 200) return {false, "answering " + std::to_string(status)};
  const auto members = runner_json::object_members(body);
  const Member* field = members ? runner_json::find(*members, "status") : nullptr;
  const std::optional<std::string> state = field ? runner_json::string_value(field->value) : std::nullopt;
  if (!state) return {false, "answering without a status"};
  return {*state == "OK" || *state == "IDLE", *state};
}

Health openai_health(int status) {
  if (status != 200) return {false, "answering " + std::to_string(status)};
  return {true, "OK"};
}

StreamLine read_stream_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.substr(0, 5) != "data:") return {};
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (line == "[DONE]") return {StreamLine::Kind::kDone, {}};
  return {StreamLine::Kind::kChunk, line};
}

bool chunk_is_object(std::string_view chunk) { return runner_json::object_members(chunk).has_value(); }

bool chunk_finishes(std::string_view chunk) {
  const auto members = runner_json::object_members(chunk);
  const Member* choices = members ? runner_json::find(*members, "choices") : nullptr;
  const auto elements = choices ? runner_json::array_elements(choices->value) : std::nullopt;
  if (!elements) return false;
  for (std::string_view element : *elements) {
    const auto fields = runner_json::object_members(element);
    const Member* reason = fields ? runner_json::find(*fields, "finish_reason") : nullptr;
    if (reason && reason->value != "null") return true;
  }
  return false;
}

}  // namespace aipool::exec::runner
