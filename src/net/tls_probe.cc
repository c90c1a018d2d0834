// The worker's probe handshake with an orchestrator (tls.h, SEC-8, SEC-9): is it
// reachable, does it speak TLS, and is its certificate the one this worker trusts.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "net/tls.h"

namespace aipool::net {
namespace {

struct Free {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A TCP connection to host:port within `timeout`, blocking afterwards with that
// timeout on each read and write; -1 with `error` set when none could be made.
int connect_within(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                   std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    error = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, freeaddrinfo);
  error = "cannot connect";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int so_error = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      so_error = errno;
      if (so_error == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        so_error = ETIMEDOUT;
        socklen_t len = sizeof so_error;
        if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
        }
      }
    }
    if (so_error != 0) {
      error = std::string("cannot connect: ") + std::strerror(so_error);
      ::close(fd);
      continue;
    }
    const int flags = 0;
    ::fcntl(fd, F_SETFL, flags);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
  }
  return -1;
}

// The trust anchors and checks of `trust` on a new client context.
Owned<SSL_CTX> client_context(const TlsTrust& trust, std::string& error) {
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ctx;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (trust.mode == TlsTrust::Mode::kPinned) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // the fingerprint decides
    return ctx;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (trust.mode == TlsTrust::Mode::kSystem) {
    SSL_CTX_set_default_verify_paths(ctx.get());
    return ctx;
  }
  Owned<BIO> bio(BIO_new_mem_buf(trust.ca_pem.data(), static_cast<int>(trust.ca_pem.size())));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    added += X509_STORE_add_cert(store, ca) == 1 ? 1 : 0;
    X509_free(ca);
  }
  ERR_clear_error();
  if (added == 0) {
    error = "the CA file holds no PEM certificate";
    return Owned<SSL_CTX>();
  }
  return ctx;
}

// A DNS name the certificate holds (its first DNS subjectAltName, else its CN).
std::string dns_name_of(X509* cert) {
  std::string name;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && name.empty(); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                  static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName)));
    }
  }
  GENERAL_NAMES_free(names);
  if (name.empty()) {
    char cn[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    name = cn;
  }
  return name;
}

std::string pem_of(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

TlsProbe untrusted(std::string message) { return TlsProbe{TlsProbe::Kind::kUntrusted, std::move(message), "", "", ""}; }

// Why a handshake failed, as the worker's fatal error or a reason to try again.
TlsProbe failed_handshake(SSL* ssl, int rc) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return untrusted(std::string("its certificate is not trusted: ") + X509_verify_cert_error_string(verify));
  }
  const int kind = SSL_get_error(ssl, rc);
  const unsigned long code = ERR_peek_error();
  if (kind == SSL_ERROR_SYSCALL && code == 0) {
    TlsProbe probe;
    probe.message = errno == EAGAIN || errno == EWOULDBLOCK ? "the TLS handshake timed out"
                                                            : "the connection closed during the TLS handshake";
    return probe;  // kUnreachable: tried again later
  }
  char text[256] = {0};
  ERR_error_string_n(code, text, sizeof text);
  return untrusted(std::string("the TLS handshake failed (") + text +
                   "); an orchestrator started with -insecure speaks plain text: give this worker -insecure too");
}

}  // namespace

TlsProbe probe_orchestrator(const std::string& host, std::uint16_t port, const TlsTrust& trust,
                            std::chrono::milliseconds timeout) {
  std::string error;
  Owned<SSL_CTX> ctx = client_context(trust, error);
  if (!ctx) return untrusted(error.empty() ? "cannot set up TLS (OpenSSL failed)" : error);
  Fd fd(connect_within(host, port, timeout, error));
  if (fd.get() < 0) return TlsProbe{TlsProbe::Kind::kUnreachable, error, "", "", ""};
  Owned<SSL> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  if (trust.mode != TlsTrust::Mode::kPinned) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    if (is_ip_literal(host)) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  ERR_clear_error();
  const int rc = SSL_connect(ssl.get());
  if (rc != 1) {
    TlsProbe probe = failed_handshake(ssl.get(), rc);
    ERR_clear_error();
    return probe;
  }
  Owned<X509> cert(SSL_get1_peer_certificate(ssl.get()));
  SSL_shutdown(ssl.get());
  if (!cert) return untrusted("it showed no certificate");
  TlsProbe probe;
  probe.cert_pem = pem_of(cert.get());
  const std::string fingerprint = fingerprint_of_pem(probe.cert_pem);
  probe.fingerprint = fingerprint;
  if (trust.mode == TlsTrust::Mode::kPinned && fingerprint != trust.fingerprint) {
    probe.kind = TlsProbe::Kind::kUntrusted;
    probe.message = "its certificate " + fingerprint + " does not match -orchCertFingerprint " + trust.fingerprint;
    return probe;
  }
  probe.kind = TlsProbe::Kind::kTrusted;
  probe.server_name = dns_name_of(cert.get());
  return probe;
}

}  // namespace aipool::net
