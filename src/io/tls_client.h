// File: tls_client.h
// The TLS client context of aipool's outgoing HTTPS connections that verify their
// peer by certificate authority: callbacks to clients (net, webhook_sender.h) and
// external runners (exec, runner_http.h). The worker's connections to its
// orchestrator pin or verify in their own way (net/worker_tls.h).
//
// Contract: client_tls_context is thread-safe (OpenSSL is initialised once). The
// context checks the chain against the system's CAs and those of `ca_file` ("" for
// none), the host name against the certificate, and asks for TLS 1.2 at least.
// Errors: a `ca_file` that cannot be read throws Poco::Exception.
#pragma once

#include <Poco/Net/Context.h>

#include <string>

namespace aipool::io {

Poco::Net::Context::Ptr client_tls_context(const std::string& ca_file);

}  // namespace aipool::io
