// Client keys and the admin key (api_keys.h, spec/security.md SEC-2..SEC-6).
#include "net/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <set>

#include "codec/text.h"

namespace aipool::net {
namespace {

constexpr std::size_t kMinKeyBytes = 16;
constexpr std::size_t kMaxKeyBytes = 256;
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::string_view kInFlightField = "maxInFlight=";

bool printable_without_space(std::string_view text) {
  for (const char c : text) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// maxInFlight=N with 1 <= N <= 1,000,000.
std::optional<std::uint32_t> parse_in_flight(std::string_view value) {
  if (value.empty() || value.size() > 7) return std::nullopt;
  std::uint32_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n == 0 || n > 1'000'000) return std::nullopt;
  return n;
}

// One line's key entry; false with `error` set (without the key) when it is bad.
bool parse_line(const std::vector<std::string_view>& fields, std::size_t line_no, ApiKey& key,
                std::string& error) {
  const std::string_view secret = fields[0];
  if (!printable_without_space(secret) || secret.size() < kMinKeyBytes || secret.size() > kMaxKeyBytes) {
    error = "the key must be " + std::to_string(kMinKeyBytes) + " to " + std::to_string(kMaxKeyBytes) +
            " printable ASCII characters (it has " + std::to_string(secret.size()) + ")";
    return false;
  }
  key.name = "key" + std::to_string(line_no);
  bool named = false;
  bool capped = false;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string_view field = fields[i];
    if (field.starts_with(kInFlightField)) {
      const std::optional<std::uint32_t> n = parse_in_flight(field.substr(kInFlightField.size()));
      if (!n || capped) {
        error = capped ? "maxInFlight is given twice" : "maxInFlight must be a whole number from 1 to 1000000";
        return false;
      }
      key.max_in_flight = *n;
      capped = true;
    } else if (!named && valid_name(field)) {
      key.name = std::string(field);
      named = true;
    } else {
      error = named ? "unexpected field after the name (expected maxInFlight=N)"
                    : "a name is 1 to 64 letters, digits, '-', '_' or '.'";
      return false;
    }
  }
  return true;
}

}  // namespace

KeyDigest key_digest(std::string_view key) {
  KeyDigest digest{};
  unsigned int size = 0;
  EVP_Digest(key.data(), key.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

bool same_digest(const KeyDigest& a, const KeyDigest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::size_t ApiKeys::DigestHash::operator()(const KeyDigest& d) const {
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

std::optional<ApiKeys> ApiKeys::parse(std::string_view text, std::string& error) {
  ApiKeys keys;
  std::set<std::string> names;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = codec::trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_no;
    if (line.empty() || line.starts_with('#')) continue;
    ApiKey key;
    key.index = keys.keys_.size();
    const std::vector<std::string_view> fields = fields_of(line);
    std::string why;
    if (!parse_line(fields, line_no, key, why)) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return std::nullopt;
    }
    const KeyDigest digest = key_digest(fields[0]);
    const bool same_key = keys.by_digest_.count(digest) != 0;
    if (same_key || !names.insert(key.name).second) {
      error = "line " + std::to_string(line_no) + ": " +
              (same_key ? "the same key as an earlier line" : "the name " + key.name + " is used twice");
      return std::nullopt;
    }
    keys.by_digest_.emplace(digest, key.index);
    keys.digests_.push_back(digest);
    keys.keys_.push_back(std::move(key));
  }
  if (keys.keys_.empty()) {
    error = "holds no key";
    return std::nullopt;
  }
  return keys;
}

const ApiKey* ApiKeys::find(std::string_view presented) const {
  const KeyDigest digest = key_digest(presented);
  const auto it = by_digest_.find(digest);
  if (it == by_digest_.end() || !same_digest(digests_[it->second], digest)) return nullptr;
  return &keys_[it->second];
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  authorization = codec::trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if (static_cast<char>(c | 0x20) != kScheme[i]) return std::nullopt;
  }
  const char sep = authorization[kScheme.size()];
  if (sep != ' ' && sep != '\t') return std::nullopt;
  const std::string_view token = codec::trim(authorization.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace aipool::net
