// Fuzz target: client keys (api_keys.h, spec/security.md SEC-2..SEC-4): the -apiKeys
// file's parser and the `Authorization: Bearer` header every keyed request carries.
// The input's first line is an Authorization value, the rest a keys file. Checked:
// a token is never empty and never carries surrounding blanks; in a file that
// parses, every key is found under its own name and the file's size holds.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_input.h"
#include "net/api_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = bytes.find('\n');
  const std::string_view header = bytes.substr(0, newline);
  const std::string_view file = newline == std::string_view::npos ? std::string_view() : bytes.substr(newline + 1);
  if (const std::optional<std::string_view> token = net::bearer_token(header)) {
    constexpr std::string_view kBlank = " \t\r\n\f\v";  // what the header's value is trimmed of
    fuzz::fuzz_check(!token->empty() && kBlank.find(token->front()) == std::string_view::npos &&
                     kBlank.find(token->back()) == std::string_view::npos);
  }
  std::string error;
  const std::optional<net::ApiKeys> keys = net::ApiKeys::parse(file, error);
  if (!keys) {
    fuzz::fuzz_check(!error.empty());
    return 0;
  }
  fuzz::fuzz_check(keys->size() > 0);
  std::size_t found = 0;
  std::string_view rest = file;
  while (!rest.empty()) {  // the first field of each line that is not blank or a comment
    const std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::size_t start = line.find_first_not_of(" \t\r\f\v");
    if (start == std::string_view::npos || line[start] == '#') continue;
    line.remove_prefix(start);
    const std::string_view key = line.substr(0, line.find_first_of(" \t\r\f\v"));
    const net::ApiKey* entry = keys->find(key);
    fuzz::fuzz_check(entry != nullptr && entry->index == found);
    ++found;
  }
  fuzz::fuzz_check(found == keys->size());
  return 0;
}
