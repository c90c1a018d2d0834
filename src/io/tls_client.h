// File: tls_client.h
// The TLS client contexts of aipool's outgoing HTTPS connections, and certificate
// fingerprints:
//  - client_tls_context: verify the peer by certificate authority (the system's CAs
//    and those of a file), with its host name; used by callbacks to clients (net,
//    webhook_sender.h) and external runners (exec, runner_http.h);
//  - pinned_tls_context: verify the peer by the SHA-256 fingerprint of its leaf
//    certificate alone, for self-signed peers (result posts to a pinned orchestrator,
//    runners with a `fingerprint`).
//
// Contract: every function is thread-safe (OpenSSL is initialised once), and a
// context may be shared by many connections. Contexts ask for TLS 1.2 at least.
// Errors: a `ca_file` that cannot be read throws Poco::Exception; the fingerprint
// helpers answer "" or nullopt.
#pragma once

#include <Poco/Net/Context.h>

#include <optional>
#include <string>
#include <string_view>

namespace aipool::io {

// Checks the chain against the system's CAs and those of `ca_file` ("" for none),
// and the host name against the certificate.
Poco::Net::Context::Ptr client_tls_context(const std::string& ca_file);

// Passes exactly the peers whose leaf certificate's DER has SHA-256 `fingerprint`
// (parse_fingerprint's form); chain, dates and names are not looked at. A handshake
// with another certificate fails with "certificate verify failed".
Poco::Net::Context::Ptr pinned_tls_context(const std::string& fingerprint);

// For a pinned_tls_context: the fingerprint of the certificate its last handshake
// refused, or "" when the last one passed (or none was refused, or the context is not
// pinned): what an error message can name beside the pinned one.
std::string refused_fingerprint(const Poco::Net::Context& context);

// "sha256:" + 64 lower-case hex digits of SHA-256 over `der` (a certificate's DER).
std::string sha256_fingerprint(std::string_view der);

// A fingerprint as an operator may write it ("sha256:AB:CD:...", any case, colons
// optional, the prefix optional) in sha256_fingerprint's form; nullopt when it is not
// 32 bytes of hex.
std::optional<std::string> parse_fingerprint(std::string_view text);

}  // namespace aipool::io
