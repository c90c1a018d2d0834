#include "codec/model_config.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "codec/durations.h"
#include "codec/json_scan.h"
#include "codec/text.h"

namespace aipool::codec {
namespace {

std::string_view json_trim(std::string_view s) { return codec::trim(s, kJsonSpace); }

std::string position_of(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  if (offset >= text.size()) return "end of input (line " + std::to_string(line) + ")";
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// ------------------------------------------------------------ entry fields

ModelConfigError entry_error(std::size_t index, const std::string& what) {
  return ModelConfigError{"aiModels entry " + std::to_string(index) + ": " + what};
}

// A short description of a JSON value for error messages (never used for secrets).
std::string describe(const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return "null";
  if (v.type() == typeid(Poco::JSON::Object::Ptr)) return "an object";
  if (v.type() == typeid(Poco::JSON::Array::Ptr)) return "an array";
  if (v.isString()) {
    std::string text = v.toString();
    if (text.size() > 40) text = text.substr(0, 40) + "...";
    return "\"" + text + "\"";
  }
  if (v.isBoolean()) return v.extract<bool>() ? "true" : "false";
  try {
    return v.toString();
  } catch (const Poco::Exception&) {
    return "a value of another type";
  }
}

bool is_json_number(const Poco::Dynamic::Var& v) {
  return !v.isEmpty() && v.isNumeric() && !v.isBoolean() && !v.isString();
}

// A JSON integer value (Poco gives integers as Int64/UInt64, fractions as double).
std::optional<std::int64_t> as_integer(const Poco::Dynamic::Var& v) {
  if (!is_json_number(v) || !v.isInteger()) return std::nullopt;
  try {
    return v.convert<Poco::Int64>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> string_field(const Poco::JSON::Object& object, const std::string& name,
                                        std::size_t index, ModelConfigError& error) {
  const Poco::Dynamic::Var v = object.get(name);
  if (!v.isString()) {
    error = entry_error(index, name + " must be a string");
    return std::nullopt;
  }
  return v.toString();
}

bool is_schema_field(const std::string& name) {
  static const char* const kSchema[] = {"pipeline", "model_id",       "warm",           "capacity",
                                        "price_per_unit", "pixels_per_unit", "currency", "gateway",
                                        "url",      "token",          "optimization_flags", "attempt_timeout",
                                        "job_deadline"};
  for (const char* field : kSchema) {
    if (name == field) return true;
  }
  return false;
}

std::optional<Pipeline> pipeline_of(std::string_view name, std::size_t index, ModelConfigError& error) {
  const std::optional<Pipeline> pipeline = pipeline_from_name(name);
  if (!pipeline) {
    error = entry_error(index, "unknown pipeline \"" + std::string(name) + "\" (expected one of " +
                                   pipeline_names() + ")");
  }
  return pipeline;
}

bool present(const Poco::JSON::Object& object, const std::string& name) {
  return object.has(name) && !object.get(name).isEmpty();
}

// The required `pipeline` and `model_id`; false (and `error`) when either is wrong.
bool parse_key(const Poco::JSON::Object& object, std::size_t index, Key& key, ModelConfigError& error) {
  if (!present(object, "pipeline")) {
    error = entry_error(index, "pipeline is required");
    return false;
  }
  const std::optional<std::string> pipeline_text = string_field(object, "pipeline", index, error);
  if (!pipeline_text) return false;
  const std::optional<Pipeline> pipeline = pipeline_of(*pipeline_text, index, error);
  if (!pipeline) return false;
  key.pipeline = *pipeline;
  if (!present(object, "model_id")) {
    error = entry_error(index, "model_id is required");
    return false;
  }
  const std::optional<std::string> model = string_field(object, "model_id", index, error);
  if (!model) return false;
  if (json_trim(*model).empty()) {
    error = entry_error(index, "model_id must not be empty");
    return false;
  }
  key.model = *model;
  return true;
}

// `warm`, `capacity`, `price_per_unit` and `pixels_per_unit`, each optional.
bool parse_numbers(const Poco::JSON::Object& object, std::size_t index, ModelEntry& entry, ModelConfigError& error) {
  const auto fail = [&](const std::string& what, const Poco::Dynamic::Var& v) {
    error = entry_error(index, what + " (got " + describe(v) + ")");
    return false;
  };
  if (present(object, "warm")) {
    const Poco::Dynamic::Var v = object.get("warm");
    if (!v.isBoolean()) return fail("warm must be true or false", v);
    entry.warm = v.extract<bool>();
  }
  if (present(object, "capacity")) {
    const Poco::Dynamic::Var v = object.get("capacity");
    const std::optional<std::int64_t> capacity = as_integer(v);
    if (!capacity || *capacity <= 0 || *capacity > std::numeric_limits<std::uint32_t>::max()) {
      return fail("capacity must be a positive integer", v);
    }
    entry.capacity = static_cast<std::uint32_t>(*capacity);
  }
  if (present(object, "price_per_unit")) {
    const Poco::Dynamic::Var v = object.get("price_per_unit");
    if (!is_json_number(v)) return fail("price_per_unit must be a number", v);
    entry.price_per_unit = v.convert<double>();
    if (!std::isfinite(entry.price_per_unit) || entry.price_per_unit < 0) {
      return fail("price_per_unit must be a non-negative number", v);
    }
  }
  if (present(object, "pixels_per_unit")) {
    const Poco::Dynamic::Var v = object.get("pixels_per_unit");
    const std::optional<std::int64_t> pixels = as_integer(v);
    if (!pixels || *pixels <= 0) return fail("pixels_per_unit must be a positive integer", v);
    entry.pixels_per_unit = *pixels;
  }
  return true;
}

// `currency`, `gateway`, `url`, `token` (strings) and `optimization_flags`.
bool parse_texts(const Poco::JSON::Object& object, std::size_t index, ModelEntry& entry, ModelConfigError& error) {
  for (const char* name : {"currency", "gateway", "url", "token"}) {
    if (!present(object, name)) continue;
    const std::optional<std::string> text = string_field(object, name, index, error);
    if (!text) return false;
    const std::string_view field(name);
    if (field == "currency") entry.currency = *text;
    if (field == "gateway") entry.gateway = *text;
    if (field == "url") entry.url = *text;
    if (field == "token") entry.token = *text;
  }
  if (!present(object, "optimization_flags")) return true;
  const Poco::JSON::Object::Ptr flags = object.getObject("optimization_flags");
  if (!flags) {
    error = entry_error(index, "optimization_flags must be an object");
    return false;
  }
  for (const auto& [name, v] : *flags) {
    if (v.isBoolean()) {
      entry.optimization_flags[name] = v.extract<bool>() ? "true" : "false";
    } else if (v.isString()) {
      entry.optimization_flags[name] = v.toString();
    } else {
      error = entry_error(index, "optimization_flags." + name + " must be a string or a bool (got " + describe(v) + ")");
      return false;
    }
  }
  return true;
}

// LIST-4: `attempt_timeout` and `job_deadline`, each a duration string or a number of
// seconds, above 0; optional.
bool parse_timeouts(const Poco::JSON::Object& object, std::size_t index, ModelEntry& entry, ModelConfigError& error) {
  for (const char* name : {"attempt_timeout", "job_deadline"}) {
    if (!present(object, name)) continue;
    const Poco::Dynamic::Var v = object.get(name);
    std::optional<Micros> duration;
    if (v.isString()) {
      duration = parse_duration_text(v.toString());
    } else if (is_json_number(v)) {
      duration = parse_duration_text(v.toString());  // a number of seconds
    }
    if (!duration) {
      error = entry_error(index, std::string(name) + " must be a duration above 0, such as \"120s\" (got " +
                                     describe(v) + ")");
      return false;
    }
    (std::string_view(name) == "attempt_timeout" ? entry.attempt_timeout : entry.job_deadline) = *duration;
  }
  return true;
}

// Every field outside the schema belongs to the executor, in the order written.
std::string executor_json_of(const Poco::JSON::Object& object) {
  Poco::JSON::Object executor_fields(Poco::JSON_PRESERVE_KEY_ORDER);
  bool any = false;
  for (const std::string& name : object.getNames()) {
    if (is_schema_field(name)) continue;
    executor_fields.set(name, object.get(name));
    any = true;
  }
  if (!any) return "{}";
  std::ostringstream out;
  executor_fields.stringify(out);
  return out.str();
}

// Parses one entry object; on failure sets `error` and returns nullopt.
std::optional<ModelEntry> parse_entry(const Poco::JSON::Object& object, std::size_t index,
                                      ModelConfigError& error) {
  ModelEntry entry;
  if (!parse_key(object, index, entry.key, error)) return std::nullopt;
  if (!parse_numbers(object, index, entry, error)) return std::nullopt;
  if (!parse_texts(object, index, entry, error)) return std::nullopt;
  if (!parse_timeouts(object, index, entry, error)) return std::nullopt;
  entry.executor_json = executor_json_of(object);
  return entry;
}

// Appends `entry` unless its key is already present; false (and `error`) on a duplicate.
bool add_unique(std::vector<ModelEntry>& entries, ModelEntry entry, std::size_t index,
                ModelConfigError& error) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].key == entry.key) {
      error = entry_error(index, "duplicate entry for " + key_name(entry.key) + " (also entry " +
                                     std::to_string(i) + ")");
      return false;
    }
  }
  entries.push_back(std::move(entry));
  return true;
}

}  // namespace

ModelConfigResult parse_models_json(std::string_view json, std::string_view origin) {
  const std::string where = "aiModels file " + std::string(origin);
  Poco::Dynamic::Var parsed;
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(/*preserveObjectOrder=*/true));
    parsed = parser.parse(std::string(json));
  } catch (const Poco::Exception& e) {
    const std::optional<JsonSyntaxError> syntax = json_syntax_error(json);
    const std::size_t offset = syntax ? syntax->offset : std::string_view::npos;
    std::string message = where + ": bad JSON";
    if (offset != std::string_view::npos) message += " at " + position_of(json, offset);
    // Poco's message quotes the offending byte; at the end of input that byte is garbage.
    if (offset == std::string_view::npos || offset < json.size()) message += ": " + e.message();
    else message += ": unexpected end of input";
    return ModelConfigError{message};
  }
  if (parsed.type() != typeid(Poco::JSON::Array::Ptr)) {
    return ModelConfigError{where + ": expected a JSON array of model entries"};
  }
  const Poco::JSON::Array::Ptr array = parsed.extract<Poco::JSON::Array::Ptr>();
  std::vector<ModelEntry> entries;
  ModelConfigError error;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const Poco::JSON::Object::Ptr object = array->getObject(static_cast<unsigned>(i));
    if (!object) return entry_error(i, "expected a JSON object (got " + describe(array->get(static_cast<unsigned>(i))) + ")");
    std::optional<ModelEntry> entry = parse_entry(*object, i, error);
    if (!entry) return error;
    if (!add_unique(entries, std::move(*entry), i, error)) return error;
  }
  return entries;
}

ModelConfigResult parse_models_inline(std::string_view text) {
  std::vector<ModelEntry> entries;
  ModelConfigError error;
  std::size_t index = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = json_trim(text.substr(0, comma));
    if (item.empty()) return entry_error(index, "empty entry (expected pipeline:model_id[:warm[:capacity]])");
    std::vector<std::string_view> parts;
    std::string_view rest = item;
    while (true) {
      const std::size_t colon = rest.find(':');
      parts.push_back(json_trim(rest.substr(0, colon)));
      if (colon == std::string_view::npos) break;
      rest = rest.substr(colon + 1);
    }
    const std::string quoted = " (\"" + std::string(item) + "\")";
    if (parts.size() < 2 || parts.size() > 4) {
      return entry_error(index, "expected pipeline:model_id[:warm[:capacity]]" + quoted);
    }
    ModelEntry entry;
    const std::optional<Pipeline> pipeline = pipeline_of(parts[0], index, error);
    if (!pipeline) return error;
    entry.key.pipeline = *pipeline;
    if (parts[1].empty()) return entry_error(index, "model_id must not be empty" + quoted);
    entry.key.model = std::string(parts[1]);
    if (parts.size() >= 3) {
      const std::string warm = ascii_lower(parts[2]);
      if (warm == "true") {
        entry.warm = true;
      } else if (warm == "false") {
        entry.warm = false;
      } else {
        return entry_error(index, "warm must be true or false (got \"" + std::string(parts[2]) + "\")");
      }
    }
    if (parts.size() == 4) {
      std::uint32_t capacity = 0;
      const std::string_view c = parts[3];
      const auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), capacity);
      if (ec != std::errc() || end != c.data() + c.size() || capacity == 0) {
        return entry_error(index, "capacity must be a positive integer (got \"" + std::string(c) + "\")");
      }
      entry.capacity = capacity;
    }
    if (!add_unique(entries, std::move(entry), index, error)) return error;
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
    ++index;
  }
  return entries;
}

ModelConfigResult parse_models_flag(std::string_view value) {
  value = json_trim(value);
  if (value.empty()) return std::vector<ModelEntry>{};
  const std::filesystem::path path{std::string(value)};
  std::error_code ec;
  const bool exists = std::filesystem::is_regular_file(path, ec);
  const bool looks_like_path = value.find(':') == std::string_view::npos ||
                               (value.size() >= 5 && ascii_lower(value.substr(value.size() - 5)) == ".json");
  if (!exists) {
    if (looks_like_path) {
      return ModelConfigError{"aiModels file " + std::string(value) +
                              ": file not found (give a JSON file or pipeline:model_id[:warm[:capacity]],...)"};
    }
    return parse_models_inline(value);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ModelConfigError{"aiModels file " + std::string(value) + ": cannot be read"};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_models_json(text.str(), value);
}

std::vector<Advert> adverts_of(const std::vector<ModelEntry>& entries) {
  std::vector<Advert> adverts;
  adverts.reserve(entries.size());
  for (const ModelEntry& entry : entries) adverts.push_back(Advert{entry.key, entry.capacity});
  return adverts;
}

std::vector<ModelOffer> offers_of(const std::vector<ModelEntry>& entries) {
  std::vector<ModelOffer> offers;
  offers.reserve(entries.size());
  for (const ModelEntry& entry : entries) {
    offers.push_back(ModelOffer{entry.key, entry.price_per_unit, entry.pixels_per_unit, entry.currency,
                                entry.attempt_timeout, entry.job_deadline});
  }
  return offers;
}

}  // namespace aipool::codec
