#include "net/api_response.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "codec/base64.h"
#include "codec/json_text.h"
#include "codec/multipart.h"

namespace aipool::net {
namespace {

bool is_image_pipeline(Pipeline pipeline) {
  return pipeline == Pipeline::kTextToImage || pipeline == Pipeline::kImageToImage ||
         pipeline == Pipeline::kUpscale;
}

RenderedResponse malformed(std::string message) {
  RenderedResponse r;
  r.error = ApiError{502, "the worker returned a malformed result: " + std::move(message)};
  return r;
}

std::string stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

const ResultFile* file_named(const ResultBody& result, const std::string& name) {
  const ResultFile* found = nullptr;
  for (const ResultFile& f : result.files) {
    if (f.name == name) found = &f;  // the last of a repeated name, as before
  }
  return found;
}

// The JSON string of a result's `url`: a file of the result becomes a data: URL whose
// base64 is a part of its own (API-6), a data: URL stays as it is. `json` holds the
// text since the last file. False when the url names neither.
bool append_url(const std::string& url, const ResultBody& result, RenderedResponse& out, std::string& json) {
  if (const ResultFile* file = file_named(result, url)) {
    const std::string type =
        file->content_type.empty() ? "application/octet-stream" : codec::media_type(file->content_type);
    json += "\"data:" + type + ";base64,";
    out.parts.push_back(ResponsePart{std::move(json), file->bytes});
    json.clear();
    json += '"';
    return true;
  }
  if (url.rfind("data:", 0) != 0) return false;
  codec::append_json_string(json, url);
  return true;
}

// {"images":[{"url","seed","nsfw"},...]}: a url naming a result file becomes a
// data: URL whose base64 is a part of its own (API-6). `json` holds the text since
// the last file. Returns the error, or nullopt.
std::optional<std::string> render_images(const Poco::JSON::Object& object, const ResultBody& result,
                                         RenderedResponse& out, std::string& json) {
  Poco::JSON::Array::Ptr images = object.getArray("images");
  if (!images) return "no 'images' array";
  json += "{\"images\":[";
  for (std::size_t i = 0; i < images->size(); ++i) {
    Poco::JSON::Object::Ptr item = images->getObject(static_cast<unsigned>(i));
    if (!item) return "images[" + std::to_string(i) + "] is not an object";
    if (i != 0) json += ',';
    json += "{\"url\":";
    if (!append_url(item->optValue<std::string>("url", ""), result, out, json)) {
      return "images[" + std::to_string(i) + "].url names no file of the result";
    }
    json += ",\"seed\":" + std::to_string(item->optValue<Poco::Int64>("seed", 0));
    json += std::string(",\"nsfw\":") + (item->optValue<bool>("nsfw", false) ? "true" : "false");
    json += '}';
  }
  json += "]}";
  return std::nullopt;
}

// {"text"} for image-to-text, {"text","chunks"} for audio-to-text.
std::optional<std::string> render_text(Pipeline pipeline, const Poco::JSON::Object& object, std::string& json) {
  if (!object.has("text")) return "no 'text'";
  json += "{\"text\":";
  codec::append_json_string(json, object.getValue<std::string>("text"));
  if (pipeline == Pipeline::kAudioToText) {
    json += ",\"chunks\":";
    Poco::JSON::Array::Ptr chunks = object.getArray("chunks");
    json += chunks ? stringify(Poco::Dynamic::Var(chunks)) : "[]";
  }
  json += '}';
  return std::nullopt;
}

// text-to-speech {"audio":{"url"}}: a url naming a result file becomes a data: URL,
// as for images (API-6).
std::optional<std::string> render_audio(const Poco::JSON::Object& object, const ResultBody& result,
                                        RenderedResponse& out, std::string& json) {
  Poco::JSON::Object::Ptr audio = object.getObject("audio");
  if (!audio) return "no 'audio' object";
  json += "{\"audio\":{\"url\":";
  if (!append_url(audio->optValue<std::string>("url", ""), result, out, json)) {
    return "audio.url names no file of the result";
  }
  json += "}}";
  return std::nullopt;
}

// LLM-2: the worker's answer as it is, once it has its `choices`.
std::optional<std::string> render_llm(const Poco::JSON::Object& object, const ResultBody& result, std::string& json) {
  if (!object.getArray("choices")) return "no 'choices' array";
  json += *result.json;
  return std::nullopt;
}

std::size_t base64_size(std::size_t bytes) { return (bytes + 2) / 3 * 4; }

}  // namespace

RenderedResponse render_api_response(Pipeline pipeline, const ResultBody& result) {
  if (!result.json) return malformed("no response JSON");
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    object = parser.parse(*result.json).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    return malformed(std::string("response is not a JSON object: ") + e.what());
  }
  if (!object) return malformed("response is not a JSON object");
  RenderedResponse out;
  std::string json;  // the text since the last file
  try {
    std::optional<std::string> error;
    if (is_image_pipeline(pipeline)) {
      error = render_images(*object, result, out, json);
    } else if (pipeline == Pipeline::kTextToSpeech) {
      error = render_audio(*object, result, out, json);
    } else if (pipeline == Pipeline::kLlm) {
      error = render_llm(*object, result, json);
    } else {
      error = render_text(pipeline, *object, json);
    }
    if (error) return malformed(*error);
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
  out.parts.push_back(ResponsePart{std::move(json), {}});
  out.ok = true;
  return out;
}

std::size_t RenderedResponse::size() const {
  std::size_t total = 0;
  for (const ResponsePart& part : parts) total += part.text.size() + base64_size(part.file->size());
  return total;
}

std::string RenderedResponse::json() const {
  std::string out;
  out.reserve(size());
  for (const ResponsePart& part : parts) {
    out += part.text;
    codec::base64_encode_append(out, *part.file);
  }
  return out;
}

RenderedCursor::RenderedCursor(const RenderedResponse& rendered, std::size_t chunk_bytes)
    : rendered_(&rendered), chunk_bytes_(std::max<std::size_t>(chunk_bytes, 4096)) {}

bool RenderedCursor::next(std::string& out) {
  const std::size_t start = out.size();
  const std::size_t limit = start + chunk_bytes_;
  while (part_ < rendered_->parts.size() && out.size() < limit) {
    const ResponsePart& part = rendered_->parts[part_];
    if (!text_done_) {
      out += part.text;
      text_done_ = true;
      continue;
    }
    const std::string_view file = part.file ? std::string_view(*part.file).substr(file_at_) : std::string_view();
    if (file.empty()) {
      ++part_;
      file_at_ = 0;
      text_done_ = false;
      continue;
    }
    // Whole groups of 3 bytes, so that the pieces' encodings join without padding;
    // only the file's last piece may end with a partial group.
    const std::size_t room = limit - out.size();
    std::size_t take = std::max<std::size_t>(room / 4 * 3, 3);
    if (take >= file.size()) take = file.size();
    codec::base64_encode_append(out, file.substr(0, take));
    file_at_ += take;
  }
  return out.size() > start;
}

void write_rendered(const RenderedResponse& rendered, std::size_t chunk_bytes,
                    const std::function<void(std::string_view)>& write) {
  RenderedCursor cursor(rendered, chunk_bytes);
  std::string chunk;
  while (cursor.next(chunk)) {
    write(chunk);
    chunk.clear();
  }
}

std::string api_error_json(std::string_view message) {
  std::string out = "{\"detail\":{\"msg\":";
  codec::append_json_string(out, message);
  out += "}}";
  return out;
}

}  // namespace aipool::net
