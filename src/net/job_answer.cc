// How a job's outcome is answered (job_answer.h).
#include "net/job_answer.h"

#include "codec/result_codec.h"

namespace aipool::net {
namespace {
// A large answer is produced and written in pieces of this size.
constexpr std::size_t kStreamChunkBytes = 256 * 1024;

}  // namespace

HttpResponse json_response(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse error_response(int status, std::string_view message) {
  return json_response(status, api_error_json(message));
}

HttpResponse retry_later(int status, std::string_view message) {
  HttpResponse response = error_response(status, message);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

HttpResponse shutting_down() {  // STOP-1
  HttpResponse response = retry_later(503, kShuttingDown);
  response.close = true;
  return response;
}

// The rendered API answer: small ones in one piece; large ones (data: URLs of large
// outputs) encoded piece by piece as the previous piece goes out.
HttpResponse rendered_response(std::shared_ptr<const RenderedResponse> rendered) {
  HttpResponse response;
  if (rendered->size() <= kStreamChunkBytes) {
    response.body = rendered->json();
    return response;
  }
  auto cursor = std::make_shared<RenderedCursor>(*rendered, kStreamChunkBytes);
  response.stream = HttpResponse::Stream{
      rendered->size(), [rendered, cursor](std::string& out) { return cursor->next(out); }};
  return response;
}

// The HTTP status a job's outcome is answered with (a result that fails to render
// aside): API-7, RETRY-2, RETRY-6, TIME-3, STOP-1.
int outcome_status(JobStatus status, bool stopping) {
  if (stopping && status != JobStatus::kOk) return 503;
  switch (status) {
    case JobStatus::kOk:
      return 200;
    case JobStatus::kNoWorker:
    case JobStatus::kQueueFull:
      return 503;
    case JobStatus::kAllFailed:
      return 502;
    case JobStatus::kRejected:
      return 400;
    case JobStatus::kDeadline:
      return 504;
    case JobStatus::kCancelled:
      return 499;
  }
  return 500;
}

// The answer to a finished job (API-5..API-10, RETRY-6, STOP-1).
HttpResponse outcome_response(Pipeline pipeline, const JobOutcome& outcome, bool stopping) {
  if (stopping && outcome.status != JobStatus::kOk) return shutting_down();
  const int status = outcome_status(outcome.status, stopping);
  switch (outcome.status) {
    case JobStatus::kOk: {
      auto rendered = std::make_shared<const RenderedResponse>(
          render_api_response(pipeline, outcome.result ? *outcome.result : ResultBody{}));
      if (!rendered->ok) return error_response(rendered->error.status, rendered->error.message);
      return rendered_response(std::move(rendered));
    }
    case JobStatus::kNoWorker:
    case JobStatus::kQueueFull:
      return retry_later(status, outcome.message);
    case JobStatus::kAllFailed:
    case JobStatus::kDeadline:
      return error_response(status, outcome.message);
    case JobStatus::kRejected:  // RETRY-6, RES-7
      return error_response(status, codec::rejected_input_reason(outcome.message));
    case JobStatus::kCancelled: {
      HttpResponse response = error_response(status, outcome.message);
      response.close = true;
      return response;
    }
  }
  return error_response(500, "unknown job status");
}

}  // namespace aipool::net
