// File: tls_server_context.h
// Test aid, used by tests only: a Poco server TLS context with a new self-signed
// certificate (net::make_self_signed: localhost, 127.0.0.1, ::1), for the stand-in
// servers of the tests that speak https. The certificate and its key are written to
// `dir` (cert.pem, key.pem), so that a client can be told to trust cert.pem.
//
// Contract: any thread. A certificate that cannot be made fails the calling test
// (ADD_FAILURE) and the context is then made from empty files, so Poco throws.
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/SSLManager.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "net/tls.h"

namespace aipool::testing {

inline Poco::Net::Context::Ptr tls_server_context(const std::string& dir, net::TlsIdentity* made = nullptr) {
  std::string error;
  const auto identity = net::make_self_signed({"localhost"}, error);
  if (!identity) ADD_FAILURE() << "no self-signed certificate: " << error;
  std::ofstream(dir + "/cert.pem") << (identity ? identity->cert_pem : "");
  std::ofstream(dir + "/key.pem") << (identity ? identity->key_pem : "");
  if (made != nullptr && identity) *made = *identity;
  Poco::Net::initializeSSL();
  return new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, dir + "/key.pem", dir + "/cert.pem", "",
                                Poco::Net::Context::VERIFY_NONE);
}

}  // namespace aipool::testing
