#include "net/capabilities.h"

#include <algorithm>
#include <map>

namespace aipool::net {

ParsedAdverts adverts_from_capabilities(const ::net::Capabilities& capabilities) {
  ParsedAdverts out;
  if (!capabilities.has_constraints()) return out;
  std::map<Key, std::uint64_t> merged;
  for (const auto& [capability, constraints] : capabilities.constraints().percapability()) {
    const std::optional<Pipeline> pipeline = pipeline_from_capability(capability);
    if (!pipeline) {
      out.skipped.push_back("capability " + std::to_string(capability) +
                            " is not one of the five AI pipelines (27, 28, 30, 31, 34)");
      continue;
    }
    for (const auto& [model, constraint] : constraints.models()) {
      if (model.empty()) {
        out.skipped.push_back(std::string(pipeline_name(*pipeline)) + " with an empty model_id");
        continue;
      }
      merged[Key{*pipeline, model}] += constraint.capacity();
    }
  }
  for (const auto& [key, capacity] : merged) {
    out.adverts.push_back(Advert{key, static_cast<std::uint32_t>(std::min<std::uint64_t>(capacity, UINT32_MAX))});
  }
  return out;
}

void fill_register_request(::net::RegisterRequest& request, const std::string& secret,
                           const std::vector<Advert>& adverts, const std::string& version) {
  request.set_secret(secret);
  ::net::Capabilities* caps = request.mutable_capabilities();
  caps->set_version(version);
  // go-livepeer's default capabilities (0-12, 14, 26) plus one bit per AI pipeline.
  std::vector<std::uint32_t> bits = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 26};
  std::int64_t total = 0;
  for (const Advert& advert : adverts) {
    const std::uint32_t capability = pipeline_capability(advert.key.pipeline);
    bits.push_back(capability);
    auto& models = *(*caps->mutable_constraints()->mutable_percapability())[capability].mutable_models();
    auto& constraint = models[advert.key.model];
    constraint.set_capacity(constraint.capacity() + advert.capacity);
    constraint.set_warm(true);
    total += advert.capacity;
  }
  std::sort(bits.begin(), bits.end());
  bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
  caps->clear_bitstring();
  for (std::uint32_t bit : bits) {
    while (caps->bitstring_size() <= static_cast<int>(bit / 64)) caps->add_bitstring(0);
    caps->set_bitstring(static_cast<int>(bit / 64), caps->bitstring(static_cast<int>(bit / 64)) | (std::uint64_t{1} << (bit % 64)));
    (*caps->mutable_capacities())[bit] = 1;
  }
  request.set_capacity(total);
}

}  // namespace aipool::net
