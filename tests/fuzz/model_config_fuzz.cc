// Fuzz target: the -aiModels list (model_config.h, LIST-1..LIST-3), both forms:
// the JSON schema (parse_models_json) and the inline form (parse_models_inline),
// and what a worker and an orchestrator make of a list that parses. The input is
// the text. A text is either a list or an error that says what is wrong.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "codec/model_config.h"
#include "fuzz_input.h"

namespace {

using namespace aipool;

void use(const codec::ModelConfigResult& result) {
  if (const auto* error = std::get_if<codec::ModelConfigError>(&result)) {
    fuzz::fuzz_check(!error->message.empty());
    return;
  }
  const auto& entries = std::get<std::vector<codec::ModelEntry>>(result);
  for (const codec::ModelEntry& entry : entries) {
    fuzz::fuzz_check(entry.capacity > 0 && entry.pixels_per_unit > 0 && !entry.executor_json.empty());
  }
  fuzz::fuzz_check(codec::adverts_of(entries).size() == entries.size());
  codec::offers_of(entries);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  use(codec::parse_models_json(text, "fuzz.json"));
  use(codec::parse_models_inline(text));
  return 0;
}
