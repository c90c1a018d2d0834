// The event-driven HTTP server (http_server.h): listening, accepting and stopping.
// One connection's requests and answers are in http_connection.cc.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>
#include <chrono>
#include <spdlog/spdlog.h>

#include "codec/text.h"
#include "net/http_server_impl.h"

namespace aipool::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A refused accept (out of file descriptors, say) is tried again after this.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);

void accept_next(HttpServer::Impl& server);

void on_accepted(HttpServer::Impl& server, const boost::system::error_code& ec, tcp::socket socket) {
  if (server.stopping) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    spdlog::warn("http: accept failed: {}; trying again in {} ms", ec.message(), kAcceptRetry.count());
    server.accept_retry.expires_after(kAcceptRetry);
    server.accept_retry.async_wait([&server](const boost::system::error_code& wait_ec) {
      if (!wait_ec) accept_next(server);
    });
    return;
  }
  const std::size_t open = server.connections.fetch_add(1) + 1;
  serve_connection(server, std::move(socket), open > server.config.max_connections);
  accept_next(server);
}

// HTTP-7: the loop the next connection lives on, in turn.
asio::io_context& next_loop(HttpServer::Impl& server) {
  const std::size_t loops = server.more_loops.size() + 1;
  const std::size_t i = server.next_loop++ % loops;
  return i == 0 ? server.ioc : *server.more_loops[i - 1];
}

void accept_next(HttpServer::Impl& server) {
  server.acceptor.async_accept(asio::make_strand(next_loop(server)),
                               [&server](const boost::system::error_code& ec, tcp::socket socket) {
                                 on_accepted(server, ec, std::move(socket));
                               });
}

// host:port as an endpoint; a host name is resolved. False with `error` otherwise.
bool endpoint_of(asio::io_context& ioc, const std::string& address, tcp::endpoint& out, std::string& error) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    error = "expected host:port, got '" + codec::log_safe(address) + "'";
    return false;
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    error = "cannot resolve '" + codec::log_safe(address) + "': " + (ec ? ec.message() : "no address");
    return false;
  }
  out = results.begin()->endpoint();
  return true;
}

}  // namespace

std::string_view http_reason(int status) {
  if (status == 499) return "Client Closed Request";
  const boost::beast::string_view reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  if (reason.empty() || reason == "<unknown-status>") return "Unknown";
  return {reason.data(), reason.size()};
}

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(handler))) {}

HttpServer::~HttpServer() { stop(0); }

namespace {

// SEC-7: TLS 1.2 and later, with the configured certificate chain and key.
std::unique_ptr<asio::ssl::context> tls_context(const HttpServerConfig& config, std::string& error) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  try {
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    ctx->use_certificate_chain(asio::buffer(config.tls_cert_pem));
    ctx->use_private_key(asio::buffer(config.tls_key_pem), asio::ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    error = std::string("cannot use the TLS certificate and key: ") + e.what();
    return nullptr;
  }
  return ctx;
}

}  // namespace

bool HttpServer::listen(std::string& error) {
  Impl& s = *impl_;
  if (!s.config.tls_cert_pem.empty() || !s.config.tls_key_pem.empty()) {
    s.tls = tls_context(s.config, error);
    if (!s.tls) return false;
  }
  tcp::endpoint endpoint;
  if (!endpoint_of(s.ioc, s.config.address, endpoint, error)) return false;
  boost::system::error_code ec;
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "cannot listen for HTTP on " + s.config.address + ": " + ec.message();
    return false;
  }
  s.port = s.acceptor.local_endpoint().port();
  return true;
}

void HttpServer::run() {
  Impl& s = *impl_;
  if (!s.threads.empty() || !s.acceptor.is_open()) return;
  const int threads = std::max(1, s.config.threads);
  for (int i = 1; i < threads; ++i) {
    s.more_loops.push_back(std::make_unique<asio::io_context>(1));
    s.keep_running.push_back(asio::make_work_guard(*s.more_loops.back()));
  }
  accept_next(s);
  s.threads.emplace_back([&s] { s.ioc.run(); });
  for (auto& loop : s.more_loops) s.threads.emplace_back([&loop] { loop->run(); });
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::stop(std::int64_t grace_ms) {
  Impl& s = *impl_;
  if (s.threads.empty() || s.stopping.exchange(true)) return;
  asio::post(s.ioc, [&s] {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    s.accept_retry.cancel();
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (s.answers_due.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.keep_running.clear();
  s.ioc.stop();
  for (auto& loop : s.more_loops) loop->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
}

HttpServerStats HttpServer::stats() const {
  return {impl_->connections.load(), impl_->client_budget.used()};
}

}  // namespace aipool::net
