// File: tls.h
// TLS for both paths (spec/security.md SEC-7..SEC-10), on OpenSSL:
//  - the orchestrator's identity: its -tlsCert/-tlsKey, or a self-signed pair it
//    makes once and keeps in -dataDir, and the certificate's SHA-256 fingerprint;
//  - the worker's trust in an orchestrator: a CA file, a pinned fingerprint, or the
//    system's CAs, checked by a probe handshake before the secret is ever sent.
//
// Contract: pure functions of their arguments and the files they name, thread-safe.
// probe_orchestrator() blocks for at most its timeout. Errors come back as values
// with a message that names the file or the orchestrator; nothing here logs, and no
// private key is put in a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aipool::net {

struct TlsIdentity {
  std::string cert_pem;     // the certificate (and its chain, if any), PEM
  std::string key_pem;      // its private key, PEM
  std::string fingerprint;  // "sha256:" + 64 lower-case hex digits of the leaf's DER
  std::string source;       // where it came from, for the start-up log line
};

// SEC-7: the identity from `cert_file` and `key_file` when both are given; else the
// self-signed pair in `data_dir` (tls-cert.pem, tls-key.pem), made there (key mode
// 0600) when absent. `names` are put in a new certificate's subjectAltName besides
// localhost, 127.0.0.1 and ::1. nullopt with `error` on failure (one of the two
// files given alone, unreadable or unmatched files, an unwritable data_dir).
std::optional<TlsIdentity> load_identity(const std::string& cert_file, const std::string& key_file,
                                         const std::string& data_dir, const std::vector<std::string>& names,
                                         std::string& error);

// A new self-signed identity (P-256 key, 10 years) for `names`.
std::optional<TlsIdentity> make_self_signed(const std::vector<std::string>& names, std::string& error);

// True when `name` is an IPv4 or IPv6 address literal, not a host name.
bool is_ip_literal(const std::string& name);

// "sha256:<hex>" of the first certificate in `cert_pem` (io::sha256_fingerprint's
// form); empty when there is none. Operators' fingerprints are read by
// io::parse_fingerprint (SEC-8).
std::string fingerprint_of_pem(std::string_view cert_pem);

// How a worker trusts an orchestrator (SEC-8).
struct TlsTrust {
  enum class Mode { kSystem, kCaFile, kPinned };
  Mode mode = Mode::kSystem;
  std::string ca_pem;       // kCaFile: the CA certificates
  std::string ca_file;      // kCaFile: the file they came from
  std::string fingerprint;  // kPinned: parse_fingerprint's form
};

struct TlsProbe {
  enum class Kind { kTrusted, kUntrusted, kUnreachable };
  Kind kind = Kind::kUnreachable;
  std::string message;      // why it is not trusted or not reached
  std::string cert_pem;     // kTrusted: the certificate the orchestrator showed
  std::string server_name;  // kTrusted: a DNS name of that certificate (gRPC checks it)
  std::string fingerprint;  // of the certificate shown, whenever a handshake completed
};

// SEC-8, SEC-9: one TLS handshake with host:port. kTrusted when the orchestrator's
// certificate passes `trust` (for kCaFile and kSystem: the chain and the host name;
// for kPinned: the fingerprint alone); kUntrusted when it does not, or when the
// orchestrator does not speak TLS; kUnreachable when no TCP connection could be made
// within `timeout`.
TlsProbe probe_orchestrator(const std::string& host, std::uint16_t port, const TlsTrust& trust,
                            std::chrono::milliseconds timeout);

}  // namespace aipool::net
