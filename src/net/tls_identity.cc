// The orchestrator's TLS identity and certificate fingerprints (tls.h, SEC-7, SEC-8).
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "io/tls_client.h"
#include "net/tls.h"

namespace aipool::net {
namespace {

constexpr const char* kCommonName = "aipool-orchestrator";
constexpr long kValidSeconds = 10L * 365 * 24 * 3600;

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

Owned<BIO> memory_bio(std::string_view text) {
  return Owned<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Owned<X509> read_cert(std::string_view pem) {
  Owned<BIO> bio = memory_bio(pem);
  return Owned<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string subject_alt_names(const std::vector<std::string>& names) {
  std::vector<std::string> all = {kCommonName, "localhost", "127.0.0.1", "::1"};
  for (const std::string& name : names) {
    if (!name.empty() && std::find(all.begin(), all.end(), name) == all.end()) all.push_back(name);
  }
  std::string san;
  for (const std::string& name : all) {
    if (!san.empty()) san += ',';
    san += (is_ip_literal(name) ? "IP:" : "DNS:") + name;
  }
  return san;
}

bool add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool write_private_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 && done == text.size();
}

// The pair in the two files, checked to belong together.
std::optional<TlsIdentity> identity_from_files(const std::string& cert_file, const std::string& key_file,
                                               std::string& error) {
  const std::optional<std::string> cert_pem = read_file(cert_file);
  const std::optional<std::string> key_pem = read_file(key_file);
  if (!cert_pem || !key_pem) {
    error = "cannot read " + (cert_pem ? key_file : cert_file);
    return std::nullopt;
  }
  Owned<X509> cert = read_cert(*cert_pem);
  Owned<BIO> key_bio = memory_bio(*key_pem);
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) error = cert_file + " holds no PEM certificate";
  else if (!key) error = key_file + " holds no PEM private key (an encrypted key is not supported)";
  else if (X509_check_private_key(cert.get(), key.get()) != 1) error = key_file + " is not the key of " + cert_file;
  if (!error.empty()) return std::nullopt;
  TlsIdentity identity{*cert_pem, *key_pem, fingerprint_of_pem(*cert_pem), cert_file};
  return identity;
}

}  // namespace

bool is_ip_literal(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 || inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

std::string fingerprint_of_pem(std::string_view cert_pem) {
  Owned<X509> cert = read_cert(cert_pem);
  unsigned char* der = nullptr;
  const int size = cert ? i2d_X509(cert.get(), &der) : -1;
  if (size <= 0) return "";
  std::string fingerprint = io::sha256_fingerprint(std::string_view(reinterpret_cast<char*>(der), size));
  OPENSSL_free(der);
  return fingerprint;
}

std::optional<TlsIdentity> make_self_signed(const std::vector<std::string>& names, std::string& error) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Owned<X509> cert(X509_new());
  unsigned char serial[16];
  bool ok = key && cert && RAND_bytes(serial, sizeof serial) == 1;
  if (ok) {
    serial[0] &= 0x7f;  // a positive serial number
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
    BN_free(bn);
  }
  if (ok) {
    X509_set_version(cert.get(), 2);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidSeconds);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(kCommonName), -1,
                               -1, 0);
    X509_set_issuer_name(cert.get(), name);
    ok = X509_set_pubkey(cert.get(), key.get()) == 1 &&
         add_extension(cert.get(), NID_subject_alt_name, subject_alt_names(names)) &&
         add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
         add_extension(cert.get(), NID_ext_key_usage, "serverAuth") &&
         X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  }
  Owned<BIO> cert_bio(BIO_new(BIO_s_mem()));
  Owned<BIO> key_bio(BIO_new(BIO_s_mem()));
  ok = ok && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1 &&
       PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (!ok) {
    error = "cannot make a self-signed certificate (OpenSSL failed)";
    return std::nullopt;
  }
  TlsIdentity identity{bio_text(cert_bio.get()), bio_text(key_bio.get()), "", "self-signed"};
  identity.fingerprint = fingerprint_of_pem(identity.cert_pem);
  return identity;
}

std::optional<TlsIdentity> load_identity(const std::string& cert_file, const std::string& key_file,
                                         const std::string& data_dir, const std::vector<std::string>& names,
                                         std::string& error) {
  if (cert_file.empty() != key_file.empty()) {
    error = "give both -tlsCert and -tlsKey, or neither (a self-signed certificate is then kept in -dataDir)";
    return std::nullopt;
  }
  if (!cert_file.empty()) return identity_from_files(cert_file, key_file, error);
  if (data_dir.empty()) {
    error = "no -dataDir to keep the self-signed certificate in";
    return std::nullopt;
  }
  const std::string cert_path = data_dir + "/tls-cert.pem";
  const std::string key_path = data_dir + "/tls-key.pem";
  std::error_code ec;
  if (std::filesystem::exists(cert_path, ec) || std::filesystem::exists(key_path, ec)) {
    std::optional<TlsIdentity> kept = identity_from_files(cert_path, key_path, error);
    if (kept) kept->source = "self-signed, kept in " + cert_path;
    return kept;
  }
  std::filesystem::create_directories(data_dir, ec);
  std::optional<TlsIdentity> made = make_self_signed(names, error);
  if (!made) return std::nullopt;
  if (!write_private_file(key_path, made->key_pem) || !write_private_file(cert_path, made->cert_pem)) {
    error = "cannot write the self-signed certificate to " + data_dir + " (-dataDir)";
    return std::nullopt;
  }
  made->source = "self-signed, made now and kept in " + cert_path;
  return made;
}

}  // namespace aipool::net
