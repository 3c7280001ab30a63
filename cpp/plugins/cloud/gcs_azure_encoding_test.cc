#include "cpp/plugins/cloud/gcs_azure_encoding.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(Base64, Rfc4648Vectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), std::string(s)) << s;
  }
}

TEST(Base64, UrlAlphabetWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff\xfe", 3)), "-__-");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff\xfe", 3)), "+//+");
}

TEST(Base64, DecodeRejectsGarbage) {
  EXPECT_FALSE(Base64Decode("Zm9v!"));
  EXPECT_FALSE(Base64Decode("Zm9 v"));
  EXPECT_FALSE(Base64Decode("Z"));     // A lone symbol is no byte.
  EXPECT_FALSE(Base64Decode("Zg="));   // Padded but not a multiple of 4.
  EXPECT_FALSE(Base64Decode("-__-"));  // URL alphabet is not standard.
  EXPECT_EQ(Base64Decode("Zg"), std::string("f"));  // Padding optional.
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
}

TEST(SplitUrl, Parts) {
  auto p =
      SplitUrl("HTTPS://acct.blob.core.windows.net:443/c/d%20e?sv=1&sig=x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->scheme, "https");
  EXPECT_EQ(p->authority, "acct.blob.core.windows.net:443");
  EXPECT_EQ(p->path, "/c/d%20e");
  EXPECT_EQ(p->query, "sv=1&sig=x");
  p = SplitUrl("az://container");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authority, "container");
  EXPECT_EQ(p->path, "");
}

TEST(SplitUrl, Rejects) {
  EXPECT_FALSE(SplitUrl("no-scheme/path"));
  EXPECT_FALSE(SplitUrl("https:///path"));
  EXPECT_FALSE(SplitUrl("https://user:pw@host/p"));
  EXPECT_FALSE(SplitUrl("https://host/a b"));
  EXPECT_FALSE(SplitUrl("https://host/a\nb"));
  EXPECT_FALSE(SplitUrl("https://host/a#frag"));
  EXPECT_FALSE(SplitUrl("https://host:0/p"));
  EXPECT_FALSE(SplitUrl("https://host:65536/p"));
  EXPECT_FALSE(SplitUrl("https://host:x/p"));
}

TEST(ParseQuery, DecodesNamesAndValues) {
  auto q = ParseQuery("a=1&b=x%2Fy&&c&d=");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ((*q)[1], std::make_pair(std::string("b"), std::string("x/y")));
  EXPECT_EQ((*q)[2], std::make_pair(std::string("c"), std::string()));
  EXPECT_FALSE(ParseQuery("a=%g0"));
}

}  // namespace
}  // namespace weightstream::cloud
