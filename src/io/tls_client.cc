#include "io/tls_client.h"

#include <Poco/Net/SSLManager.h>

#include <mutex>

namespace aipool::io {

Poco::Net::Context::Ptr client_tls_context(const std::string& ca_file) {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_RELAXED;
  params.loadDefaultCAs = true;
  params.caLocation = ca_file;
  Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  return context;
}

}  // namespace aipool::io
