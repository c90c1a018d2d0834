// Tests of src/net/base64.h: the encoding of inline inputs (WIRE-4) and of the JSON
// result form's Data (RES-2).
#include <gtest/gtest.h>

#include <string>

#include "net/base64.h"

namespace {

using aipool::net::base64_decode;
using aipool::net::base64_encode;

// Proves the RFC 4648 test vectors encode and decode exactly, padding included (WIRE-4, RES-2).
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    const auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

// Proves every byte value and every length modulo 3 survives a round trip (binary inputs, WIRE-4).
TEST(Base64, RoundTripsAllBytesAndLengths) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 1) {
    const std::string plain = all.substr(0, n);
    const auto decoded = base64_decode(base64_encode(plain));
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, plain) << n;
  }
  EXPECT_EQ(base64_encode("\xff\xfe\xfd"), "//79");
}

// Proves malformed base64 is refused rather than guessed at, so a bad Data is a decode error (RES-6).
TEST(Base64, RejectsInvalidInput) {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zm9", "Zg=a", "Z===", "====", "Zm9v!A==", "Zm 9v", "Zm9v\n",
                          "Zg==Zg==", "Zm-_", "Zh=="}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << '"' << bad << '"';
  }
}

}  // namespace
