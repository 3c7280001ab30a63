#include "cpp/plugins/cloud/azure_provider.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "cpp/plugins/cloud/azure_connection_string.h"

namespace weightstream::cloud {
namespace {

// Every test starts from an environment without Azure settings.
class AzureProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT",
          "AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCESS_KEY",
          "AZURE_STORAGE_SAS_TOKEN"}) {
      unsetenv(name);
    }
  }
  void TearDown() override { SetUp(); }
};

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

constexpr char kSig[] = "SECRETSIGNATURE";

TEST_F(AzureProviderTest, HttpsAccountUrlWithSas) {
  std::string url =
      std::string(
          "https://acct.blob.core.windows.net/models/dir/a%20b.bin"
          "?sv=2021-08-06&sp=r&sig=") +
      kSig;
  auto p = MakeAzureProvider(url, Options());
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)->DisplayName(),
            "https://acct.blob.core.windows.net/models/dir/a%20b.bin");
  ObjectInfo info{100, "\"0x8DC\""};
  auto r = (*p)->RangeRequest(info, 10, 20);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url,
            "https://acct.blob.core.windows.net/models/dir/a%20b.bin"
            "?sv=2021-08-06&sp=r&sig=SECRETSIGNATURE");
  EXPECT_EQ(HeaderOf(*r, "x-ms-range"), "bytes=10-29");
  EXPECT_EQ(HeaderOf(*r, "If-Match"), "\"0x8DC\"");
  EXPECT_EQ(HeaderOf(*r, "x-ms-version"), "2021-08-06");
  EXPECT_EQ(HeaderOf(*r, "Authorization"), "<absent>");

  // Errors name the blob but never the signature.
  HttpResponse denied;
  denied.status = 403;
  denied.body =
      "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code>"
      "<Message>Signature did not match. String to sign used was r\n"
      "RequestId:x</Message></Error>";
  Status s = (*p)->ErrorFor(denied, "Get Blob");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.http_status(), 403);
  EXPECT_NE(s.message().find("'AuthenticationFailed'"), std::string::npos);
  EXPECT_NE(s.message().find("a%20b.bin"), std::string::npos);
  EXPECT_EQ(s.message().find(kSig), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("RequestId"), std::string::npos);
}

TEST_F(AzureProviderTest, AzSchemeWithConnectionStringSignsSharedKey) {
  Options o;
  o.connection_string =
      std::string(
          "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
          "AccountKey=") +
      kAzuriteKey + ";BlobEndpoint=http://127.0.0.1:5555/devstoreaccount1;";
  auto p = MakeAzureProvider("az://models/dir/x.safetensors", o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)->DisplayName(), "az://models/dir/x.safetensors");
  auto r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url,
            "http://127.0.0.1:5555/devstoreaccount1/models/dir/x.safetensors");
  EXPECT_EQ(HeaderOf(*r, "If-Match"), "<absent>");
  EXPECT_EQ(
      HeaderOf(*r, "Authorization").rfind("SharedKey devstoreaccount1:", 0),
      0u);

  // The same connection string from the environment, and a path-style URL
  // under its endpoint.
  setenv("AZURE_STORAGE_CONNECTION_STRING", o.connection_string->c_str(), 1);
  Options none;
  EXPECT_TRUE(IsAzureBlobUrl(
      "http://127.0.0.1:5555/devstoreaccount1/models/a.bin", none));
  EXPECT_FALSE(IsAzureBlobUrl("http://127.0.0.1:5556/x/models/a.bin", none));
  p = MakeAzureProvider("http://127.0.0.1:5555/devstoreaccount1/models/a.bin",
                        none);
  ASSERT_TRUE(p.ok()) << p.status().message();
  r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "http://127.0.0.1:5555/devstoreaccount1/models/a.bin");
  EXPECT_EQ(
      HeaderOf(*r, "Authorization").rfind("SharedKey devstoreaccount1:", 0),
      0u);
}

TEST_F(AzureProviderTest, AccountAndKeyFromEnvironment) {
  setenv("AZURE_STORAGE_ACCOUNT", "myacct", 1);
  setenv("AZURE_STORAGE_KEY", kAzuriteKey, 1);
  auto p = MakeAzureProvider("az://models/a.bin", Options());
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url, "https://myacct.blob.core.windows.net/models/a.bin");
  EXPECT_EQ(HeaderOf(*r, "Authorization").rfind("SharedKey myacct:", 0), 0u);

  // A key configured for another account is not sent to this one.
  p = MakeAzureProvider("https://other.blob.core.windows.net/models/a.bin",
                        Options());
  ASSERT_TRUE(p.ok());
  r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(HeaderOf(*r, "Authorization"), "<absent>");

  // Anonymous when asked.
  Options anon;
  anon.anonymous = true;
  p = MakeAzureProvider("az://models/a.bin", anon);
  ASSERT_TRUE(p.ok());
  r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  EXPECT_EQ(HeaderOf(*r, "Authorization"), "<absent>");
}

TEST_F(AzureProviderTest, SasOptionAndEnvironment) {
  Options o;
  o.account_name = "acct";
  o.sas_token = std::string("?sv=1&sig=") + kSig;
  auto p = MakeAzureProvider("az://models/a.bin", o);
  ASSERT_TRUE(p.ok());
  auto r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  EXPECT_EQ(r->url, std::string("https://acct.blob.core.windows.net/models/"
                                "a.bin?sv=1&sig=") +
                        kSig);
  EXPECT_EQ((*p)->DisplayName().find(kSig), std::string::npos);

  setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2&sig=E", 1);
  Options env_only;
  env_only.account_name = "acct";
  p = MakeAzureProvider("az://models/a.bin", env_only);
  ASSERT_TRUE(p.ok());
  r = (*p)->RangeRequest(ObjectInfo{10, ""}, 0, 1);
  EXPECT_EQ(r->url,
            "https://acct.blob.core.windows.net/models/a.bin?sv=2&sig=E");
}

TEST_F(AzureProviderTest, BadInputIsSpecific) {
  Options o;
  o.account_name = "acct";
  o.account_key = "not base64 SECRETKEY!";
  auto p = MakeAzureProvider("az://models/a.bin", o);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("not valid base64"), std::string::npos);
  EXPECT_EQ(p.status().message().find("SECRETKEY"), std::string::npos);

  // No account anywhere.
  p = MakeAzureProvider("az://models/a.bin", Options());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("AZURE_STORAGE_ACCOUNT"),
            std::string::npos);

  o.account_key.reset();
  p = MakeAzureProvider("az://Bad_Container/a.bin", o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("'Bad_Container'"), std::string::npos);
  EXPECT_FALSE(MakeAzureProvider("az://models/a.bin?sig=x", o).ok());
  EXPECT_FALSE(MakeAzureProvider("https://example.com/models/a.bin", o).ok());
  EXPECT_FALSE(MakeAzureProvider("s3://models/a.bin", o).ok());
  EXPECT_FALSE(MakeAzureProvider("az://models/a%zz", o).ok());

  // A connection string that does not parse names its source, not its value.
  Options bad;
  bad.connection_string = "SECRETKEY";
  p = MakeAzureProvider("az://models/a.bin", bad);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("connection_string option"),
            std::string::npos);
  EXPECT_EQ(p.status().message().find("SECRETKEY"), std::string::npos);

  auto ok = MakeAzureProvider("az://models/a.bin", o);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE((*ok)->RangeRequest(ObjectInfo{10, ""}, 0, 0).ok());
}

TEST_F(AzureProviderTest, ErrorMapping) {
  Options o;
  o.account_name = "acct";
  auto p = MakeAzureProvider("az://models/a.bin", o);
  ASSERT_TRUE(p.ok());
  HttpResponse r;
  r.status = 404;
  r.headers.emplace_back("x-ms-error-code", "BlobNotFound");  // HEAD: no body.
  Status s = (*p)->ErrorFor(r, "Get Blob Properties");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "az://models/a.bin: Get Blob Properties failed: HTTP 404 "
            "'BlobNotFound'");
  r.status = 412;
  r.headers.clear();
  r.body =
      "<Error><Code>ConditionNotMet</Code><Message>The condition "
      "specified using HTTP conditional header(s) is not met.</Message>"
      "</Error>";
  s = (*p)->ErrorFor(r, "Get Blob");
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_EQ(s.http_status(), 412);
  EXPECT_NE(s.message().find("changed since it was opened"), std::string::npos);
  r.status = 403;
  r.body = "<Error><Code>" + std::string(3000, 'A') + "</Code></Error>";
  s = (*p)->ErrorFor(r, "Get Blob");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("AAAA"), std::string::npos);
  EXPECT_LT(s.message().size(), 700u);  // Server text is bounded.
  EXPECT_NE(s.message().find("no credentials found"), std::string::npos);
}

// Records requests and answers each with the next canned response: shows
// what the provider sends; the protocol itself is exercised against Azurite
// by py/tests/test_azure.py.
class RecordingTransport : public HttpTransport {
 public:
  std::vector<HttpRequest> requests;
  std::vector<HttpResponse> responses;

  StatusOr<HttpResponse> Fetch(const HttpRequest& request,
                               size_t max_body) override {
    requests.push_back(request);
    if (responses.empty()) return IoError("no canned response");
    HttpResponse r = responses.front();
    responses.erase(responses.begin());
    return r;
  }
};

HttpResponse Page(const std::string& blobs, const std::string& marker) {
  HttpResponse r;
  r.status = 200;
  r.body = "<EnumerationResults><Blobs>" + blobs + "</Blobs><NextMarker>" +
           marker + "</NextMarker></EnumerationResults>";
  return r;
}

std::string Blob(const std::string& name, int size) {
  return "<Blob><Name>" + name + "</Name><Properties><Content-Length>" +
         std::to_string(size) + "</Content-Length></Properties></Blob>";
}

TEST_F(AzureProviderTest, ListingFollowsMarkersAndKeepsTheUrlForm) {
  std::string sas = std::string("sv=1&sig=") + kSig;
  auto p = MakeAzureProvider(
      "https://acct.blob.core.windows.net/models/dir%20x/?" + sas, Options());
  ASSERT_TRUE(p.ok()) << p.status().message();
  RecordingTransport t;
  t.responses = {Page(Blob("dir x/b.bin", 2), "2!48!M 1"),
                 Page(Blob("dir x/a.bin", 1), "")};
  auto listed = (*p)->List(t);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  // Sorted, same URL form as the prefix, with the SAS that opens them.
  EXPECT_EQ((*listed)[0].url,
            "https://acct.blob.core.windows.net/models/dir%20x/a.bin?" + sas);
  EXPECT_EQ((*listed)[1].size, 2u);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[0].url,
            "https://acct.blob.core.windows.net/models?restype=container"
            "&comp=list&maxresults=5000&prefix=dir%20x%2F&" +
                sas);
  EXPECT_EQ(
      t.requests[1].url,
      "https://acct.blob.core.windows.net/models?restype=container"
      "&comp=list&maxresults=5000&prefix=dir%20x%2F&marker=2%2148%21M%201&" +
          sas);

  Options o;
  o.account_name = "acct";
  auto az = MakeAzureProvider("az://models/dir/", o);
  ASSERT_TRUE(az.ok());
  t.requests.clear();
  t.responses = {Page(Blob("dir/a", 1), "")};
  listed = (*az)->List(t);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[0].url, "az://models/dir/a");

  // Hostile servers: names outside the prefix, a marker that repeats, an
  // answer that is not a listing.
  t.responses = {Page(Blob("elsewhere/a", 1), "")};
  EXPECT_EQ((*az)->List(t).status().code(), StatusCode::kFormat);
  t.responses = {Page("", "m"), Page("", "m")};
  auto looped = (*az)->List(t);
  ASSERT_FALSE(looped.ok());
  EXPECT_NE(looped.status().message().find("repeated"), std::string::npos);
  HttpResponse html;
  html.status = 200;
  html.body = "<html><body>captive portal</body></html>";
  t.responses = {html};
  EXPECT_EQ((*az)->List(t).status().code(), StatusCode::kFormat);
  HttpResponse denied;
  denied.status = 403;
  t.responses = {denied};
  EXPECT_EQ((*az)->List(t).status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace weightstream::cloud
