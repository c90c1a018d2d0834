// Tests of src/net/base64.h: the encoding of inline inputs (WIRE-4) and of the JSON
// result form's Data (RES-2).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "codec/base64.h"

namespace {

using aipool::codec::base64_decode;
using aipool::codec::base64_encode;

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

// Proves the table-driven encoder, appending after existing text, matches a bit-by-bit
// encoder written from RFC 4648 for every 12-bit group and every length modulo 3 (data: URLs, API-6).
TEST(Base64, AppendMatchesABitByBitEncoder) {
  const auto reference = [](const std::string& bytes) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string bits;
    for (unsigned char c : bytes) {
      for (int b = 7; b >= 0; --b) bits += ((c >> b) & 1) ? '1' : '0';
    }
    while (bits.size() % 6 != 0) bits += '0';
    std::string out;
    for (std::size_t i = 0; i < bits.size(); i += 6) out += alphabet[std::stoi(bits.substr(i, 6), nullptr, 2)];
    while (out.size() % 4 != 0) out += '=';
    return out;
  };
  std::string bytes;
  for (int v = 0; v < 4096; ++v) {  // every 12-bit value at both halves of a 3-byte group
    bytes += static_cast<char>(v >> 4);
    bytes += static_cast<char>(((v & 15) << 4) | (v >> 8));
    bytes += static_cast<char>(v & 0xFF);
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4},
                        std::size_t{27}, std::size_t{28}, std::size_t{29}, std::size_t{52}, std::size_t{53},
                        bytes.size() - 1, bytes.size()}) {
    const std::string plain = bytes.substr(0, n);
    const std::string expected = "data:image/png;base64," + reference(plain);
    for (const bool simd : {true, false}) {
      std::string out = "data:image/png;base64,";
      aipool::codec::base64_encode_append(out, plain, simd);
      EXPECT_EQ(out, expected) << n << (simd ? " simd" : " portable");
    }
  }
}

// Proves an input of several encoding steps, with every length modulo 3 at the end,
// appends exactly what a one-piece encoding gives (a 4 MiB output's data: URL, API-6).
TEST(Base64, AppendOfLargeInputsMatchesOnePieceEncoding) {
  std::string bytes(200'000, '\0');
  std::uint32_t x = 12345;
  for (char& c : bytes) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  for (std::size_t n : {std::size_t{49'151}, std::size_t{49'152}, std::size_t{49'153}, std::size_t{147'457},
                        std::size_t{200'000}}) {
    const std::string plain = bytes.substr(0, n);
    std::string expected = "x";
    expected += aipool::codec::base64_encode(plain);
    for (bool simd : {true, false}) {
      std::string out = "x";
      aipool::codec::base64_encode_append(out, plain, simd);
      EXPECT_EQ(out, expected) << n << (simd ? " simd" : " portable");
    }
    EXPECT_EQ(aipool::codec::base64_decode(expected.substr(1)), plain) << n;
  }
}

// Proves decoding appends after what the string holds, and leaves it as it was when the
// text is not valid base64 (a file decoded straight into a runner's request body, RUN-2).
TEST(Base64, DecodeAppendKeepsThePrefixAndUndoesAFailure) {
  std::string body = "head:";
  EXPECT_TRUE(aipool::codec::base64_decode_append(body, base64_encode(std::string(1000, 'z') + "end")));
  EXPECT_EQ(body, "head:" + std::string(1000, 'z') + "end");
  std::string kept = "head:";
  EXPECT_FALSE(aipool::codec::base64_decode_append(kept, std::string(100, 'A') + "!AAA"));
  EXPECT_FALSE(aipool::codec::base64_decode_append(kept, "Zg="));
  EXPECT_EQ(kept, "head:");
}

// Proves malformed base64 is refused rather than guessed at, so a bad Data is a decode error (RES-6).
TEST(Base64, RejectsInvalidInput) {
  for (const char* bad : {"Z", "Zg", "Zg=", "Zm9", "Zg=a", "Z===", "====", "Zm9v!A==", "Zm 9v", "Zm9v\n",
                          "Zg==Zg==", "Zm-_", "Zh=="}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << '"' << bad << '"';
  }
}

// Proves the AVX2 decoder and the portable one agree on every byte value at every
// position of a block, around the 32-character blocks and the 12-character tail the
// block loop leaves, so a stray byte anywhere in a long image is refused by both and
// a valid text decodes the same (WIRE-4, RES-2, RES-6).
TEST(Base64, SimdAndPortableDecodersAgreeOnEveryByteAtEveryPosition) {
  std::string bytes(96, '\0');
  std::uint32_t x = 777;
  for (char& c : bytes) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  const std::string text = base64_encode(bytes);  // 128 characters: several blocks and a tail
  ASSERT_EQ(base64_decode(text, true), bytes);
  ASSERT_EQ(base64_decode(text, false), bytes);
  for (std::size_t at = 0; at < text.size(); ++at) {
    for (int v = 0; v < 256; ++v) {
      std::string changed = text;
      changed[at] = static_cast<char>(v);
      const std::optional<std::string> simd = base64_decode(changed, true);
      const std::optional<std::string> portable = base64_decode(changed, false);
      ASSERT_EQ(simd, portable) << "byte " << v << " at " << at;
    }
  }
  for (std::size_t n = 0; n <= bytes.size(); ++n) {  // every length, padded or not
    const std::string t = base64_encode(bytes.substr(0, n));
    ASSERT_EQ(base64_decode(t, true), base64_decode(t, false)) << n;
    ASSERT_EQ(base64_decode(t, true), bytes.substr(0, n)) << n;
  }
}

}  // namespace
