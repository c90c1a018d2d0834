// File: capabilities.h
// Converts between the registration message's Capabilities (WIRE-2, WIRE-3) and the
// core's adverts: per pipeline and model, a capacity; and words the orchestrator's
// log of what became of a registration (LOG-1).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "aipool.pb.h"
#include "core/broker.h"
#include "seams/types.h"

namespace aipool::net {

struct ParsedAdverts {
  std::vector<Advert> adverts;
  // One line per advertised entry that was skipped, saying why (unknown capability
  // number, empty model id). For the orchestrator's log, which escapes them (LOG-1).
  std::vector<std::string> skipped;
  // CONN-7: the registration's model entries, every one counted (those under an
  // unknown capability, with an empty id or a capacity of 0 included).
  std::size_t advertised = 0;
};

// Reads constraints.PerCapability[capability].models[model_id].capacity (WIRE-3);
// entries are returned sorted by (pipeline, model) so that the result does not depend
// on protobuf map order (SEL-6). A registration with more than `max_adverts` entries
// is counted but not read (CONN-7): only `advertised` is set, so that the core can
// refuse it without a copy of its adverts.
ParsedAdverts adverts_from_capabilities(const ::net::Capabilities& capabilities,
                                        std::size_t max_adverts = std::numeric_limits<std::size_t>::max());

// The orchestrator's log of one registration (LOG-1). Refused: one warning, whatever
// the registration held. Accepted: one info line naming what the worker offers and,
// when some of its adverts were skipped (parsed.skipped, result.skipped, CONN-8) or
// ignored (LIST-1), one warning summing them up. Each line names at most a few keys or
// reasons, then how many more; every string from the worker is escaped
// (codec::log_safe).
struct JoinLog {
  std::vector<std::string> warnings;
  std::string info;  // empty when refused
};
JoinLog join_log(const JoinRequest& join, const ParsedAdverts& parsed, const JoinResult& result);

// Fills a registration request as a worker sends it: the secret, the per-model
// capacities in constraints, the capability bit set and flat capacities as go-livepeer
// sets them, the total capacity in `capacity`, and the version.
void fill_register_request(::net::RegisterRequest& request, const std::string& secret,
                           const std::vector<Advert>& adverts, const std::string& version);

}  // namespace aipool::net
