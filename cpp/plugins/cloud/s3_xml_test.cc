#include "cpp/plugins/cloud/s3_xml.h"

#include <gtest/gtest.h>

#include <random>

namespace weightstream::cloud {
namespace {

constexpr char kPage[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>m/</Prefix><KeyCount>2</KeyCount>
  <MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>m/a &amp; b.safetensors</Key><LastModified>2026-11-22T00:00:00.000Z</LastModified>
    <ETag>&quot;abc&quot;</ETag><Size>123</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>m/z.json</Key><Size>18446744073709551615</Size></Contents>
</ListBucketResult>)";

TEST(S3Xml, ParsesListObjectsV2) {
  auto page = ParseListObjectsV2(kPage);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "m/a & b.safetensors");
  EXPECT_EQ(page->entries[0].size, 123u);
  EXPECT_EQ(page->entries[1].size, 18446744073709551615ull);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token,
            "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Xml, EmptyListing) {
  auto page = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(S3Xml, RejectsHostileListings) {
  const std::string billion_laughs =
      R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<ListBucketResult><Contents><Key>&b;</Key><Size>1</Size></Contents></ListBucketResult>)";
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  std::string many = "<ListBucketResult>";
  for (int i = 0; i < 10001; ++i) {
    many += "<Contents><Key>k</Key><Size>1</Size></Contents>";
  }
  many += "</ListBucketResult>";
  const std::string long_key = "<ListBucketResult><Contents><Key>" +
                               std::string(5000, 'k') +
                               "</Key><Size>1</Size></Contents>"
                               "</ListBucketResult>";
  struct Case {
    std::string xml;
    const char* want;
  };
  for (const Case& c : {
           Case{"", "XML error"},
           Case{"not xml", "XML error"},
           Case{"<Error><Code>AccessDenied</Code></Error>", "root element"},
           Case{billion_laughs, "DOCTYPE"},
           Case{deep, "nested deeper"},
           Case{many, "more than 10000 entries"},
           Case{long_key, "element text over"},
           Case{"<ListBucketResult><Contents><Size>1</Size></Contents>"
                "</ListBucketResult>",
                "without <Key>"},
           Case{"<ListBucketResult><Contents><Key>k</Key></Contents>"
                "</ListBucketResult>",
                "without <Key> or <Size>"},
           Case{"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
                "</Contents></ListBucketResult>",
                "<Size> is not a byte count"},
           Case{"<ListBucketResult><Contents><Key>k</Key><Size>"
                "18446744073709551616</Size></Contents></ListBucketResult>",
                "<Size> is not a byte count"},
           Case{"<ListBucketResult><IsTruncated>true</IsTruncated>"
                "</ListBucketResult>",
                "without a <NextContinuationToken>"},
           Case{"<ListBucketResult><IsTruncated>maybe</IsTruncated>"
                "</ListBucketResult>",
                "<IsTruncated> is not"},
           Case{"<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
                "</Contents>",
                "XML error"},
           Case{std::string(kMaxXmlBytes + 1, ' '), "document over"},
       }) {
    auto page = ParseListObjectsV2(c.xml);
    ASSERT_FALSE(page.ok()) << c.xml.substr(0, 200);
    EXPECT_EQ(page.status().code(), StatusCode::kFormat);
    EXPECT_NE(page.status().message().find(c.want), std::string::npos)
        << page.status().message();
  }
}

TEST(S3Xml, RandomMutationsNeverCrash) {
  std::mt19937 gen(42);
  const std::string base = kPage;
  for (int i = 0; i < 3000; ++i) {
    std::string s = base;
    const int edits = 1 + static_cast<int>(gen() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = gen() % s.size();
      switch (gen() % 3) {
        case 0:
          s[pos] = static_cast<char>(gen() % 256);
          break;
        case 1:
          s.erase(pos, 1 + gen() % 16);
          break;
        default:
          s.insert(pos, s.substr(gen() % s.size(), gen() % 32));
      }
      if (s.empty()) s = "x";
    }
    auto page = ParseListObjectsV2(s);
    if (page.ok()) {
      for (const auto& e : page->entries) ASSERT_FALSE(e.key.empty());
    }
    (void)ParseS3Error(s);
  }
}

TEST(S3Xml, ParsesErrorDocument) {
  auto doc = ParseS3Error(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>
<StringToSign>AWS4-HMAC-SHA256...</StringToSign><RequestId>1</RequestId></Error>)");
  EXPECT_EQ(doc.code, "SignatureDoesNotMatch");
  EXPECT_EQ(doc.message, "The request signature we calculated does not match");
  EXPECT_EQ(ParseS3Error("").code, "");
  EXPECT_EQ(ParseS3Error("<html>503</html>").code, "");
  EXPECT_EQ(ParseS3Error("<Error><Code>X</Code>").code, "");
}

}  // namespace
}  // namespace weightstream::cloud
