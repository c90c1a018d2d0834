// File: capabilities.h
// Converts between the registration message's Capabilities (WIRE-2, WIRE-3) and the
// core's adverts: per pipeline and model, a capacity.
#pragma once

#include <string>
#include <vector>

#include "aipool.pb.h"
#include "seams/types.h"

namespace aipool::net {

struct ParsedAdverts {
  std::vector<Advert> adverts;
  // One line per advertised entry that was skipped, saying why (unknown capability
  // number, empty model id). For the orchestrator's log.
  std::vector<std::string> skipped;
};

// Reads constraints.PerCapability[capability].models[model_id].capacity (WIRE-3);
// entries are returned sorted by (pipeline, model) so that the result does not depend
// on protobuf map order (SEL-6).
ParsedAdverts adverts_from_capabilities(const ::net::Capabilities& capabilities);

// Fills a registration request as a worker sends it: the secret, the per-model
// capacities in constraints, the capability bit set and flat capacities as go-livepeer
// sets them, the total capacity in `capacity`, and the version.
void fill_register_request(::net::RegisterRequest& request, const std::string& secret,
                           const std::vector<Advert>& adverts, const std::string& version);

}  // namespace aipool::net
