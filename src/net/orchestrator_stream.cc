// Streamed llm answers (orchestrator_stream.h): a worker's event-stream result post,
// read line by line and passed to its client as it arrives (spec/llm.md LLM-3..LLM-6).
#include "net/orchestrator_stream.h"

#include <spdlog/spdlog.h>

#include "codec/json_scan.h"
#include "codec/multipart.h"
#include "codec/result_codec.h"
#include "codec/text.h"
#include "net/api_response.h"
#include "net/orchestrator_http.h"
#include "net/orchestrator_state.h"

namespace aipool::net {
namespace {

// A line of the event stream longer than this fails the post (LLM-5).
constexpr std::size_t kMaxLineBytes = 1u << 20;

// The result a complete stream reports (its chunks have gone to the client already).
const Payload& streamed_marker() {
  static const Payload marker = std::make_shared<const std::string>("{\"streamed\":true}");
  return marker;
}

HttpResponse error_answer(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = api_error_json(message);
  response.close = status >= 400;
  return response;
}

HttpResponse event_stream_head() {  // LLM-3
  HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("Cache-Control", "no-cache");
  return head;
}

// An SSE field's value: after the colon, without one leading space.
std::string_view field_value(std::string_view line, std::size_t colon) {
  std::string_view value = line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

}  // namespace

// The reader of one streamed result post (LLM-4, LLM-5). Runs on the post
// connection's thread; stop() may be called from any thread.
class StreamPostReader final : public BodyReader, public std::enable_shared_from_this<StreamPostReader> {
 public:
  StreamPostReader(std::shared_ptr<OrchestratorNode::Shared> shared, std::shared_ptr<ClientStream> client, JobId job,
                   TaskId task, std::optional<WorkerId> from, std::string credentials,
                   std::shared_ptr<HttpExchange> post)
      : shared_(std::move(shared)),
        client_(std::move(client)),
        job_(job),
        task_(task),
        from_(from),
        credentials_(std::move(credentials)),
        post_(std::move(post)) {}

  void piece(std::string_view bytes) override {
    if (finished_) return;
    buffer_.append(bytes);
    std::size_t start = 0;
    for (std::size_t nl = buffer_.find('\n'); nl != std::string::npos; nl = buffer_.find('\n', start)) {
      std::string_view line(buffer_.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = nl + 1;
      on_line(line);
      if (finished_) return;
    }
    buffer_.erase(0, start);
    if (buffer_.size() > kMaxLineBytes) {
      fail(400, "an event-stream line is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
  }

  void end(bool complete, std::string_view why) override {
    if (finished_) return;
    if (complete && !buffer_.empty()) on_line(buffer_);  // a last line without its newline
    if (finished_) return;
    finished_ = true;
    if (!complete) {  // the server answers or closes the post itself
      report(false, "the result stream broke: " + std::string(why));
      return;
    }
    if (error_seen_) {
      report(false, error_);
      post_->respond(error_answer(200, "error recorded"));
    } else if (done_) {
      const ReportVerdict verdict = report(true, "");
      post_->respond(verdict == ReportVerdict::kAccepted ? error_answer(200, "ok")
                                                         : error_answer(409, "task " + std::to_string(task_) +
                                                                                 " has already ended"));
    } else {
      report(false, "the result stream ended without data: [DONE]");
      post_->respond(error_answer(400, "the event stream ended without data: [DONE]"));
    }
  }

  // The job ended otherwise than by this post's end (LLM-5, LLM-6): the post is
  // answered `status` and closed, and its attempt's slot released.
  void stop(int status, std::string message) {
    post_->post([self = shared_from_this(), status, message = std::move(message)] {
      if (self->finished_) return;
      self->finished_ = true;
      self->report(false, "stopped: " + message);
      self->post_->respond(error_answer(status, message));
    });
  }

 private:
  void on_line(std::string_view line) {
    if (line.empty() || line.front() == ':') return;  // an event's end; a comment
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || (name != "data" && name != "event")) {
      fail(400, "not an event-stream line: " + codec::log_safe(line));
      return;
    }
    const std::string_view value = field_value(line, colon);
    if (name == "event") {
      if (value != "error") fail(400, "unknown event type: " + codec::log_safe(value));
      error_event_ = true;
      return;
    }
    if (done_) {
      fail(400, "data after data: [DONE]");
    } else if (error_event_) {  // LLM-4: {"msg": "<error>"}
      const codec::JsonMember msg = codec::top_level_string_member(value, "msg");
      error_ = msg.status == codec::JsonMember::Status::kFound ? msg.value : std::string(value);
      error_seen_ = true;
    } else if (value == "[DONE]") {
      done_ = true;
    } else if (error_seen_) {
      fail(400, "data after the error event");
    } else {
      const codec::JsonMember probe = codec::top_level_string_member(value, "");
      if (probe.status == codec::JsonMember::Status::kInvalid || probe.status == codec::JsonMember::Status::kNotObject) {
        fail(400, "a data line is not a JSON object");
        return;
      }
      forward(value);
    }
  }

  void forward(std::string_view json) {
    if (!bound_) {  // RETRY-7: from the first chunk on, this attempt is the job's only one
      bool bound = false;
      {
        CoreLock lock(*shared_);
        bound = shared_->broker && shared_->broker->bind(task_);
      }
      if (!bound) {
        finished_ = true;
        report(false, "stopped: the attempt has ended");
        post_->respond(error_answer(409, "task " + std::to_string(task_) + " has already ended"));
        return;
      }
      bound_ = true;
    }
    std::string event = "data: ";
    event += json;
    event += "\n\n";
    bool slow = false;
    {
      std::lock_guard<std::mutex> lock(client_->mutex);
      if (client_->ended) return;  // the job is over; stop() is on its way
      if (!client_->started) {
        client_->client->start_stream(event_stream_head());
        client_->started = true;
      }
      client_->client->write_chunk(std::move(event));
      slow = client_->client->unsent_bytes() > shared_->config.max_stream_buffer;
    }
    if (slow) {  // LLM-6: the client reads more slowly than the worker writes
      spdlog::warn("job {}: its client has more than {} bytes of the stream unread; cancelled", job_,
                   shared_->config.max_stream_buffer);
      CoreLock lock(*shared_);
      if (shared_->broker) shared_->broker->cancel(job_);
    }
  }

  // The post is malformed: the attempt ends as a worker error (RES-6) and the post is answered.
  void fail(int status, std::string error) {
    finished_ = true;
    report(false, "malformed result: " + error);
    post_->respond(error_answer(status, error));
  }

  ReportVerdict report(bool ok, std::string error) {
    Report r;
    r.credentials = credentials_;
    r.task = task_;
    r.from = from_;
    r.ok = ok;
    r.rejected_input = !ok && codec::is_rejected_input(error);
    r.error = std::move(error);
    if (ok) {
      auto body = std::make_shared<ResultBody>();
      body->json = streamed_marker();
      r.result = std::move(body);
    }
    CoreLock lock(*shared_);
    return shared_->broker ? shared_->broker->report(r) : ReportVerdict::kUnknownTask;
  }

  const std::shared_ptr<OrchestratorNode::Shared> shared_;
  const std::shared_ptr<ClientStream> client_;
  const JobId job_;
  const TaskId task_;
  const std::optional<WorkerId> from_;
  const std::string credentials_;
  const std::shared_ptr<HttpExchange> post_;
  std::string buffer_;  // bytes after the last complete line
  bool finished_ = false;
  bool bound_ = false;
  bool done_ = false;
  bool error_event_ = false;
  bool error_seen_ = false;
  std::string error_;
};

bool is_stream_post(const HttpRequest& head) {
  return head.path == "/aiResults" && codec::media_type(head.header("Content-Type").value_or("")) == "text/event-stream";
}

void handle_stream_post(const std::shared_ptr<OrchestratorNode::Shared>& shared, HttpRequest& head,
                        const std::shared_ptr<HttpExchange>& exchange) {
  const std::optional<std::string_view> task_header = head.header(codec::kTaskIdHeader);
  const std::optional<TaskId> task = task_header ? codec::parse_task_id(*task_header) : std::nullopt;
  if (!task) {  // RES-10
    exchange->respond(error_answer(400, "a streamed result needs a TaskId header (an integer from 1 to 2^63 - 1)"));
    return;
  }
  std::optional<WorkerId> from;
  if (const std::optional<std::string_view> id = head.header(codec::kWorkerIdHeader)) {
    const std::optional<TaskId> parsed = codec::parse_task_id(*id);
    if (!parsed) {
      exchange->respond(error_answer(400, "invalid " + std::string(codec::kWorkerIdHeader) + " header"));
      return;
    }
    from = static_cast<WorkerId>(*parsed);
  }
  Report report;
  const std::string credentials(head.header("Credentials").value_or(""));
  report.credentials = credentials;
  report.task = *task;
  report.from = from;
  JobId job = 0;
  ReportVerdict verdict = ReportVerdict::kUnknownTask;
  std::shared_ptr<ClientStream> client;
  {
    CoreLock lock(*shared);
    if (shared->broker) verdict = shared->broker->stream_head(report, job);
    if (verdict == ReportVerdict::kAccepted) {
      const auto it = shared->client_streams.find(job);
      if (it != shared->client_streams.end()) {
        client = it->second;
      } else {  // RES-6: the job did not ask for a stream
        report.error = "malformed result: a streamed result for a job that is not streamed";
        shared->broker->report(report);
      }
    }
  }
  if (verdict != ReportVerdict::kAccepted || !client) {
    spdlog::debug("result stream task={} refused: {}", *task, report_verdict_name(verdict));
    exchange->respond(verdict != ReportVerdict::kAccepted ? verdict_response(verdict, *task)
                                                          : error_answer(400, "job is not streamed"));
    return;
  }
  auto reader = std::make_shared<StreamPostReader>(shared, client, job, *task, from, credentials, exchange);
  bool ended = false;
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    ended = client->ended;
    if (!ended) client->post = reader;
  }
  if (ended) {  // the job ended after stream_head: nothing to feed
    reader->stop(409, "task " + std::to_string(*task) + " has already ended");
    return;
  }
  exchange->read_body(std::move(reader));
}

void end_client_stream(const std::shared_ptr<ClientStream>& stream, const JobOutcome& outcome, HttpResponse answer) {
  std::shared_ptr<StreamPostReader> post;
  bool started = false;
  {
    std::lock_guard<std::mutex> lock(stream->mutex);
    stream->ended = true;
    started = stream->started;
    stream->started = true;
    post = stream->post.lock();
  }
  HttpExchange& client = *stream->client;
  if (outcome.status != JobStatus::kOk && post) {
    post->stop(outcome.status == JobStatus::kCancelled ? 499 : 409, outcome.message);
  }
  if (outcome.status == JobStatus::kOk) {
    if (!started) {  // a worker that answered whole: one chunk
      client.start_stream(event_stream_head());
      const Payload json = outcome.result ? outcome.result->json : nullptr;
      if (json && json != streamed_marker()) client.write_chunk("data: " + *json + "\n\n");
    }
    client.end_stream("data: [DONE]\n\n");
  } else if (started) {  // LLM-5: never a silent truncation
    client.end_stream("event: error\ndata: " + api_error_json(outcome.message) + "\n\n");
  } else {
    client.respond(std::move(answer));
  }
}

}  // namespace aipool::net
