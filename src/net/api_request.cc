#include "net/api_request.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <variant>
#include <sstream>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "codec/multipart.h"
#include "codec/text.h"
#include "media/audio_codec.h"
#include "media/image_codec.h"

namespace aipool::net {
namespace {

enum class FieldType { kString, kInt, kNumber, kBool, kFile, kMessages };

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required;
  std::string_view default_json;  // empty: no default, the field is left out
  double min = -1e300;
  double max = 1e300;
};

// go-livepeer's request fields and the ai-runner's defaults (reference 6.1).
const std::vector<FieldSpec>& fields_for(Pipeline pipeline) {
  static const std::vector<FieldSpec> kTextToImage = {
      {"prompt", FieldType::kString, true, ""},
      {"height", FieldType::kInt, false, "576", 8, 16384},
      {"width", FieldType::kInt, false, "1024", 8, 16384},
      {"guidance_scale", FieldType::kNumber, false, "7.5", 0, 100},
      {"negative_prompt", FieldType::kString, false, "\"\""},
      {"safety_check", FieldType::kBool, false, "true"},
      {"seed", FieldType::kInt, false, "", 0, 9.2e18},
      {"num_inference_steps", FieldType::kInt, false, "50", 1, 1000},
      {"num_images_per_prompt", FieldType::kInt, false, "1", 1, 16},
      {"loras", FieldType::kString, false, "\"\""},
  };
  static const std::vector<FieldSpec> kImageToImage = {
      {"image", FieldType::kFile, true, ""},
      {"prompt", FieldType::kString, true, ""},
      {"strength", FieldType::kNumber, false, "0.8", 0, 1},
      {"guidance_scale", FieldType::kNumber, false, "7.5", 0, 100},
      {"image_guidance_scale", FieldType::kNumber, false, "1.5", 0, 100},
      {"negative_prompt", FieldType::kString, false, "\"\""},
      {"safety_check", FieldType::kBool, false, "true"},
      {"seed", FieldType::kInt, false, "", 0, 9.2e18},
      {"num_inference_steps", FieldType::kInt, false, "100", 1, 1000},
      {"num_images_per_prompt", FieldType::kInt, false, "1", 1, 16},
      {"loras", FieldType::kString, false, "\"\""},
  };
  static const std::vector<FieldSpec> kUpscale = {
      {"image", FieldType::kFile, true, ""},
      {"prompt", FieldType::kString, false, "\"\""},
      {"safety_check", FieldType::kBool, false, "true"},
      {"seed", FieldType::kInt, false, "", 0, 9.2e18},
      {"num_inference_steps", FieldType::kInt, false, "75", 1, 1000},
  };
  static const std::vector<FieldSpec> kImageToText = {
      {"image", FieldType::kFile, true, ""},
      {"prompt", FieldType::kString, false, "\"\""},
  };
  static const std::vector<FieldSpec> kAudioToText = {
      {"audio", FieldType::kFile, true, ""},
      {"return_timestamps", FieldType::kString, false, "\"true\""},
      {"metadata", FieldType::kString, false, "\"{}\""},
  };
  static const std::vector<FieldSpec> kLlm = {  // LLM-1
      {"messages", FieldType::kMessages, true, ""},
      {"temperature", FieldType::kNumber, false, "0.7", 0, 2},
      {"max_tokens", FieldType::kInt, false, "256", 1, 1e6},
      {"top_p", FieldType::kNumber, false, "1", 0, 1},
      {"top_k", FieldType::kInt, false, "-1", -1, 1e6},
      {"stream", FieldType::kBool, false, "false"},
  };
  static const std::vector<FieldSpec> kTextToSpeech = {
      {"text", FieldType::kString, true, ""},
      {"description", FieldType::kString, false,
       "\"A male speaker delivers a slightly expressive and animated speech with a moderate speed and pitch.\""},
  };
  switch (pipeline) {
    case Pipeline::kLlm: return kLlm;
    case Pipeline::kTextToSpeech: return kTextToSpeech;
    case Pipeline::kTextToImage: return kTextToImage;
    case Pipeline::kImageToImage: return kImageToImage;
    case Pipeline::kUpscale: return kUpscale;
    case Pipeline::kImageToText: return kImageToText;
    case Pipeline::kAudioToText: return kAudioToText;
  }
  return kTextToImage;
}

const char* type_word(FieldType type) {
  switch (type) {
    case FieldType::kString: return "a string";
    case FieldType::kInt: return "an integer";
    case FieldType::kNumber: return "a number";
    case FieldType::kBool: return "a boolean (true or false)";
    case FieldType::kFile: return "a file upload";
    case FieldType::kMessages: return "a non-empty array of {\"role\": string, \"content\": string} objects";
  }
  return "?";
}

std::string shorten(std::string_view text) {
  if (text.size() <= 40) return std::string(text);
  return std::string(text.substr(0, 37)) + "...";
}

ParsedApiRequest bad(int status, std::string message) {
  ParsedApiRequest r;
  r.error = ApiError{status, std::move(message)};
  return r;
}

std::string format_number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

std::optional<std::string> check_range(const FieldSpec& spec, double value) {
  if (value < spec.min || value > spec.max) {
    return "field '" + std::string(spec.name) + "' must be between " + format_number(spec.min) +
           " and " + format_number(spec.max) + " (got " + format_number(value) + ")";
  }
  return std::nullopt;
}

// A field value given as text (multipart form): its JSON form, or an error.
std::optional<std::string> json_from_text(const FieldSpec& spec, std::string_view text, std::string& error) {
  switch (spec.type) {
    case FieldType::kString:
      return codec::json_string(text);
    case FieldType::kInt: {
      long long value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        error = "field '" + std::string(spec.name) + "' must be an integer (got \"" + shorten(text) + "\")";
        return std::nullopt;
      }
      if (auto e = check_range(spec, static_cast<double>(value))) {
        error = *e;
        return std::nullopt;
      }
      return std::to_string(value);
    }
    case FieldType::kNumber: {
      double value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size() || text.empty() || !std::isfinite(value)) {
        error = "field '" + std::string(spec.name) + "' must be a number (got \"" + shorten(text) + "\")";
        return std::nullopt;
      }
      if (auto e = check_range(spec, value)) {
        error = *e;
        return std::nullopt;
      }
      return format_number(value);
    }
    case FieldType::kBool: {
      const std::string lowered = codec::ascii_lower(text);
      if (lowered == "true" || lowered == "1") return std::string("true");
      if (lowered == "false" || lowered == "0") return std::string("false");
      error = "field '" + std::string(spec.name) + "' must be true or false (got \"" + shorten(text) + "\")";
      return std::nullopt;
    }
    case FieldType::kFile:
    case FieldType::kMessages:
      error = "field '" + std::string(spec.name) + "' must be " + type_word(spec.type) + ", not a text field";
      return std::nullopt;
  }
  return std::nullopt;
}

std::string stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

// LLM-1: `messages`, a non-empty array of objects with a string role and content.
std::optional<std::string> messages_json(const FieldSpec& spec, const Poco::Dynamic::Var& value, std::string& error) {
  Poco::JSON::Array::Ptr array;
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) array = value.extract<Poco::JSON::Array::Ptr>();
  if (!array || array->size() == 0) {
    error = "field '" + std::string(spec.name) + "' must be " + type_word(spec.type);
    return std::nullopt;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const Poco::JSON::Object::Ptr message = array->getObject(static_cast<unsigned>(i));
    for (const char* member : {"role", "content"}) {
      if (!message || !message->get(member).isString()) {
        error = "field 'messages[" + std::to_string(i) + "]." + member + "' must be a string";
        return std::nullopt;
      }
    }
  }
  return stringify(value);
}

// A field value given as JSON: its normalised JSON form, or an error.
std::optional<std::string> json_from_var(const FieldSpec& spec, const Poco::Dynamic::Var& value, std::string& error) {
  const auto wrong = [&]() {
    error = "field '" + std::string(spec.name) + "' must be " + type_word(spec.type);
    return std::nullopt;
  };
  try {
    switch (spec.type) {
      case FieldType::kString:
        if (!value.isString()) return wrong();
        return codec::json_string(value.extract<std::string>());
      case FieldType::kInt: {
        if (!value.isInteger()) return wrong();
        const auto v = value.convert<Poco::Int64>();
        if (auto e = check_range(spec, static_cast<double>(v))) {
          error = *e;
          return std::nullopt;
        }
        return std::to_string(v);
      }
      case FieldType::kNumber: {
        if (!value.isNumeric() || value.isBoolean()) return wrong();
        const auto v = value.convert<double>();
        if (auto e = check_range(spec, v)) {
          error = *e;
          return std::nullopt;
        }
        return format_number(v);
      }
      case FieldType::kBool:
        if (!value.isBoolean()) return wrong();
        return std::string(value.extract<bool>() ? "true" : "false");
      case FieldType::kFile:
        return wrong();
      case FieldType::kMessages:
        return messages_json(spec, value, error);
    }
  } catch (const std::exception&) {
    return wrong();
  }
  return std::nullopt;
}

// model_id: given, or the only model offered for the pipeline (API-4).
std::optional<std::string> resolve_model(Pipeline pipeline, const std::optional<std::string>& given,
                                         const ModelLister& models, ApiError& error) {
  if (given && !given->empty()) return given;
  const std::vector<std::string> offered = models(pipeline);
  if (offered.size() == 1) return offered.front();
  if (offered.empty()) {
    error = ApiError{503, "no worker offers pipeline " + std::string(pipeline_name(pipeline))};
    return std::nullopt;
  }
  std::string list;
  for (const std::string& m : offered) list += (list.empty() ? "" : ", ") + m;
  error = ApiError{400, "model_id is required: pipeline " + std::string(pipeline_name(pipeline)) +
                            " offers " + list};
  return std::nullopt;
}

// A numeric field's value (its JSON text), or `fallback`.
double number_field(const std::map<std::string, std::string>& fields, const char* name, double fallback) {
  const auto it = fields.find(name);
  if (it == fields.end()) return fallback;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return fallback;
  }
}

// MET-10: the job's size as go-livepeer's latency score divides by it. `media_size`
// is the input image's pixels or the audio's seconds (0: none).
double work_units(Pipeline pipeline, const std::map<std::string, std::string>& fields, double media_size) {
  const double steps = std::max(1.0, number_field(fields, "num_inference_steps", 1));
  const double images = std::max(1.0, number_field(fields, "num_images_per_prompt", 1));
  switch (pipeline) {
    case Pipeline::kTextToImage:
      return number_field(fields, "width", 0) * number_field(fields, "height", 0) * images * steps;
    case Pipeline::kImageToImage:
      return media_size * images * steps;
    case Pipeline::kUpscale:
      return media_size * steps;
    case Pipeline::kImageToText:
    case Pipeline::kAudioToText:
      return media_size;
    case Pipeline::kLlm:
      return number_field(fields, "max_tokens", 0);
    case Pipeline::kTextToSpeech:
      return media_size;  // the text's characters
  }
  return 0;
}

ParsedApiRequest finish_job(Pipeline pipeline, const std::string& model, std::map<std::string, std::string>& fields,
                            double media_size = 0) {
  std::string json;
  std::size_t size = 32 + model.size();
  for (const auto& [name, value] : fields) size += name.size() + value.size() + 4;
  json.reserve(size);
  json += "{\"model_id\":";
  codec::append_json_string(json, model);
  for (const auto& [name, value] : fields) {
    json += ',';
    codec::append_json_string(json, name);
    json += ':';
    json += value;
  }
  json += '}';
  ParsedApiRequest r;
  r.ok = true;
  r.job.key = Key{pipeline, model};
  r.job.job_json = std::make_shared<const std::string>(std::move(json));
  r.job.work_units = work_units(pipeline, fields, media_size);
  const auto stream = fields.find("stream");
  r.job.stream = pipeline == Pipeline::kLlm && stream != fields.end() && stream->second == "true";
  return r;
}

constexpr std::size_t kMaxSpeechCharacters = 10000;

ParsedApiRequest parse_json_body(Pipeline pipeline, std::string_view body, const ModelLister& models) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    object = parser.parse(std::string(body)).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return bad(400, std::string("request body is not a JSON object: ") + e.what());
  }
  if (!object) return bad(400, "request body is not a JSON object");
  std::map<std::string, std::string> fields;
  std::optional<std::string> model;
  std::string error;
  for (const auto& [name, value] : *object) {
    if (name == "model_id" || (pipeline == Pipeline::kLlm && name == "model")) {  // LLM-1: either names it
      if (!value.isString()) return bad(400, "field '" + name + "' must be a string");
      std::string given = value.extract<std::string>();
      if (model && *model != given) return bad(400, "fields 'model' and 'model_id' name different models");
      model = std::move(given);
      continue;
    }
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& s : fields_for(pipeline)) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {  // API-3: fields the pipeline does not name go to the model as given
      fields[name] = stringify(value);
      continue;
    }
    if (value.isEmpty() && !spec->required) continue;  // null: use the default
    std::optional<std::string> json = json_from_var(*spec, value, error);
    if (!json) return bad(400, error);
    fields[name] = *json;
  }
  for (const FieldSpec& spec : fields_for(pipeline)) {
    if (fields.contains(std::string(spec.name))) continue;
    if (spec.required) return bad(400, "missing required field '" + std::string(spec.name) + "'");
    if (!spec.default_json.empty()) fields[std::string(spec.name)] = std::string(spec.default_json);
  }
  double media_size = 0;
  if (pipeline == Pipeline::kTextToSpeech) {  // API-2
    const std::size_t characters = codec::utf8_characters(object->getValue<std::string>("text"));
    if (characters == 0 || characters > kMaxSpeechCharacters) {
      return bad(400, "field 'text' must hold 1 to " + std::to_string(kMaxSpeechCharacters) + " characters (got " +
                          std::to_string(characters) + ")");
    }
    media_size = static_cast<double>(characters);
  }
  ApiError model_error;
  std::optional<std::string> resolved = resolve_model(pipeline, model, models, model_error);
  if (!resolved) return bad(model_error.status, model_error.message);
  if (pipeline == Pipeline::kLlm) fields["model"] = codec::json_string(*resolved);  // LLM-1
  return finish_job(pipeline, *resolved, fields, media_size);
}

// API-12: the image's header and structure, before dispatch; the pixels are decoded
// only by the worker (MODEL-2).
std::optional<ApiError> check_image(std::string_view bytes, std::uint64_t max_pixels, double& pixels) {
  std::variant<media::ImageInfo, media::MediaError> probed = media::probe_image(bytes);
  if (const auto* error = std::get_if<media::MediaError>(&probed)) {
    return ApiError{400, "field 'image': " + error->message};
  }
  const media::ImageInfo& info = std::get<media::ImageInfo>(probed);
  if (info.pixels() > max_pixels) {
    return ApiError{413, "field 'image': the image is " + std::to_string(info.width) + "x" +
                             std::to_string(info.height) + " = " + std::to_string(info.pixels()) +
                             " pixels, above the limit of " + std::to_string(max_pixels) + " pixels"};
  }
  pixels = static_cast<double>(info.pixels());
  return std::nullopt;
}

ParsedApiRequest parse_form_body(Pipeline pipeline, std::string_view content_type, std::string_view body,
                                 const ModelLister& models, std::uint64_t max_pixels) {
  const std::optional<std::string> boundary = codec::header_param(content_type, "boundary");
  if (!boundary) return bad(400, "multipart/form-data without a boundary");
  codec::MultipartResult parsed = codec::parse_multipart(body, *boundary);
  if (!parsed.error.empty()) return bad(400, "malformed multipart/form-data: " + parsed.error);
  std::map<std::string, std::string> fields;
  std::optional<std::string> model;
  std::string error;
  double media_size = 0;  // the image's pixels or the audio's seconds (MET-10)
  for (const codec::MultipartPart& part : parsed.parts) {
    if (!part.name) return bad(400, "a form part has no name in its Content-Disposition");
    const std::string& name = *part.name;
    if (fields.contains(name) || (name == "model_id" && model)) {
      return bad(400, "field '" + name + "' is given twice");
    }
    if (name == "model_id") {
      model = std::string(part.content);
      continue;
    }
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& s : fields_for(pipeline)) {
      if (s.name == name) spec = &s;
    }
    if (spec != nullptr && spec->type == FieldType::kFile) {
      if (!part.filename) return bad(400, "field '" + name + "' must be a file upload (with a filename)");
      if (part.content.empty()) return bad(400, "field '" + name + "' is an empty file");
      if (name == "image") {
        if (auto e = check_image(part.content, max_pixels, media_size)) return bad(e->status, e->message);
      }
      std::string& value = fields[name];  // WIRE-4: inline, base64, as a JSON string
      value = "\"";
      codec::base64_encode_append(value, part.content);
      value += '"';
      continue;
    }
    if (spec == nullptr) {  // API-3
      fields[name] = codec::json_string(part.content);
      continue;
    }
    if (part.filename) return bad(400, "field '" + name + "' must be a text field, not a file");
    std::optional<std::string> json = json_from_text(*spec, part.content, error);
    if (!json) return bad(400, error);
    fields[name] = *json;
  }
  for (const FieldSpec& spec : fields_for(pipeline)) {
    if (fields.contains(std::string(spec.name))) continue;
    if (spec.required) return bad(400, "missing required field '" + std::string(spec.name) + "'");
    if (!spec.default_json.empty()) fields[std::string(spec.name)] = std::string(spec.default_json);
  }
  if (pipeline == Pipeline::kAudioToText) {
    const std::string& ts = fields["return_timestamps"];
    if (ts != "\"true\"" && ts != "\"false\"" && ts != "\"word\"" && ts != "\"sentence\"") {
      return bad(400, "field 'return_timestamps' must be one of true, false, word, sentence");
    }
    // ASR-2: the audio's header is checked before dispatch; only the worker decodes the samples.
    for (const codec::MultipartPart& part : parsed.parts) {
      if (!part.name || *part.name != "audio") continue;
      const std::variant<media::AudioInfo, media::AudioError> probed = media::probe_audio(part.content);
      if (const auto* e = std::get_if<media::AudioError>(&probed)) {
        return bad(e->too_long ? 413 : 400, "field 'audio': " + e->message);
      }
      media_size = std::get<media::AudioInfo>(probed).duration_s();
    }
  }
  ApiError model_error;
  std::optional<std::string> resolved = resolve_model(pipeline, model, models, model_error);
  if (!resolved) return bad(model_error.status, model_error.message);
  return finish_job(pipeline, *resolved, fields, media_size);
}

}  // namespace

ParsedApiRequest parse_api_request(Pipeline pipeline, std::string_view content_type,
                                   std::string_view body, const ModelLister& models, std::uint64_t max_pixels) {
  const std::string type = codec::media_type(content_type);
  const std::string name(pipeline_name(pipeline));
  if (pipeline == Pipeline::kTextToImage || pipeline == Pipeline::kLlm || pipeline == Pipeline::kTextToSpeech) {
    if (type != "application/json") {
      return bad(400, name + " expects a JSON body (Content-Type: application/json), got '" + type + "'");
    }
    return parse_json_body(pipeline, body, models);
  }
  if (type != "multipart/form-data") {
    return bad(400, name + " expects multipart/form-data with a file field '" +
                        std::string(pipeline == Pipeline::kAudioToText ? "audio" : "image") + "', got '" +
                        type + "'");
  }
  return parse_form_body(pipeline, content_type, body, models, max_pixels);
}

}  // namespace aipool::net
