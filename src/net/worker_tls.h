// File: worker_tls.h
// The worker's side of TLS to one orchestrator (spec/security.md SEC-8, SEC-10), on
// top of tls.h: the gRPC credentials for the trust a probe checked, and the check
// that tells a worker with -insecure that its orchestrator speaks TLS.
//
// Contract: thread-safe; tls_spoken_instead() blocks for at most about two seconds.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "net/tls.h"

namespace aipool::net {

// SEC-8: credentials that trust what `probe` checked under `trust`: the pinned
// certificate itself (under its own name, set on `args`), the CA file's CAs, or the
// system's CAs.
std::shared_ptr<grpc::ChannelCredentials> tls_channel_credentials(const TlsTrust& trust, const TlsProbe& probe,
                                                                  grpc::ChannelArguments& args);

// SEC-10: for a worker with -insecure whose stream could not open: the fatal error
// to report when the orchestrator at host:port speaks TLS; nullopt when it does not.
std::optional<std::string> tls_spoken_instead(const std::string& name, const std::string& host, std::uint16_t port);

}  // namespace aipool::net
