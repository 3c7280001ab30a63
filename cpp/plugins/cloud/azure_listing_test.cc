#include "cpp/plugins/cloud/azure_listing.h"

#include <gtest/gtest.h>

#include <random>

namespace weightstream::cloud {
namespace {

// Shaped like Azurite's and Azure's List Blobs answers (BOM included).
constexpr char kPage[] =
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults "
    "ServiceEndpoint=\"http://127.0.0.1:1/devstoreaccount1\" "
    "ContainerName=\"models\"><Prefix>dir/</Prefix><MaxResults>2</MaxResults>"
    "<Blobs>"
    "<Blob><Name>dir/a.safetensors</Name><Properties>"
    "<Creation-Time>Sun, 22 Nov 2026 05:00:00 GMT</Creation-Time>"
    "<Etag>0x8DC</Etag><Content-Length>1234</Content-Length>"
    "<Content-Type>application/octet-stream</Content-Type></Properties>"
    "<Metadata><Content-Length>999</Content-Length></Metadata></Blob>"
    "<Blob><Name Encoded=\"true\">dir/b%0Ac &amp; d</Name><Properties>"
    "<Content-Length>0</Content-Length></Properties></Blob>"
    "</Blobs><NextMarker>2!96!MDAwMDE0</NextMarker></EnumerationResults>";

TEST(AzureListing, ParsesPage) {
  auto page = ParseAzureBlobList(kPage);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->blobs.size(), 2u);
  EXPECT_EQ(page->blobs[0].name, "dir/a.safetensors");
  // The size comes from Properties, not from user metadata of the same name.
  EXPECT_EQ(page->blobs[0].size, 1234u);
  EXPECT_EQ(page->blobs[1].name, "dir/b\nc & d");
  EXPECT_EQ(page->blobs[1].size, 0u);
  EXPECT_EQ(page->next_marker, "2!96!MDAwMDE0");
}

TEST(AzureListing, EmptyLastPage) {
  auto page = ParseAzureBlobList(
      "<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->blobs.empty());
  EXPECT_TRUE(page->next_marker.empty());
}

void ExpectFormatError(const std::string& xml, const std::string& fragment) {
  auto page = ParseAzureBlobList(xml);
  ASSERT_FALSE(page.ok()) << xml.substr(0, 80);
  EXPECT_EQ(page.status().code(), StatusCode::kFormat);
  EXPECT_NE(page.status().message().find(fragment), std::string::npos)
      << page.status().message();
  EXPECT_LT(page.status().message().size(), 600u);
}

TEST(AzureListing, HostileInput) {
  ExpectFormatError(
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
      "<EnumerationResults><Blobs><Blob><Name>&lol2;</Name></Blob></Blobs>"
      "</EnumerationResults>",
      "DOCTYPE");
  ExpectFormatError(
      "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><EnumerationResults/>",
      "DOCTYPE");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "<a>";
  ExpectFormatError("<EnumerationResults>" + deep, "deeper than 32");
  ExpectFormatError("<EnumerationResults><Blobs><Blob><Name>" +
                        std::string(5000, 'x') +
                        "</Name></Blob></Blobs>"
                        "</EnumerationResults>",
                    "longer than 4096");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
      "<Content-Length>-1</Content-Length></Properties></Blob></Blobs>"
      "</EnumerationResults>",
      "not a decimal size: '-1'");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties>"
      "<Content-Length>99999999999999999999</Content-Length></Properties>"
      "</Blob></Blobs></EnumerationResults>",
      "not a decimal size");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Name>a\x01</Name></Blob></Blobs>"
      "</EnumerationResults>",
      "malformed XML");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs>"
      "</EnumerationResults>",
      "without a Content-Length");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Properties><Content-Length>1"
      "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
      "without a Name");
  ExpectFormatError("<EnumerationResults><Blobs><Blob>", "malformed XML");
  ExpectFormatError("<Other/>", "not an EnumerationResults");
  ExpectFormatError("", "malformed XML");
  ExpectFormatError(
      "<EnumerationResults><Blobs><Blob><Name Encoded=\"true\">a%zz</Name>"
      "</Blob></Blobs></EnumerationResults>",
      "malformed percent-encoding");
}

TEST(AzureListing, ErrorBody) {
  AzureErrorBody e = ParseAzureError(
      "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>"
      "<Code>AuthenticationFailed</Code><Message>Server failed to "
      "authenticate the request.\nRequestId:1\nTime:2026</Message></Error>");
  EXPECT_EQ(e.code, "AuthenticationFailed");
  EXPECT_EQ(e.message.substr(0, 13), "Server failed");
  e = ParseAzureError("not xml at all");
  EXPECT_TRUE(e.code.empty());
  e = ParseAzureError(
      "<!DOCTYPE x [<!ENTITY a \"b\">]><Error><Code>&a;</Code></Error>");
  EXPECT_TRUE(e.code.empty());
}

// Deterministic mutations of a valid page (byte flips, truncations,
// duplicated slices): every one parses or fails with kFormat; under
// --config=asan this also checks memory safety. Bounded, not a fuzzer.
TEST(AzureListing, MutatedPagesNeverCrash) {
  const std::string page(kPage);
  std::mt19937 rng(20261122);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = page;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !doc.empty(); ++e) {
      size_t at = rng() % doc.size();
      switch (rng() % 4) {
        case 0:
          doc[at] = static_cast<char>(rng());
          break;
        case 1:
          doc.resize(at);
          break;
        case 2:
          doc.insert(at, doc.substr(rng() % doc.size(), rng() % 64));
          break;
        default:
          doc.erase(at, rng() % 16);
          break;
      }
    }
    auto parsed = ParseAzureBlobList(doc);
    if (parsed.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(parsed.status().code(), StatusCode::kFormat);
      EXPECT_LT(parsed.status().message().size(), 600u);
    }
    ParseAzureError(doc);
  }
  EXPECT_GT(ok, 0);  // Some mutations (inside text) stay valid.
}

}  // namespace
}  // namespace weightstream::cloud
