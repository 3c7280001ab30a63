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

TEST(Url, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c~d-e_f.g+h=i", true), "a%20b/c~d-e_f.g%2Bh%3Di");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(*UriDecode("a%20b%2f"), "a b/");
  EXPECT_FALSE(UriDecode("%2"));
  EXPECT_FALSE(UriDecode("%zz"));
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
