// The worker's side of TLS to one orchestrator (worker_tls.h).
#include "net/worker_tls.h"

#include <chrono>

namespace aipool::net {

std::shared_ptr<grpc::ChannelCredentials> tls_channel_credentials(const TlsTrust& trust, const TlsProbe& probe,
                                                                  grpc::ChannelArguments& args) {
  grpc::SslCredentialsOptions ssl;
  if (trust.mode == TlsTrust::Mode::kPinned) {
    ssl.pem_root_certs = probe.cert_pem;  // that very certificate, under its own name
    args.SetSslTargetNameOverride(probe.server_name);
  } else if (trust.mode == TlsTrust::Mode::kCaFile) {
    ssl.pem_root_certs = trust.ca_pem;
  }
  return grpc::SslCredentials(ssl);
}

std::optional<std::string> tls_spoken_instead(const std::string& name, const std::string& host, std::uint16_t port) {
  TlsTrust none;  // nothing is trusted: only whether a TLS handshake completes
  none.mode = TlsTrust::Mode::kPinned;
  const TlsProbe probe = probe_orchestrator(host, port, none, std::chrono::milliseconds(2000));
  if (probe.fingerprint.empty()) return std::nullopt;
  return "orchestrator " + name + " speaks TLS (certificate " + probe.fingerprint +
         ") but this worker was started with -insecure: start it without -insecure, with -orchCACert or "
         "-orchCertFingerprint (the fingerprint the orchestrator logs at start)";
}

}  // namespace aipool::net
