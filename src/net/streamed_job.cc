// The worker's side of a streamed llm job (streamed_job.h).
#include "net/streamed_job.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>

#include <spdlog/spdlog.h>

namespace aipool::net {

bool is_streamed_job(const Key& key, std::string_view request_json) {
  if (key.pipeline != Pipeline::kLlm || request_json.find("\"stream\"") == std::string_view::npos) return false;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(request_json));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return false;
    const Poco::Dynamic::Var stream = parsed.extract<Poco::JSON::Object::Ptr>()->get("stream");
    return stream.isBoolean() && stream.extract<bool>();
  } catch (const std::exception&) {
    return false;  // the executor tells the orchestrator what is wrong with it
  }
}

StreamedJob::StreamedJob(ResultPoster& poster, ResultTarget target, TaskId task, std::string worker_id)
    : poster_(poster), target_(std::move(target)), task_(task), worker_id_(std::move(worker_id)) {}

StreamedJob::~StreamedJob() = default;

std::function<bool(std::string_view)> StreamedJob::sink() {
  return [self = shared_from_this()](std::string_view chunk) { return self->send(chunk); };
}

void StreamedJob::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (ended_ || post_ || failed_ || connected_) return;
  connected_ = poster_.connect_stream(target_);
}

bool StreamedJob::open() {
  if (post_) return true;
  if (failed_) return false;
  post_ = poster_.open_stream(target_, task_, worker_id_, open_error_, std::move(connected_));
  if (!post_) {
    failed_ = true;
    spdlog::warn("task {}: the streamed result post could not be opened: {}", task_, open_error_);
  }
  return post_ != nullptr;
}

bool StreamedJob::send(std::string_view chunk) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_ || !open()) return false;
  if (!post_->send(chunk)) failed_ = true;
  return !failed_;
}

bool StreamedJob::carries(const ExecResult& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  ended_ = true;
  const bool carried = post_ != nullptr || (result.ok && open());
  connected_.reset();  // a connection made ahead and not used: closed, nothing sent on it
  return carried;
}

PostOutcome StreamedJob::finish(const ExecResult& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!post_) {
    PostOutcome outcome;
    outcome.error = open_error_;
    return outcome;
  }
  return post_->finish(result.ok, result.error);
}

}  // namespace aipool::net
