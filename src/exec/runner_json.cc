#include "exec/runner_json.h"

#include <cstring>

#include "codec/json_scan.h"

namespace aipool::exec::runner_json {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view text, std::size_t at) {
  while (at < text.size() && is_space(text[at])) ++at;
  return at;
}

// The end (one past the closing quote) of the string starting at `at`, or npos.
std::size_t string_end(std::string_view text, std::size_t at) {
  for (std::size_t i = at + 1; i < text.size();) {
    const void* hit = std::memchr(text.data() + i, '"', text.size() - i);
    if (hit == nullptr) return std::string_view::npos;
    const std::size_t quote = static_cast<const char*>(hit) - text.data();
    std::size_t backslashes = 0;
    while (quote - backslashes > at + 1 && text[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    i = quote + 1;
  }
  return std::string_view::npos;
}

// The end of the value starting at `at` (no leading space), or npos.
std::size_t value_end(std::string_view text, std::size_t at) {
  if (at >= text.size()) return std::string_view::npos;
  const char first = text[at];
  if (first == '"') return string_end(text, at);
  if (first != '{' && first != '[') {
    std::size_t i = at;
    while (i < text.size() && !is_space(text[i]) && text[i] != ',' && text[i] != '}' && text[i] != ']') ++i;
    return i == at ? std::string_view::npos : i;
  }
  int depth = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      i = string_end(text, i);
      if (i == std::string_view::npos) return i;
      --i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// Splits the container `text` opened by `open` and closed by `close`; `with_keys`
// for objects. Each item is (key text or empty, value text).
bool split(std::string_view text, char open, char close, bool with_keys,
           std::vector<std::pair<std::string_view, std::string_view>>& items) {
  std::size_t at = skip_space(text, 0);
  if (at >= text.size() || text[at] != open) return false;
  at = skip_space(text, at + 1);
  if (at < text.size() && text[at] == close) return skip_space(text, at + 1) == text.size();
  for (;;) {
    std::string_view key;
    if (with_keys) {
      if (at >= text.size() || text[at] != '"') return false;
      const std::size_t end = string_end(text, at);
      if (end == std::string_view::npos) return false;
      key = text.substr(at, end - at);
      at = skip_space(text, end);
      if (at >= text.size() || text[at] != ':') return false;
      at = skip_space(text, at + 1);
    }
    const std::size_t end = value_end(text, at);
    if (end == std::string_view::npos) return false;
    items.emplace_back(key, text.substr(at, end - at));
    at = skip_space(text, end);
    if (at >= text.size()) return false;
    if (text[at] == close) return skip_space(text, at + 1) == text.size();
    if (text[at] != ',') return false;
    at = skip_space(text, at + 1);
  }
}

}  // namespace

std::optional<std::vector<Member>> object_members(std::string_view text) {
  std::vector<std::pair<std::string_view, std::string_view>> items;
  if (!split(text, '{', '}', true, items)) return std::nullopt;
  std::vector<Member> members;
  members.reserve(items.size());
  for (const auto& [key, value] : items) {
    std::optional<std::string> name = string_value(key);
    if (!name) return std::nullopt;
    members.push_back({std::move(*name), value});
  }
  return members;
}

std::optional<std::vector<std::string_view>> array_elements(std::string_view text) {
  std::vector<std::pair<std::string_view, std::string_view>> items;
  if (!split(text, '[', ']', false, items)) return std::nullopt;
  std::vector<std::string_view> elements;
  elements.reserve(items.size());
  for (const auto& item : items) elements.push_back(item.second);
  return elements;
}

std::optional<std::string> string_value(std::string_view value) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return std::nullopt;
  const std::string_view inner = value.substr(1, value.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return std::string(inner);
  // Escapes are rare in the fields this engine reads: the codec's scanner decodes them.
  std::string wrapped = "{\"v\":";
  wrapped.append(value);
  wrapped.push_back('}');
  codec::JsonMember member = codec::top_level_string_member(wrapped, "v");
  if (member.status != codec::JsonMember::Status::kFound) return std::nullopt;
  return std::move(member.value);
}

const Member* find(const std::vector<Member>& members, std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) return &*it;
  }
  return nullptr;
}

}  // namespace aipool::exec::runner_json
