// Fuzz target: the worker's reading of a job's request JSON (WIRE-4) as the
// executors do: the model_id scan before routing (json_scan.h), the request as an
// object (request_json.h), every typed field accessor of JobRequest (job_request.h,
// MODEL-2, MODEL-3, MODEL-14) and the file requests of the OCR and speech
// executors (speech_ocr_request.h). The input is the request JSON. A wrong request
// must fail with JobError or a failed ExecResult, never otherwise.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "codec/json_scan.h"
#include "exec/job_request.h"
#include "exec/request_json.h"
#include "exec/speech_ocr_request.h"
#include "fuzz_input.h"

namespace {

using namespace aipool;

// Runs one accessor; a JobError is the accessor refusing the request.
template <typename Fn>
void field(Fn fn) {
  try {
    fn();
  } catch (const exec::JobError& e) {
    fuzz::fuzz_check(std::string_view(e.what()).starts_with("invalid request: "));
  }
}

void read_fields(const exec::JobRequest& job) {
  exec::ImageLimits limits;
  limits.max_input_pixels = 1u << 16;  // small images only: the fuzz target is about the parsing
  field([&] { job.has("prompt"); });
  field([&] { job.string_or("prompt", ""); });
  field([&] { job.int_or("width", 512, 64, 4096); });
  field([&] { job.number_or("guidance_scale", 7.5, 0, 50); });
  field([&] { job.seed(); });
  field([&] { job.num_images(); });
  field([&] { job.numeric_fields(); });
  field([&] { job.image(limits); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ExecRequest request;
  request.key = Key{Pipeline::kImageToImage, "m"};
  request.task = 1;
  request.request_json = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  codec::top_level_string_member(*request.request_json, "model_id");
  exec::request_object(request);
  field([&] { read_fields(exec::JobRequest(request)); });
  for (const char* file : {"image", "audio"}) {
    auto parsed = exec::parse_file_request(request, file, {"return_timestamps", "prompt"});
    if (auto* failed = std::get_if<ExecResult>(&parsed)) fuzz::fuzz_check(!failed->ok && !failed->error.empty());
  }
  return 0;
}
