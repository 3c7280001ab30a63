#include "cpp/plugins/cloud/url.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(Url, Parses) {
  auto u = ParseUrl("HTTPS://user:pw@Host.example:8443/a/b%20c?x=1&y=2#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->host, "Host.example");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->path, "/a/b%20c");
  EXPECT_EQ(u->query, "x=1&y=2");
  EXPECT_EQ(u->Authority(), "Host.example:8443");
  u = ParseUrl("http://[::1]:9000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->path, "");
}

TEST(Url, Rejects) {
  for (const char* bad :
       {"", "host/path", "://x", "http://", "http://:80/", "http://h:0/",
        "http://h:65536/", "http://h:x/", "http://h:/", "http://h/a b",
        "http://h/\n", "http://[::1/"}) {
    EXPECT_FALSE(ParseUrl(bad)) << bad;
  }
}

TEST(Url, RedactDropsSecrets) {
  EXPECT_EQ(RedactUrl("https://u:SECRET@h/p?X-Amz-Signature=SIG&sv=1#f"),
            "https://h/p");
  EXPECT_EQ(RedactUrl("https://acct.blob.core.windows.net/c/b?sig=SIG"),
            "https://acct.blob.core.windows.net/c/b");
  EXPECT_EQ(RedactUrl("not a url SECRET"), "(unparsable URL)");
}

// SigV4's UriEncode examples.
TEST(Url, PercentEncodeSigV4) {
  EXPECT_EQ(PercentEncode("a b/c~d-e_f.g+h=i", true),
            "a%20b/c~d-e_f.g%2Bh%3Di");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(PercentEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(*PercentDecode("a%20b%2f"), "a b/");
  EXPECT_FALSE(PercentDecode("%2"));
  EXPECT_FALSE(PercentDecode("%zz"));
}

// GCS object names and Azure blob paths / query values.
TEST(Url, PercentEncodeGcsAzure) {
  EXPECT_EQ(PercentEncode("a b/c~d.e_f-g", true), "a%20b/c~d.e_f-g");
  EXPECT_EQ(PercentEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(PercentEncode("\xc3\xa9+=&?#", false), "%C3%A9%2B%3D%26%3F%23");
  EXPECT_EQ(PercentDecode("a%20b%2fc+"), std::string("a b/c+"));
  EXPECT_FALSE(PercentDecode("a%2"));
  EXPECT_FALSE(PercentDecode("a%"));
  EXPECT_FALSE(PercentDecode("%zz"));
}

// Exactly RFC 3986's 66 unreserved bytes pass unencoded (67 with '/'), and
// every byte round-trips, whatever the locale would call alphanumeric.
TEST(Url, PercentEncodeUnreservedSetIsExact) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string kept = PercentEncode(all, false);
  EXPECT_EQ(kept.size(), 66 + 3 * (256 - 66));
  EXPECT_EQ(PercentEncode(all, true).size(), 67 + 3 * (256 - 67));
  EXPECT_EQ(PercentDecode(kept), all);
}

TEST(Url, IpOrLocalhost) {
  EXPECT_TRUE(IsIpOrLocalhost("127.0.0.1"));
  EXPECT_TRUE(IsIpOrLocalhost("localhost"));
  EXPECT_TRUE(IsIpOrLocalhost("[::1]"));
  EXPECT_FALSE(IsIpOrLocalhost("s3.amazonaws.com"));
  EXPECT_FALSE(IsIpOrLocalhost("1.2.3"));
}

}  // namespace
}  // namespace weightstream::cloud
