// File: api_request.h
// The public AI API's request validation (RETRY-5: before any dispatch), per
// pipeline, with go-livepeer's paths, field names and defaults (spec/api.md); the
// answers are rendered by api_response.h. Pure functions: no I/O, no core calls.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "media/image_codec.h"
#include "net/api_response.h"
#include "seams/types.h"

namespace aipool::net {

struct ApiJob {
  Key key;
  Payload job_json;  // the NotifyAIJob data (WIRE-4)
  // The job's size in go-livepeer's latency-score units (spec/metrics.md MET-10):
  // output pixels x inference steps, image pixels, or seconds of audio; 0: unknown.
  double work_units = 0;
  bool stream = false;  // an llm request with "stream": true (LLM-3)
};

// The models offered now for a pipeline, to resolve a request without model_id.
using ModelLister = std::function<std::vector<std::string>(Pipeline)>;

struct ParsedApiRequest {
  bool ok = false;
  ApiJob job;
  ApiError error;
};

// API-2..API-5: validates a request body for `pipeline` and builds the job's JSON.
// API-12: an `image` file must be a whole PNG or JPEG (checked from its header and
// structure, not decoded: 400 with the reason) of at most `max_pixels` pixels (413).
ParsedApiRequest parse_api_request(Pipeline pipeline, std::string_view content_type,
                                   std::string_view body, const ModelLister& models,
                                   std::uint64_t max_pixels = media::kDefaultMaxPixels);

}  // namespace aipool::net
