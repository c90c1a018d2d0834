// The Broker's judgement of a registration (broker.h): the secret (CONN-1), the
// number of adverts (CONN-7), the id (CONN-3), each advert's model id (CONN-8) and
// key (LIST-1), and whether anything is left to offer (CONN-2). Changes nothing:
// worker_joined (broker.cc) seats an accepted worker.
#include <algorithm>

#include "core/broker.h"
#include "core/secret.h"

namespace aipool {
namespace {

// Messages name at most this many keys, then how many more there were. (Built by
// appending: GCC 12 warns falsely on "literal" + std::string at -O3, bug 105329.)
constexpr std::size_t kNamedKeys = 8;

std::string key_list(const std::vector<Key>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < kNamedKeys; ++i) {
    out += ' ';
    out += key_name(keys[i]);
  }
  if (keys.size() > kNamedKeys) {
    out += " and ";
    out += std::to_string(keys.size() - kNamedKeys);
    out += " more";
  }
  return out;
}

std::string too_long_reason(const Key& key, std::size_t limit) {
  constexpr std::size_t kShown = 32;
  std::string out(pipeline_name(key.pipeline));
  out += " model id of ";
  out += std::to_string(key.model.size());
  out += " bytes is longer than the limit of ";
  out += std::to_string(limit);
  out += " (-maxModelIdBytes): ";
  out.append(key.model, 0, kShown);
  out += "...";
  return out;
}

}  // namespace

JoinResult Broker::judge_join(const JoinRequest& request, std::map<Key, std::uint64_t>& merged) const {
  JoinResult result;
  if (!same_secret(request.secret, config_.secret)) {
    result.verdict = JoinVerdict::kInvalidSecret;
    result.message = "invalid secret";
    return result;
  }
  const std::size_t advertised = std::max(request.advertised, request.adverts.size());
  if (advertised > config_.max_models_per_worker) {
    result.verdict = JoinVerdict::kTooManyModels;
    result.message = "the registration advertises " + std::to_string(advertised) +
                     " models, more than the limit of " + std::to_string(config_.max_models_per_worker) +
                     " per worker (-maxModelsPerWorker)";
    return result;
  }
  if (pool_.id_ever_used(request.id)) {
    result.verdict = JoinVerdict::kIdReused;
    result.message = "worker id " + std::to_string(request.id) + " was already used";
    return result;
  }
  // Merge repeated keys (their capacities add up) and apply the model list (LIST-1).
  for (const Advert& advert : request.adverts) {
    if (advert.capacity == 0) continue;
    if (advert.key.model.size() > config_.max_model_id_bytes) {
      result.skipped.push_back(too_long_reason(advert.key, config_.max_model_id_bytes));
      continue;
    }
    if (config_.model_list && offer_for(advert.key) == nullptr) {
      if (std::find(result.ignored_keys.begin(), result.ignored_keys.end(), advert.key) ==
          result.ignored_keys.end()) {
        result.ignored_keys.push_back(advert.key);
      }
      continue;
    }
    merged[advert.key] += advert.capacity;
  }
  if (merged.empty()) {
    result.verdict = JoinVerdict::kNothingOffered;
    result.message = nothing_offered_message(result);
  }
  return result;
}

// CONN-2: what to fix, naming at most kNamedKeys keys of each list.
std::string Broker::nothing_offered_message(const JoinResult& result) const {
  if (!result.ignored_keys.empty()) {
    std::vector<Key> listed;
    for (const ModelOffer& offer : *config_.model_list) listed.push_back(offer.key);
    return "none of the advertised models is in the orchestrator's model list (advertised:" +
           key_list(result.ignored_keys) + "; offered:" + key_list(listed) + ")";
  }
  if (!result.skipped.empty()) {
    return "no advertised model can be served: " + std::to_string(result.skipped.size()) +
           " model id(s) longer than the limit of " + std::to_string(config_.max_model_id_bytes) +
           " bytes (-maxModelIdBytes)";
  }
  return "advertise at least one pipeline and model with a capacity above 0 "
         "(constraints.PerCapability[capability].models[model_id].capacity)";
}

// TIME-5: the model list offer's own value, else the pipeline's, else the default.
void Broker::set_key_times(std::uint32_t key) {
  if (key_times_.size() < pool_.key_slots()) key_times_.resize(pool_.key_slots());
  const Key& k = pool_.key(key);
  const ModelOffer* offer = offer_for(k);
  const auto pipeline = static_cast<std::size_t>(k.pipeline);
  const auto pick = [](Micros own, Micros per_pipeline, Micros fallback) {
    return own > 0 ? own : per_pipeline > 0 ? per_pipeline : fallback;
  };
  key_times_[key].attempt = pick(offer != nullptr ? offer->attempt_timeout : 0,
                                 config_.pipeline_attempt_timeout[pipeline], config_.attempt_timeout);
  key_times_[key].deadline = pick(offer != nullptr ? offer->job_deadline : 0, config_.pipeline_job_deadline[pipeline],
                                  config_.job_deadline);
}

}  // namespace aipool
