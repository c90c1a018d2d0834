#include "net/capabilities.h"

#include <algorithm>
#include <map>

#include "codec/text.h"

namespace aipool::net {
namespace {

// A join's log lines name at most this many offered keys, and this many reasons.
constexpr std::size_t kLoggedKeys = 16;
constexpr std::size_t kLoggedReasons = 5;

// " and N more" when `total` is above `shown`, else nothing.
std::string and_more(std::size_t total, std::size_t shown) {
  if (total <= shown) return "";
  std::string out = " and ";
  out += std::to_string(total - shown);
  out += " more";
  return out;
}

std::string worker_name(const JoinRequest& join) {
  std::string out = "worker ";
  out += std::to_string(join.id);
  return out;
}

// The reasons, escaped, the first kLoggedReasons of them: "a; b; c and 4 more".
std::string reasons_text(const std::vector<std::string>& reasons) {
  std::string out;
  for (std::size_t i = 0; i < reasons.size() && i < kLoggedReasons; ++i) {
    if (i > 0) out += "; ";
    out += codec::log_safe(reasons[i]);
  }
  return out + and_more(reasons.size(), kLoggedReasons);
}

}  // namespace

JoinLog join_log(const JoinRequest& join, const ParsedAdverts& parsed, const JoinResult& result) {
  JoinLog log;
  const std::string address = codec::log_safe(join.address);
  if (result.verdict != JoinVerdict::kAccepted) {
    const std::size_t advertised = std::max(join.advertised, join.adverts.size());
    log.warnings.push_back(worker_name(join) + " from " + address + " refused (" + std::to_string(advertised) +
                           " adverts): " + codec::log_safe(result.message, 1024));
    return log;
  }
  std::vector<std::string> reasons;
  for (const std::string& skipped : parsed.skipped) reasons.push_back("ignored advert: " + skipped);
  for (const std::string& skipped : result.skipped) reasons.push_back("ignored advert: " + skipped);
  for (const Key& key : result.ignored_keys) {
    reasons.push_back("ignored " + key_name(key) + ": not in the orchestrator's model list");
  }
  if (!reasons.empty()) log.warnings.push_back(worker_name(join) + " (" + address + "): " + reasons_text(reasons));
  log.info = worker_name(join) + " joined from " + address + " offering";
  for (std::size_t i = 0; i < result.offered_keys.size() && i < kLoggedKeys; ++i) {
    log.info += ' ';
    log.info += codec::log_safe(key_name(result.offered_keys[i]));
  }
  log.info += and_more(result.offered_keys.size(), kLoggedKeys);
  return log;
}

ParsedAdverts adverts_from_capabilities(const ::net::Capabilities& capabilities, std::size_t max_adverts) {
  ParsedAdverts out;
  if (!capabilities.has_constraints()) return out;
  for (const auto& [capability, constraints] : capabilities.constraints().percapability()) {
    out.advertised += static_cast<std::size_t>(constraints.models_size());
  }
  if (out.advertised > max_adverts) return out;  // CONN-7: refused on the count alone
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
