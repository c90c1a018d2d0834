// Tests of client keys and admin access (src/net/api_keys.h, orchestrator_access.h,
// spec/security.md): the -apiKeys file, finding a key, the Bearer header, the checks
// each route makes, and the per-key cap on jobs in flight.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "net/api_keys.h"
#include "net/orchestrator_access.h"

namespace aipool::net {
namespace {

constexpr const char* kAlice = "alice-key-0123456789";
constexpr const char* kBob = "bob-key-abcdefghijklm";

ApiKeys parse_ok(const std::string& text) {
  std::string error;
  std::optional<ApiKeys> keys = ApiKeys::parse(text, error);
  EXPECT_TRUE(keys.has_value()) << error;
  return keys ? std::move(*keys) : ApiKeys();
}

std::string parse_error(const std::string& text) {
  std::string error;
  EXPECT_FALSE(ApiKeys::parse(text, error).has_value()) << text;
  return error;
}

// SEC-2: keys with and without names and caps; comments and blank lines skipped; a
// line without a name is named after its line number.
TEST(ApiKeys, ParsesKeysNamesAndCaps) {
  const ApiKeys keys = parse_ok(std::string("# clients\n\n") + kAlice + " alice maxInFlight=2\r\n  " + kBob +
                                "\t\n0123456789abcdef maxInFlight=7 carol\n");
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys.at(0).name, "alice");
  EXPECT_EQ(keys.at(0).max_in_flight, 2u);
  EXPECT_EQ(keys.at(1).name, "key4");
  EXPECT_EQ(keys.at(1).max_in_flight, 0u);
  EXPECT_EQ(keys.at(2).name, "carol");
  EXPECT_EQ(keys.at(2).max_in_flight, 7u);
}

// SEC-2, FLAG-2: each bad line is refused naming its line and what is wrong, and no
// message ever holds the key.
TEST(ApiKeys, BadLinesAreRefusedWithoutTheKey) {
  const std::string secret = "s3cr3t-0123456789";
  const struct {
    std::string text;
    std::string expected;
  } cases[] = {
      {"", "holds no key"},
      {"# only a comment\n", "holds no key"},
      {"short-key", "line 1: the key must be 16 to 256 printable ASCII characters (it has 9)"},
      {"\n" + secret + "\n" + secret, "line 3: the same key as an earlier line"},
      {secret + " a\n" + kAlice + " a", "line 2: the name a is used twice"},
      {secret + " maxInFlight=0", "line 1: maxInFlight must be a whole number from 1 to 1000000"},
      {secret + " maxInFlight=x", "line 1: maxInFlight must be a whole number from 1 to 1000000"},
      {secret + " maxInFlight=1 maxInFlight=2", "line 1: maxInFlight is given twice"},
      {secret + " bad/name", "line 1: a name is 1 to 64 letters, digits, '-', '_' or '.'"},
      {secret + " one two", "line 1: unexpected field after the name (expected maxInFlight=N)"},
      {std::string(300, 'k'), "line 1: the key must be 16 to 256 printable ASCII characters (it has 300)"},
  };
  for (const auto& c : cases) {
    const std::string error = parse_error(c.text);
    EXPECT_EQ(error, c.expected) << c.text;
    EXPECT_EQ(error.find(secret), std::string::npos) << error;
  }
}

// SEC-4: a key is found by its exact value only.
TEST(ApiKeys, FindsOnlyTheExactKey) {
  const ApiKeys keys = parse_ok(std::string(kAlice) + " alice\n" + kBob + " bob\n");
  ASSERT_NE(keys.find(kBob), nullptr);
  EXPECT_EQ(keys.find(kBob)->name, "bob");
  EXPECT_EQ(keys.find(kAlice)->name, "alice");
  EXPECT_EQ(keys.find(std::string(kAlice) + "x"), nullptr);
  EXPECT_EQ(keys.find(std::string(kAlice).substr(1)), nullptr);
  EXPECT_EQ(keys.find(""), nullptr);
  EXPECT_TRUE(same_digest(key_digest(kAlice), key_digest(kAlice)));
  EXPECT_FALSE(same_digest(key_digest(kAlice), key_digest(kBob)));
}

// SEC-3: the Bearer scheme in any case, the token trimmed; anything else is no token.
TEST(BearerToken, TakesOnlyABearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
  EXPECT_EQ(bearer_token("BEARER\tabc"), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer   "), std::nullopt);
  EXPECT_EQ(bearer_token("Bearerabc"), std::nullopt);
  EXPECT_EQ(bearer_token(""), std::nullopt);
}

HttpRequest request_for(const std::string& path, const std::string& authorization, bool loopback) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.target = path;
  request.peer_loopback = loopback;
  if (!authorization.empty()) request.headers.emplace_back("authorization", authorization);
  return request;
}

std::string body_of(const std::optional<HttpResponse>& response) { return response ? response->body : ""; }

// SEC-3: with keys on, a pipeline request needs a valid key (401 with
// WWW-Authenticate otherwise); with keys off, none is asked for.
TEST(Access, ClientKeysGuardThePublicApi) {
  OrchestratorConfig config;
  EXPECT_FALSE(check_client_key(config, request_for("/text-to-image", "", false)).refusal);
  config.api_keys = std::make_shared<const ApiKeys>(parse_ok(std::string(kAlice) + " alice"));
  ClientAccess none = check_client_key(config, request_for("/text-to-image", "", false));
  ASSERT_TRUE(none.refusal);
  EXPECT_EQ(none.refusal->status, 401);
  EXPECT_EQ(none.refusal->body, "{\"detail\":{\"msg\":\"missing API key: send Authorization: Bearer <key>\"}}");
  ASSERT_EQ(none.refusal->headers.size(), 1u);
  EXPECT_EQ(none.refusal->headers[0].first, "WWW-Authenticate");
  ClientAccess wrong = check_client_key(config, request_for("/text-to-image", "Bearer nope-nope-nope-nope", true));
  EXPECT_EQ(body_of(wrong.refusal), "{\"detail\":{\"msg\":\"invalid API key\"}}");
  EXPECT_EQ(check_client_key(config, request_for("/llm", "Basic " + std::string(kAlice), true)).refusal->status, 401);
  ClientAccess ok = check_client_key(config, request_for("/text-to-image", "Bearer " + std::string(kAlice), false));
  EXPECT_FALSE(ok.refusal);
  ASSERT_NE(ok.key, nullptr);
  EXPECT_EQ(ok.key->name, "alice");
}

// SEC-6: without -adminKey /workers answers loopback clients only (403 for others);
// with it, only the admin key opens it, never a client key.
TEST(Access, AdminPagesNeedTheAdminKeyOrLoopback) {
  OrchestratorConfig config;
  config.api_keys = std::make_shared<const ApiKeys>(parse_ok(std::string(kAlice) + " alice"));
  EXPECT_FALSE(check_admin(config, request_for("/workers", "", true)));
  const std::optional<HttpResponse> remote = check_admin(config, request_for("/workers", "", false));
  ASSERT_TRUE(remote);
  EXPECT_EQ(remote->status, 403);
  EXPECT_NE(remote->body.find("set -adminKey to allow remote access"), std::string::npos) << remote->body;
  config.admin_key = "the-admin-key-0123";
  EXPECT_EQ(body_of(check_admin(config, request_for("/workers", "", true))),
            "{\"detail\":{\"msg\":\"missing admin key: send Authorization: Bearer <adminKey>\"}}");
  EXPECT_EQ(body_of(check_admin(config, request_for("/workers", "Bearer " + std::string(kAlice), true))),
            "{\"detail\":{\"msg\":\"invalid admin key\"}}");
  EXPECT_EQ(check_admin(config, request_for("/workers", "Bearer the-admin-key-012", false))->status, 401);
  EXPECT_FALSE(check_admin(config, request_for("/workers", "Bearer the-admin-key-0123", false)));
  EXPECT_FALSE(check_client_key(config, request_for("/text-to-image", "Bearer the-admin-key-0123", true)).key);
}

// SEC-3, SEC-6: the server's screen lets /healthz and /aiResults through without a
// key, and refuses the others as their routes would.
TEST(Access, ScreenRefusesBeforeTheBody) {
  OrchestratorConfig config;
  config.api_keys = std::make_shared<const ApiKeys>(parse_ok(std::string(kAlice) + " alice"));
  config.admin_key = "the-admin-key-0123";
  const auto screen = make_access_screen(config);
  EXPECT_FALSE(screen(request_for("/healthz", "", false)));
  EXPECT_FALSE(screen(request_for("/aiResults", "", false)));
  EXPECT_EQ(screen(request_for("/text-to-image", "", true))->status, 401);
  EXPECT_EQ(screen(request_for("/no-such-path", "", true))->status, 401);
  EXPECT_FALSE(screen(request_for("/upscale", "Bearer " + std::string(kAlice), false)));
  EXPECT_EQ(body_of(screen(request_for("/workers", "Bearer " + std::string(kAlice), true))),
            "{\"detail\":{\"msg\":\"invalid admin key\"}}");
  EXPECT_FALSE(screen(request_for("/workers", "Bearer the-admin-key-0123", false)));
}

// SEC-5: a capped key takes at most its cap; each give_back frees one; an uncapped
// key is only counted.
TEST(Access, KeyCapCountsJobsInFlight) {
  const ApiKeys keys = parse_ok(std::string(kAlice) + " alice maxInFlight=2\n" + kBob + " bob");
  KeyInFlight in_flight(&keys);
  const ApiKey& alice = keys.at(0);
  const ApiKey& bob = keys.at(1);
  EXPECT_TRUE(in_flight.take(alice));
  EXPECT_TRUE(in_flight.take(alice));
  EXPECT_FALSE(in_flight.take(alice));
  EXPECT_EQ(in_flight.in_flight(alice), 2u);
  in_flight.give_back(alice);
  EXPECT_TRUE(in_flight.take(alice));
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(in_flight.take(bob));
  EXPECT_EQ(in_flight.in_flight(bob), 100u);
  const HttpResponse refused = key_at_cap(alice);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body, "{\"detail\":{\"msg\":\"key alice has 2 jobs in flight, its limit\"}}");
  ASSERT_EQ(refused.headers.size(), 1u);
  EXPECT_EQ(refused.headers[0], (std::pair<std::string, std::string>("Retry-After", "1")));
}

}  // namespace
}  // namespace aipool::net
