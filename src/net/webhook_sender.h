// File: webhook_sender.h
// The asynchronous jobs' callbacks (spec/async.md ASYNC-9..ASYNC-12): each finished
// job's answer POSTed once to its X-Callback-URL with Poco's HTTP(S) client, retried
// with exponential backoff, refused for addresses inside the network (SSRF).
//
// Contract: enqueue() is thread-safe and never blocks (the core's lock may be held);
// deliveries run on the sender's own threads, never the caller's. stop() drops what
// still waits, waits for the deliveries in progress (each at most its timeout) and
// joins the threads; the destructor stops. callback_url_error() and
// is_public_address() are pure. Nothing here throws.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <Poco/AutoPtr.h>

#include "net/async_store.h"

namespace Poco::Net {
class Context;
}

namespace aipool::net {

struct WebhookConfig {
  int retries = 5;                                // -webhookRetries: tries after the first
  std::chrono::milliseconds timeout{10'000};      // -webhookTimeout: per try
  std::chrono::milliseconds backoff{1'000};       // -webhookBackoff: before the first retry
  std::chrono::milliseconds max_backoff{300'000}; // doubling stops here
  bool allow_private = false;                     // -webhookAllowPrivate (ASYNC-11)
  std::string ca_file;                            // -webhookCACert: CAs trusted besides the system's (ASYNC-12)
  std::size_t max_pending = 10'000;
  int threads = 4;
};

// ASYNC-9, ASYNC-11: nullopt when `url` may be a callback, else why not (for a 400).
std::optional<std::string> callback_url_error(std::string_view url, bool allow_private);

// ASYNC-11: true when `ip` (an IPv4 or IPv6 literal) is a public unicast address: not
// loopback, private, shared (100.64/10), link-local, unique-local, unspecified or
// multicast (IPv4-mapped IPv6 addresses are judged as their IPv4 address).
bool is_public_address(const std::string& ip);

// ASYNC-12: nullopt when `path` names a readable PEM file holding at least one
// certificate, else what is wrong with it (for the start-up error).
std::optional<std::string> webhook_ca_error(const std::string& path);

// One callback to deliver.
struct WebhookDelivery {
  std::string url;
  std::string job_id;
  std::shared_ptr<const AsyncAnswer> answer;
};

class WebhookSender {
 public:
  // A ca_file that cannot be loaded leaves https callbacks failing with that reason
  // (logged once here); the caller checks the file first (webhook_ca_error).
  explicit WebhookSender(WebhookConfig config);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Queues `delivery`; false (dropped, logged) when max_pending wait already or after stop().
  bool enqueue(WebhookDelivery delivery);
  void stop();

 private:
  struct Pending {
    WebhookDelivery delivery;
    int tries = 0;  // made so far
    std::chrono::steady_clock::time_point due;
  };
  struct Later {
    bool operator()(const std::shared_ptr<Pending>& a, const std::shared_ptr<Pending>& b) const {
      return a->due > b->due;
    }
  };
  enum class Result { kDelivered, kRetry, kRefused };

  void run();
  Result attempt(const WebhookDelivery& delivery, std::string& why) const;
  void after_try(std::shared_ptr<Pending> pending, Result result, const std::string& why);

  const WebhookConfig config_;
  Poco::AutoPtr<Poco::Net::Context> tls_;  // https callbacks; null when it could not be made
  std::string tls_error_;                  // why not
  std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<std::shared_ptr<Pending>, std::vector<std::shared_ptr<Pending>>, Later> queue_;
  std::size_t in_progress_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace aipool::net
