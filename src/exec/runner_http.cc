#include "exec/runner_http.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <algorithm>
#include <ostream>

#include "io/http_body.h"

namespace aipool::exec::runner {
namespace {

constexpr std::size_t kReadBytes = 64 * 1024;
// How far ahead of the bytes read a sized answer's memory is filled (read_sized).
constexpr std::size_t kSizedStepBytes = 1 << 20;
// A body up to this size goes out with the head through Poco's stream buffer (one
// write); a larger one straight to the socket (io::write_body), not 4 KiB at a time.
constexpr std::size_t kInlineBodyBytes = 2048;

Poco::Timespan until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
  return Poco::Timespan(std::max<std::int64_t>(left, 1000));
}

std::string too_large(std::size_t max_bytes) {
  return "the answer is larger than " + std::to_string(max_bytes) + " bytes";
}

std::string seconds_text(Clock::duration d) {
  const double s = static_cast<double>(std::chrono::round<std::chrono::milliseconds>(d).count()) / 1000;
  std::string text = std::to_string(s);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

std::variant<Endpoint, std::string> parse_endpoint(std::string_view url) {
  try {
    const Poco::URI uri{std::string(url)};
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      return std::string("url must start with http:// or https:// (got \"") + std::string(url) + "\")";
    }
    if (uri.getHost().empty()) return "url \"" + std::string(url) + "\" has no host";
    if (!uri.getQuery().empty() || !uri.getFragment().empty()) {
      return "url \"" + std::string(url) + "\" must be a base URL, without a query or fragment";
    }
    Endpoint endpoint;
    endpoint.https = uri.getScheme() == "https";
    endpoint.host = uri.getHost();
    endpoint.port = uri.getPort();
    endpoint.base_path = uri.getPath();
    while (!endpoint.base_path.empty() && endpoint.base_path.back() == '/') endpoint.base_path.pop_back();
    endpoint.url = std::string(url);
    while (!endpoint.url.empty() && endpoint.url.back() == '/') endpoint.url.pop_back();
    return endpoint;
  } catch (const Poco::Exception& e) {
    return "url \"" + std::string(url) + "\" is not a URL: " + e.message();
  }
}

Connection::Connection(const Endpoint& endpoint) : endpoint_(endpoint) {}

Connection::~Connection() = default;

void Connection::open() {
  if (endpoint_.https) {
    if (!endpoint_.tls) throw RunnerFailure("an https:// runner without a TLS context");
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>(endpoint_.host, endpoint_.port, endpoint_.tls);
  } else {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(endpoint_.host, endpoint_.port);
  }
  session_->setKeepAlive(true);
  used_ = false;
}

void Connection::fail(const std::string& what, Clock::time_point deadline) {
  reusable_ = false;
  session_.reset();
  body_ = nullptr;
  if (Clock::now() >= deadline) throw RunnerFailure("no answer within " + seconds_text(deadline - started_) + " s");
  throw RunnerFailure(what);
}

int Connection::send(const std::string& method, const std::string& path, const std::string& token,
                     const std::string& content_type, std::string_view body, Clock::time_point deadline) {
  started_ = Clock::now();
  for (int attempt = 0;; ++attempt) {
    if (!session_) open();
    const bool reused = used_;
    used_ = true;
    reusable_ = false;
    try {
      session_->setTimeout(until(deadline));
      Poco::Net::HTTPRequest request(method, endpoint_.base_path + path, Poco::Net::HTTPMessage::HTTP_1_1);
      request.setKeepAlive(true);
      if (!token.empty()) request.set("Authorization", "Bearer " + token);
      if (!content_type.empty() || !body.empty()) {
        request.setContentType(content_type);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      }
      std::ostream& out = session_->sendRequest(request);
      // The head and the body are two writes: without this, Nagle's algorithm holds
      // the body until the head is acknowledged, up to 40 ms on a kept-alive connection.
      session_->socket().setNoDelay(true);
      out.exceptions(std::ios::badbit);
      if (body.size() <= kInlineBodyBytes) {
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.flush();
      } else {
        out.flush();  // the head; the body goes straight to the socket
        io::write_body(*session_, body.data(), body.size());
      }
      response_ = std::make_unique<Poco::Net::HTTPResponse>();
      body_ = &session_->receiveResponse(*response_);
      body_->exceptions(std::ios::badbit);
      return static_cast<int>(response_->getStatus());
    } catch (const Poco::Net::NoMessageException&) {
      if (!reused || attempt > 0) fail("connection closed without an answer", deadline);
      session_.reset();  // the runner had closed the kept-alive connection: open a new one
    } catch (const Poco::TimeoutException&) {
      fail("no answer", deadline);
    } catch (const Poco::Exception& e) {
      if (!reused || attempt > 0 || Clock::now() >= deadline) fail(e.displayText(), deadline);
      session_.reset();
    } catch (const std::ios::failure&) {
      fail("connection broke while sending", deadline);
    }
  }
}

std::string Connection::content_type() const { return response_ ? response_->getContentType() : std::string(); }

std::string Connection::read_body(Clock::time_point deadline, std::size_t max_bytes) {
  if (!body_) throw RunnerFailure("no answer to read");
  std::string text;
  // A sized body is read straight from the session; a chunked one, one that ends with
  // the connection, and the bodiless answers (1xx, 204, 304: Poco reads none, whatever
  // the head says) go through Poco's body stream.
  const int status = static_cast<int>(response_->getStatus());
  const bool bodiless = status < 200 || status == 204 || status == 304;
  const std::streamsize expected =
      response_->getChunkedTransferEncoding() || bodiless ? -1 : response_->getContentLength();
  if (expected > 0 && static_cast<std::size_t>(expected) > max_bytes) fail(too_large(max_bytes), deadline);
  try {
    if (expected >= 0) {
      read_sized(text, static_cast<std::size_t>(expected), deadline);
    } else {
      read_unsized(text, deadline, max_bytes);
    }
  } catch (const Poco::Exception& e) {
    fail("the answer broke off: " + e.displayText(), deadline);
  } catch (const std::ios::failure&) {
    fail("the answer broke off", deadline);
  }
  if (expected >= 0 && static_cast<std::streamsize>(text.size()) != expected) {
    fail("the answer broke off after " + std::to_string(text.size()) + " of " + std::to_string(expected) + " bytes",
         deadline);
  }
  body_ = nullptr;
  reusable_ = response_->getKeepAlive();
  return text;
}

// A body of known length, read from the session straight into `text`: not through
// Poco's body stream, which would take it 4 KiB at a time and copy it twice more.
// The memory is reserved for the declared length but filled only a step ahead of the
// bytes that came: a runner that announces much and sends little commits little.
void Connection::read_sized(std::string& text, std::size_t length, Clock::time_point deadline) {
  text.reserve(length);
  std::size_t got = 0;
  while (got < length) {
    if (text.size() == got) text.resize(std::min(length, got + kSizedStepBytes));
    session_->setTimeout(until(deadline));
    const std::size_t n = io::read_some(*session_, text.data() + got, text.size() - got);
    if (n == 0) break;  // the runner closed the connection: the caller sees the body cut short
    got += n;
    if (got < length && Clock::now() >= deadline) fail("", deadline);
  }
  text.resize(got);
}

// A chunked body, or one that ends with the connection, through Poco's body stream.
void Connection::read_unsized(std::string& text, Clock::time_point deadline, std::size_t max_bytes) {
  char buffer[kReadBytes];
  for (;;) {
    session_->setTimeout(until(deadline));
    body_->read(buffer, sizeof buffer);
    const std::streamsize got = body_->gcount();
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > max_bytes) fail(too_large(max_bytes), deadline);
    if (got < static_cast<std::streamsize>(sizeof buffer) && body_->eof()) return;
    if (Clock::now() >= deadline) fail("", deadline);
  }
}

bool Connection::read_line(std::string& line, Clock::time_point deadline, std::size_t max_bytes) {
  if (!body_) return false;
  try {
    session_->setTimeout(until(deadline));
    line.clear();
    std::streambuf* in = body_->rdbuf();
    for (;;) {
      const int c = in->sbumpc();
      if (c == std::char_traits<char>::eof()) break;
      if (c == '\n') return true;
      if (line.size() == max_bytes) fail("an event stream line is longer than " + std::to_string(max_bytes) + " bytes",
                                         deadline);
      line.push_back(static_cast<char>(c));
    }
    if (!line.empty()) return true;  // the last line, without its '\n'
  } catch (const Poco::Exception& e) {
    fail("the stream broke off: " + e.displayText(), deadline);
  } catch (const std::ios::failure&) {
    fail("the stream broke off", deadline);
  }
  body_ = nullptr;
  return false;
}

void Connection::finish_body(Clock::time_point deadline, std::size_t max_bytes) {
  if (!body_) return;
  try {
    std::size_t seen = 0;
    char buffer[kReadBytes];
    while (seen <= max_bytes && Clock::now() < deadline) {
      session_->setTimeout(until(deadline));
      body_->read(buffer, sizeof buffer);
      seen += static_cast<std::size_t>(body_->gcount());
      if (body_->eof()) {
        body_ = nullptr;
        reusable_ = response_->getKeepAlive();
        return;
      }
    }
  } catch (const Poco::Exception&) {  // broken or too slow: not worth keeping
  } catch (const std::ios::failure&) {
  }
  close();
}

void Connection::close() {
  if (session_) {
    try {
      session_->abort();
    } catch (const Poco::Exception&) {  // closing what is already broken
    }
  }
  session_.reset();
  body_ = nullptr;
  reusable_ = false;
}

}  // namespace aipool::exec::runner
