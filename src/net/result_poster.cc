#include "net/result_poster.h"

#include "net/result_stream.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/Socket.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "io/http_body.h"
#include "io/tls_client.h"

namespace aipool::net {
namespace {

constexpr std::size_t kMaxAnswerBytes = 4096;
// A body up to this size is written with the header, through Poco's 4 KiB buffer.
constexpr std::size_t kInlineBodyBytes = 2048;

std::string endpoint_of(const ResultTarget& target) {
  return (target.https ? "https://" : "http://") + target.host + ":" + std::to_string(target.port);
}

}  // namespace

std::optional<ResultTarget> parse_results_url(std::string_view url, std::string& error) {
  // Built by append: gcc 12 warns (-Wrestrict, a false positive) on "literal" + string here.
  std::string prefix = "results URL ";
  prefix.append(url);
  try {
    const Poco::URI uri{std::string(url)};
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      error = prefix + ": only http:// and https:// are supported";
      return std::nullopt;
    }
    if (uri.getHost().empty()) {
      error = prefix + ": no host";
      return std::nullopt;
    }
    ResultTarget target;
    target.host = uri.getHost();
    target.port = uri.getPort();
    target.path = uri.getPathAndQuery();
    if (target.path.empty()) target.path.push_back('/');
    target.url = std::string(url);
    target.https = uri.getScheme() == "https";
    return target;
  } catch (const Poco::Exception& e) {
    error = prefix + ": " + e.message();
    return std::nullopt;
  }
}

// Per host:port: the idle kept-alive sessions and how many are open (idle or in use).
struct ResultPoster::Sessions {
  struct Endpoint {
    std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle;
    std::size_t open = 0;
  };
  std::mutex mutex;
  std::condition_variable freed;
  std::map<std::string, Endpoint> endpoints;
};

// SEC-9: the client side of TLS for posts, as a Poco context over OpenSSL. OpenSSL
// verifies the chain itself (Poco's certificate handlers are never asked); a pinned
// certificate is checked by its fingerprint alone (io/tls_client.h).
struct ResultPoster::Tls {
  TlsTrust trust;
  Poco::Net::Context::Ptr context;

  explicit Tls(TlsTrust t) : trust(std::move(t)) {
    if (trust.mode == TlsTrust::Mode::kPinned) {
      context = io::pinned_tls_context(trust.fingerprint);
      return;
    }
    static std::once_flag initialized;
    std::call_once(initialized, [] { Poco::Net::initializeSSL(); });
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
    params.caLocation = trust.mode == TlsTrust::Mode::kCaFile ? trust.ca_file : "";
    params.loadDefaultCAs = trust.mode == TlsTrust::Mode::kSystem;
    context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    SSL_CTX_set_verify(context->sslContext(), SSL_VERIFY_PEER, nullptr);  // the chain, by OpenSSL
    context->enableExtendedCertificateVerification(true);                // and the host name, by Poco
  }
};

ResultPoster::ResultPoster(std::string secret, PostPolicy policy, std::optional<TlsTrust> tls)
    : secret_(std::move(secret)), policy_(policy), sessions_(std::make_unique<Sessions>()) {
  policy_.max_sessions = std::max<std::size_t>(policy_.max_sessions, 1);
  if (tls) tls_ = std::make_unique<Tls>(std::move(*tls));
}

ResultPoster::~ResultPoster() = default;

std::unique_ptr<Poco::Net::HTTPClientSession> ResultPoster::take_session(const std::string& endpoint,
                                                                         const ResultTarget& target, bool& reused) {
  {
    std::unique_lock<std::mutex> lock(sessions_->mutex);
    Sessions::Endpoint& e = sessions_->endpoints[endpoint];
    // At most max_sessions connections to one orchestrator: a burst of results
    // shares them instead of opening one connection each (RES-12).
    sessions_->freed.wait(lock, [&] { return !e.idle.empty() || e.open < policy_.max_sessions; });
    reused = !e.idle.empty();
    if (reused) {
      std::unique_ptr<Poco::Net::HTTPClientSession> session = std::move(e.idle.back());
      e.idle.pop_back();
      return session;
    }
    ++e.open;
  }
  return new_session(target);
}

std::unique_ptr<Poco::Net::HTTPClientSession> ResultPoster::new_session(const ResultTarget& target) const {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (target.https) {
    session = std::make_unique<Poco::Net::HTTPSClientSession>(target.host, target.port, tls_->context);
  } else {
    session = std::make_unique<Poco::Net::HTTPClientSession>(target.host, target.port);
  }
  session->setKeepAlive(true);
  session->setTimeout(Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(policy_.timeout).count()));
  return session;
}

void ResultPoster::set_result_headers(Poco::Net::HTTPRequest& request, TaskId task, std::string_view worker_id) const {
  request.set("Authorization", std::string(codec::kResultAuthorization));
  request.set("Credentials", secret_);
  request.set(std::string(codec::kTaskIdHeader), std::to_string(task));
  if (!worker_id.empty()) request.set(std::string(codec::kWorkerIdHeader), std::string(worker_id));
}

namespace {

// Names the session's own connect (TCP, then for https the handshake checked as
// every result post's is), protected in Poco, which otherwise makes it inside the
// first request: a derived class may name it, and the pointer works on any session.
struct ConnectAccess : Poco::Net::HTTPClientSession {
  static constexpr auto kReconnect = &ConnectAccess::reconnect;
};

// Whether a session connected ahead can carry the post: the orchestrator has
// neither closed it nor sent anything on it.
bool still_open(Poco::Net::HTTPClientSession& session) {
  try {
    return session.connected() && !peer_has_spoken(session);
  } catch (const Poco::Exception&) {
    return false;
  }
}

}  // namespace

bool peer_has_spoken(Poco::Net::HTTPClientSession& session) {
  Poco::Net::StreamSocket& socket = session.socket();
  if (!socket.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) {
    return false;
  }
  if (dynamic_cast<Poco::Net::HTTPSClientSession*>(&session) == nullptr) return true;  // plain: data, or the close
  // Over TLS 1.3 every record looks alike on the wire, and a server sends session
  // tickets after the handshake: readable bytes may be no answer at all, and reading
  // them through OpenSSL could wait. Only the close counts here (a peek that finds
  // the stream's end); an answer followed by a close is seen when a write fails.
  char byte = 0;
  const ssize_t n = ::recv(socket.impl()->sockfd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0;
}

std::unique_ptr<Poco::Net::HTTPClientSession> ResultPoster::connect_stream(const ResultTarget& target) const {
  if (target.https && !tls_) return nullptr;
  try {
    std::unique_ptr<Poco::Net::HTTPClientSession> session = new_session(target);
    // Poco connects anew past this (the orchestrator may close an idle connection).
    session->setKeepAliveTimeout(
        Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(kStreamConnectionFresh).count()));
    ((*session).*ConnectAccess::kReconnect)();
    return session;
  } catch (const Poco::Exception&) {
    return nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<ResultStreamPost> ResultPoster::open_stream(const ResultTarget& target, TaskId task,
                                                            std::string_view worker_id, std::string& error,
                                                            std::unique_ptr<Poco::Net::HTTPClientSession> connected) {
  if (target.https && !tls_) {
    error = "the results URL " + target.url + " is https:// but this worker was started with -insecure";
    return nullptr;
  }
  if (connected && !still_open(*connected)) connected.reset();
  auto stream = std::make_unique<ResultStreamPost>(connected ? std::move(connected) : new_session(target));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target.path, Poco::Net::HTTPMessage::HTTP_1_1);
  set_result_headers(request, task, worker_id);
  if (!stream->begin(request, error)) return nullptr;
  return stream;
}

void ResultPoster::keep_session(const std::string& endpoint, std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  {
    std::lock_guard<std::mutex> lock(sessions_->mutex);
    sessions_->endpoints[endpoint].idle.push_back(std::move(session));
  }
  sessions_->freed.notify_one();
}

void ResultPoster::drop_session(const std::string& endpoint, std::unique_ptr<Poco::Net::HTTPClientSession> session) {
  session.reset();  // closes the connection before another may open
  {
    std::lock_guard<std::mutex> lock(sessions_->mutex);
    --sessions_->endpoints[endpoint].open;
  }
  sessions_->freed.notify_one();
}

void ResultPoster::forget_sessions(const std::string& endpoint) {
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> closing;
  {
    std::lock_guard<std::mutex> lock(sessions_->mutex);
    Sessions::Endpoint& e = sessions_->endpoints[endpoint];
    e.open -= e.idle.size();
    closing.swap(e.idle);
  }
  closing.clear();
  sessions_->freed.notify_all();
}

bool ResultPoster::send_once(Poco::Net::HTTPClientSession& session, const ResultTarget& target, TaskId task,
                             std::string_view worker_id, const codec::EncodedPost& body, PostOutcome& outcome) {
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target.path, Poco::Net::HTTPMessage::HTTP_1_1);
  request.setKeepAlive(true);
  set_result_headers(request, task, worker_id);
  request.setContentType(body.content_type);
  const std::size_t size = body.size();
  request.setContentLength(static_cast<std::streamsize>(size));
  std::ostream& out = session.sendRequest(request);
  if (size <= kInlineBodyBytes) {
    // Header and body fit Poco's buffer together: one write, one segment.
    for (const SharedBytes& piece : body.pieces) out.write(piece->data(), static_cast<std::streamsize>(piece->size()));
    out.flush();
  } else if (target.https) {
    out.flush();  // the header; each piece then goes through the TLS socket
    for (const SharedBytes& piece : body.pieces) io::write_body(session, piece->data(), piece->size());
  } else {
    out.flush();  // the header; the body's pieces go straight to the socket
    std::vector<std::string_view> pieces;
    pieces.reserve(body.pieces.size());
    for (const SharedBytes& piece : body.pieces) pieces.push_back(*piece);
    io::write_body_pieces(session, pieces);
  }
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string answer;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    if (answer.size() < kMaxAnswerBytes) {
      answer.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(in.gcount()), kMaxAnswerBytes - answer.size()));
    }
  }
  outcome.status = static_cast<int>(response.getStatus());
  outcome.answer = std::move(answer);
  outcome.error.clear();
  return response.getKeepAlive();
}

PostOutcome ResultPoster::post(const ResultTarget& target, TaskId task, std::string_view worker_id,
                               const codec::EncodedPost& body) {
  PostOutcome outcome;
  const auto started = std::chrono::steady_clock::now();
  const auto stamp = [&] {
    outcome.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  };
  if (target.https && !tls_) {
    outcome.error = "the results URL " + target.url + " is https:// but this worker was started with -insecure";
    return outcome;
  }
  const std::string endpoint = endpoint_of(target);
  auto delay = policy_.first_retry_delay;
  int failures = 0;
  while (failures <= policy_.retries) {
    bool reused = false;
    std::unique_ptr<Poco::Net::HTTPClientSession> session = take_session(endpoint, target, reused);
    ++outcome.attempts;
    bool answered = false;
    bool keep = false;
    try {
      keep = send_once(*session, target, task, worker_id, body, outcome);
      answered = true;
    } catch (const Poco::Exception& e) {
      outcome.error = e.displayText();
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    if (keep) {
      keep_session(endpoint, std::move(session));
    } else {
      drop_session(endpoint, std::move(session));
    }
    if (answered) {
      stamp();
      return outcome;
    }
    if (reused) {
      // The orchestrator may have closed an idle connection: the others are suspect
      // too. Try again at once on a fresh connection.
      forget_sessions(endpoint);
      continue;
    }
    ++failures;
    if (failures > policy_.retries) break;
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
  stamp();
  return outcome;
}

}  // namespace aipool::net
