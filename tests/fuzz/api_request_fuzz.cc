// Fuzz target: the public API's request validation (parse_api_request, API-2..API-5,
// API-12) on its own, with the pipeline and content type chosen by the input.
// Input: one byte (the pipeline, modulo their number), the Content-Type line, then
// the body. The image and audio checks inside run on the uploaded files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "net/api_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool;
  fuzz::FuzzInput input(data, size);
  const auto pipeline = static_cast<Pipeline>(input.byte() % kPipelineCount);
  const std::string_view content_type = input.line();
  const net::ModelLister models = [](Pipeline) { return std::vector<std::string>{"m", "other"}; };
  const net::ParsedApiRequest parsed = net::parse_api_request(pipeline, content_type, input.rest(), models);
  if (parsed.ok) {
    fuzz::fuzz_check(parsed.job.job_json != nullptr && parsed.job.key.pipeline == pipeline);
  } else {
    fuzz::fuzz_check(parsed.error.status >= 400 && !parsed.error.message.empty());
  }
  return 0;
}
