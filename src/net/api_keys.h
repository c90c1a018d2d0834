// File: api_keys.h
// Client keys for the public AI API and the admin key (spec/security.md SEC-2..SEC-6):
// parsing the -apiKeys file, finding a presented key by its SHA-256 digest, and the
// `Authorization: Bearer` header.
//
// Contract: ApiKeys is immutable after parse() and safe to read from any thread. Keys
// are held only as digests; nothing here logs, and no error message holds a key.
// Errors: parse() returns nullopt with a message naming the line.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aipool::net {

using KeyDigest = std::array<unsigned char, 32>;  // SHA-256

KeyDigest key_digest(std::string_view key);

// True when both digests are equal; the time taken never depends on the bytes (SEC-4).
bool same_digest(const KeyDigest& a, const KeyDigest& b);

struct ApiKey {
  std::size_t index = 0;          // 0..size()-1, in file order
  std::string name;               // never the key itself
  std::uint32_t max_in_flight = 0;  // 0: no cap (SEC-5)
};

class ApiKeys {
 public:
  // Parses the text of an -apiKeys file (SEC-2). On error returns nullopt and sets
  // `error` to what is wrong and on which line.
  static std::optional<ApiKeys> parse(std::string_view text, std::string& error);

  // The key `presented` is, or nullptr (SEC-4).
  const ApiKey* find(std::string_view presented) const;
  std::size_t size() const { return keys_.size(); }
  const ApiKey& at(std::size_t index) const { return keys_[index]; }

 private:
  struct DigestHash {
    std::size_t operator()(const KeyDigest& d) const;
  };
  std::vector<ApiKey> keys_;
  std::vector<KeyDigest> digests_;  // parallel to keys_
  std::unordered_map<KeyDigest, std::size_t, DigestHash> by_digest_;
};

// The token of an `Authorization: Bearer <token>` value (scheme in any case, the token
// trimmed), or nullopt for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

}  // namespace aipool::net
