// The worker's streamed result post (result_stream.h).
#include "net/result_stream.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/Socket.h>

#include <chrono>
#include <istream>
#include <ostream>

#include "codec/json_text.h"

namespace aipool::net {
namespace {

constexpr std::size_t kMaxAnswerBytes = 4096;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ResultStreamPost::ResultStreamPost(std::unique_ptr<Poco::Net::HTTPClientSession> session)
    : session_(std::move(session)), started_ms_(now_ms()) {}

ResultStreamPost::~ResultStreamPost() = default;

bool ResultStreamPost::begin(Poco::Net::HTTPRequest& request, std::string& error) {
  try {
    request.setContentType("text/event-stream");
    request.setChunkedTransferEncoding(true);
    request.set("Cache-Control", "no-cache");
    body_ = &session_->sendRequest(request);
    // Each chunk is one small write: without this, Nagle's algorithm holds the first
    // chunk until the head is acknowledged, which a delayed ACK makes up to 40 ms.
    session_->socket().setNoDelay(true);
    body_->flush();
    return body_->good();
  } catch (const Poco::Exception& e) {
    error = e.displayText();
  } catch (const std::exception& e) {
    error = e.what();
  }
  return false;
}

bool ResultStreamPost::write(std::string_view bytes) {
  if (broken_) return false;
  try {
    // An answer before the end means the orchestrator has stopped the post (LLM-6).
    if (peer_has_spoken(*session_)) {
      broken_ = true;
      broken_why_ = "the orchestrator stopped the stream";
      return false;
    }
    body_->write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    body_->flush();  // one chunk on the wire now
    if (body_->good()) return true;
    broken_why_ = "the connection broke";
  } catch (const Poco::Exception& e) {
    broken_why_ = e.displayText();
  } catch (const std::exception& e) {
    broken_why_ = e.what();
  }
  broken_ = true;
  return false;
}

bool ResultStreamPost::send(std::string_view chunk_json) {
  std::string event;
  event.reserve(chunk_json.size() + 8);
  event += "data: ";
  event += chunk_json;
  event += "\n\n";
  return write(event);
}

PostOutcome ResultStreamPost::finish(bool ok, std::string_view error) {
  PostOutcome outcome;
  outcome.attempts = 1;
  if (ok) {
    write("data: [DONE]\n\n");
  } else {
    std::string event = "event: error\ndata: {\"msg\":";
    codec::append_json_string(event, error);
    event += "}\n\n";
    write(event);
  }
  try {
    Poco::Net::HTTPResponse response;
    std::istream& in = session_->receiveResponse(response);  // ends the chunked body first
    std::string answer;
    char buffer[1024];
    while ((in.read(buffer, sizeof(buffer)) || in.gcount() > 0) && answer.size() < kMaxAnswerBytes) {
      answer.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    outcome.status = static_cast<int>(response.getStatus());
    outcome.answer = std::move(answer);
  } catch (const Poco::Exception& e) {
    outcome.error = broken_ ? broken_why_ : e.displayText();
  } catch (const std::exception& e) {
    outcome.error = broken_ ? broken_why_ : e.what();
  }
  outcome.elapsed_ms = now_ms() - started_ms_;
  return outcome;
}

}  // namespace aipool::net
