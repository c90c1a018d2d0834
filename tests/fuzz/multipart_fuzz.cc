// Fuzz target: the multipart reader (parse_multipart, RES-3 and API-3) and the
// header helpers that find its boundary. Input: the Content-Type line, then the
// body. Every part must be a view inside the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/multipart.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aipool;
  fuzz::FuzzInput input(data, size);
  const std::string_view content_type = input.line();
  const std::string_view body = input.rest();
  codec::media_type(content_type);
  const std::string boundary = codec::header_param(content_type, "boundary").value_or("");
  const codec::MultipartResult result = codec::parse_multipart(body, boundary);
  for (const codec::MultipartPart& part : result.parts) {
    fuzz::fuzz_check(part.content.data() >= body.data() &&
                     part.content.data() + part.content.size() <= body.data() + body.size());
    codec::header_param(part.disposition, "name");
    codec::media_type(part.content_type);
  }
  return 0;
}
