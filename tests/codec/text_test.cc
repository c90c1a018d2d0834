// Tests of src/codec/text.h: the one trim and lower-case helper every layer uses.
#include <gtest/gtest.h>

#include "codec/text.h"

namespace {

using aipool::codec::ascii_lower;
using aipool::codec::kBlank;
using aipool::codec::kJsonSpace;
using aipool::codec::log_safe;
using aipool::codec::trim;

// Proves trim removes only the characters of the set asked for, from both ends, and
// keeps inner ones.
TEST(Text, TrimTakesOnlyTheGivenCharactersFromBothEnds) {
  EXPECT_EQ(trim("  a b\t\r\n"), "a b");
  EXPECT_EQ(trim("\f\va\v"), "a");
  EXPECT_EQ(trim(" \ta\r\n", kBlank), "a\r\n");
  EXPECT_EQ(trim("\r\n a \f", kJsonSpace), "a \f");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
}

// Proves ascii_lower maps A-Z only and leaves other bytes, UTF-8 included, alone.
TEST(Text, AsciiLowerMapsOnlyAToZ) {
  EXPECT_EQ(ascii_lower("Content-TYPE: X/Y"), "content-type: x/y");
  EXPECT_EQ(ascii_lower("\xC3\x84@[`{"), "\xC3\x84@[`{");
}

}  // namespace

// Proves log_safe (LOG-1) leaves no byte that could end or forge a log line and cuts
// long text with its length named.
TEST(Text, LogSafeEscapesControlBytesAndCutsLongText) {
  EXPECT_EQ(log_safe("model\nINFO forged line"), "model\\nINFO forged line");
  EXPECT_EQ(log_safe("a\\b\r\t\x01\x7f"), "a\\\\b\\r\\t\\x01\\x7f");
  EXPECT_EQ(log_safe("\xC3\x84 ok"), "\xC3\x84 ok");
  EXPECT_EQ(log_safe(std::string(10, 'x'), 4), "xxxx...(10 bytes)");
  EXPECT_EQ(log_safe(""), "");
}
