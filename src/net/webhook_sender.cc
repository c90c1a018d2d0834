// The asynchronous jobs' callbacks (webhook_sender.h, spec/async.md ASYNC-9..ASYNC-12).
#include "net/webhook_sender.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/HostEntry.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "codec/text.h"
#include "io/tls_client.h"
#include "net/tls.h"

namespace aipool::net {
namespace {

constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kWriteChunkBytes = 256 * 1024;

bool public_v4(const unsigned char* a) {
  if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224) return false;  // this net, private, loopback, multicast+
  if (a[0] == 100 && (a[1] & 0xC0) == 64) return false;                     // 100.64/10
  if (a[0] == 169 && a[1] == 254) return false;                             // link-local, metadata
  if (a[0] == 172 && (a[1] & 0xF0) == 16) return false;                     // 172.16/12
  if (a[0] == 192 && a[1] == 168) return false;                             // 192.168/16
  return true;
}

bool public_v6(const unsigned char* a) {
  static constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::equal(kMapped.begin(), kMapped.end(), a)) return public_v4(a + 12);
  if (std::all_of(a, a + 15, [](unsigned char b) { return b == 0; })) return false;  // :: and ::1
  if (a[0] == 0xFF) return false;                                                    // multicast
  if ((a[0] & 0xFE) == 0xFC) return false;                                           // fc00::/7
  if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return false;                           // fe80::/10
  return true;
}

std::string strip_brackets(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

// The addresses to check for `host`: itself when a literal, else what it resolves to.
std::vector<std::string> addresses_of(const std::string& host) {
  Poco::Net::IPAddress literal;
  if (Poco::Net::IPAddress::tryParse(host, literal)) return {literal.toString()};
  std::vector<std::string> out;
  const Poco::Net::HostEntry entry = Poco::Net::DNS::hostByName(host);
  for (const Poco::Net::IPAddress& address : entry.addresses()) {
    out.push_back(address.toString());
  }
  return out;
}

}  // namespace

bool is_public_address(const std::string& ip) {
  unsigned char bytes[16] = {0};
  if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) return public_v4(bytes);
  if (inet_pton(AF_INET6, ip.c_str(), bytes) == 1) return public_v6(bytes);
  return false;
}

std::optional<std::string> callback_url_error(std::string_view url, bool allow_private) {
  const std::string prefix = "X-Callback-URL: ";
  if (url.empty() || url.size() > kMaxUrlBytes) return prefix + "must be an http:// or https:// URL of 1 to 2048 bytes";
  Poco::URI uri;
  try {
    uri = Poco::URI(std::string(url));
  } catch (const Poco::Exception&) {
    return prefix + "not a valid URL";
  }
  if (uri.getScheme() != "http" && uri.getScheme() != "https") return prefix + "must be an http:// or https:// URL";
  if (uri.getHost().empty()) return prefix + "the URL has no host";
  if (!uri.getUserInfo().empty()) return prefix + "the URL must not carry user information";
  const std::string host = strip_brackets(uri.getHost());
  Poco::Net::IPAddress literal;
  const bool inside = host == "localhost" ||
                      (Poco::Net::IPAddress::tryParse(host, literal) && !is_public_address(literal.toString()));
  if (inside && !allow_private) {  // ASYNC-11
    return prefix + "the host " + codec::log_safe(host) +
           " is a loopback, private or link-local address; callbacks go to public addresses only";
  }
  return std::nullopt;
}

std::optional<std::string> webhook_ca_error(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "-webhookCACert: cannot read " + path;
  std::ostringstream text;
  text << in.rdbuf();
  if (fingerprint_of_pem(text.str()).empty()) return "-webhookCACert: " + path + " holds no PEM certificate";
  return std::nullopt;
}

WebhookSender::WebhookSender(WebhookConfig config) : config_(std::move(config)) {
  try {
    tls_ = io::client_tls_context(config_.ca_file);
  } catch (const Poco::Exception& e) {
    tls_error_ = "no TLS context: " + e.displayText();
    spdlog::error("https callbacks will fail: {}", tls_error_);
  }
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this] { run(); });
}

WebhookSender::~WebhookSender() { stop(); }

bool WebhookSender::enqueue(WebhookDelivery delivery) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_ && queue_.size() + in_progress_ < config_.max_pending) {
      auto pending = std::make_shared<Pending>();
      pending->delivery = std::move(delivery);
      pending->due = std::chrono::steady_clock::now();
      queue_.push(std::move(pending));
      wake_.notify_one();
      return true;
    }
  }
  spdlog::warn("job {}: callback dropped: {} callbacks are waiting, the limit", delivery.job_id,
               config_.max_pending);
  return false;
}

void WebhookSender::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    while (!queue_.empty()) queue_.pop();
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void WebhookSender::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    if (queue_.top()->due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, queue_.top()->due);
      continue;
    }
    std::shared_ptr<Pending> pending = queue_.top();
    queue_.pop();
    ++in_progress_;
    lock.unlock();
    std::string why;
    const Result result = attempt(pending->delivery, why);
    lock.lock();
    --in_progress_;
    lock.unlock();
    after_try(std::move(pending), result, why);
    lock.lock();
  }
}

void WebhookSender::after_try(std::shared_ptr<Pending> pending, Result result, const std::string& why) {
  ++pending->tries;
  const WebhookDelivery& d = pending->delivery;
  if (result == Result::kDelivered) {
    spdlog::info("job {}: callback delivered (try {})", d.job_id, pending->tries);
    return;
  }
  if (result == Result::kRefused || pending->tries > config_.retries) {
    spdlog::warn("job {}: callback to {} dropped after {} tries: {}", d.job_id, codec::log_safe(d.url),
                 pending->tries, codec::log_safe(why));
    return;
  }
  auto delay = config_.backoff;
  for (int i = 1; i < pending->tries && delay < config_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, config_.max_backoff);
  spdlog::info("job {}: callback try {} failed ({}); again in {} ms", d.job_id, pending->tries, codec::log_safe(why),
               delay.count());
  pending->due = std::chrono::steady_clock::now() + delay;
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  queue_.push(std::move(pending));
  wake_.notify_one();
}

WebhookSender::Result WebhookSender::attempt(const WebhookDelivery& delivery, std::string& why) const {
  try {
    const Poco::URI uri(delivery.url);
    const std::string host = strip_brackets(uri.getHost());
    const std::vector<std::string> addresses = addresses_of(host);
    if (addresses.empty()) {
      why = "the host " + host + " has no address";
      return Result::kRetry;
    }
    for (const std::string& address : addresses) {
      if (!config_.allow_private && !is_public_address(address)) {  // ASYNC-11
        why = "the host " + host + " resolves to " + address + ", not a public address";
        return Result::kRefused;
      }
    }
    // Both schemes connect to the address checked, never after a second lookup; https
    // checks the certificate against the name in the URL (and sends it as SNI).
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      if (!tls_) {
        why = tls_error_;
        return Result::kRetry;
      }
      Poco::Net::SecureStreamSocket socket(tls_);
      socket.setPeerHostName(host);
      session = std::make_unique<Poco::Net::HTTPSClientSession>(socket);
      session->setHost(addresses.front());
      session->setPort(uri.getPort());
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(
          Poco::Net::SocketAddress(Poco::Net::IPAddress(addresses.front()), uri.getPort()));
    }
    session->setTimeout(Poco::Timespan(std::chrono::microseconds(config_.timeout).count()));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathEtc().empty() ? "/" : uri.getPathEtc(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(uri.getHost(), uri.getPort());
    request.setContentType("application/json");
    request.set("Aipool-Job-Id", delivery.job_id);
    request.set("Aipool-Job-Status", delivery.answer->state);
    request.set("Aipool-Job-Code", std::to_string(delivery.answer->status));
    request.setContentLength(static_cast<std::streamsize>(delivery.answer->body_bytes()));
    std::ostream& out = session->sendRequest(request);
    if (delivery.answer->rendered) {
      write_rendered(*delivery.answer->rendered, kWriteChunkBytes,
                     [&out](std::string_view piece) { out.write(piece.data(), static_cast<std::streamsize>(piece.size())); });
    } else {
      out << delivery.answer->body;
    }
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    Poco::NullOutputStream sink;
    Poco::StreamCopier::copyStream(in, sink);
    const int status = static_cast<int>(response.getStatus());
    if (status >= 200 && status < 300) return Result::kDelivered;
    why = "status " + std::to_string(status);
  } catch (const Poco::Exception& e) {
    why = e.displayText();
  } catch (const std::exception& e) {
    why = e.what();
  }
  return Result::kRetry;
}

}  // namespace aipool::net
