#include "io/tls_client.h"

#include <Poco/Net/SSLManager.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cctype>
#include <mutex>

namespace aipool::io {
namespace {

void initialize_once() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// What a pinned context knows; it hangs on its SSL_CTX, which frees it with itself.
struct Pinned {
  std::string fingerprint;
  std::mutex mutex;
  std::string refused;  // the last certificate refused since one was passed
};

void free_pinned(void*, void* pointer, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<Pinned*>(pointer); }

int pinned_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_pinned);
  return index;
}

// OpenSSL's verify callback for a pinned certificate: only the leaf's fingerprint
// counts, so the CAs above it (if any) pass unchecked.
int verify_pinned(int, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) > 0) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* pinned = static_cast<Pinned*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pinned_index()));
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  unsigned char* der = nullptr;
  const int size = leaf != nullptr ? i2d_X509(leaf, &der) : -1;
  if (pinned == nullptr || size <= 0) return 0;
  const std::string fingerprint = sha256_fingerprint(std::string_view(reinterpret_cast<char*>(der), size));
  OPENSSL_free(der);
  const bool match = fingerprint == pinned->fingerprint;
  {
    std::lock_guard lock(pinned->mutex);
    pinned->refused = match ? "" : fingerprint;
  }
  if (match) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

}  // namespace

Poco::Net::Context::Ptr client_tls_context(const std::string& ca_file) {
  initialize_once();
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
  params.loadDefaultCAs = true;
  params.caLocation = ca_file;
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  return context;
}

Poco::Net::Context::Ptr pinned_tls_context(const std::string& fingerprint) {
  initialize_once();
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // set below, with the callback
  params.loadDefaultCAs = false;
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  SSL_CTX* ctx = context->sslContext();
  auto* pinned = new Pinned;
  pinned->fingerprint = fingerprint;
  SSL_CTX_set_ex_data(ctx, pinned_index(), pinned);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &verify_pinned);
  context->enableExtendedCertificateVerification(false);  // the fingerprint is the identity
  return context;
}

std::string refused_fingerprint(const Poco::Net::Context& context) {
  auto* pinned = static_cast<Pinned*>(SSL_CTX_get_ex_data(context.sslContext(), pinned_index()));
  if (pinned == nullptr) return "";
  std::lock_guard lock(pinned->mutex);
  return pinned->refused;
}

std::string sha256_fingerprint(std::string_view der) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(der.data(), der.size(), digest, &size, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::optional<std::string> parse_fingerprint(std::string_view text) {
  if (text.size() >= 7 && (text.substr(0, 7) == "sha256:" || text.substr(0, 7) == "SHA256:")) text.remove_prefix(7);
  std::string hex;
  for (const char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) return std::nullopt;
  return "sha256:" + hex;
}

}  // namespace aipool::io
