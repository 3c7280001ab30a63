#include "cpp/plugins/cloud/gcs_provider.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cpp/plugins/cloud/gcs_credentials.h"

namespace weightstream::cloud {
namespace {

class GcsProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS",
          "CLOUDSDK_CONFIG"}) {
      unsetenv(name);
    }
    // No gcloud application-default file from the host running the test.
    setenv("CLOUDSDK_CONFIG", "/nonexistent-weightstream-test", 1);
  }
  void TearDown() override {
    unsetenv("STORAGE_EMULATOR_HOST");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("CLOUDSDK_CONFIG");
  }
};

// Records requests and answers each with the next canned response. Used only
// to see what the provider sends; the protocol itself is exercised against
// real servers by py/tests/test_gcs.py.
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

std::string HeaderOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

std::string TempFile(const std::string& contents) {
  char path[] = "/tmp/ws_gcs_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << contents;
  return path;
}

TEST_F(GcsProviderTest, RequestsAgainstEmulatorHost) {
  setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443", 1);
  setenv("GOOGLE_APPLICATION_CREDENTIALS", "/must/not/be/read.json", 1);
  RecordingTransport t;
  auto p =
      MakeGcsProvider("gs://my-bucket/dir/a b+c.safetensors", Options(), t);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)->DisplayName(), "gs://my-bucket/dir/a b+c.safetensors");

  HttpResponse meta;
  meta.status = 200;
  meta.body =
      R"({"name":"dir/a b+c.safetensors","size":"100","generation":"77"})";
  t.responses.push_back(meta);
  auto info = (*p)->Stat(t);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->size, 100u);
  EXPECT_EQ(info->version, "");  // The generation is pinned in the URL.
  ASSERT_EQ(t.requests.size(), 1u);
  EXPECT_EQ(t.requests[0].url,
            "http://127.0.0.1:4443/storage/v1/b/my-bucket/o/"
            "dir%2Fa%20b%2Bc.safetensors?fields=name%2Csize%2Cgeneration");
  EXPECT_EQ(HeaderOf(t.requests[0], "Authorization"), "<absent>");

  auto r = (*p)->RangeRequest(*info, 90, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->url,
            "http://127.0.0.1:4443/download/storage/v1/b/my-bucket/o/"
            "dir%2Fa%20b%2Bc.safetensors?alt=media&ifGenerationMatch=77");
  EXPECT_EQ(HeaderOf(*r, "Range"), "bytes=90-99");
}

TEST_F(GcsProviderTest, TokenOptionAndListing) {
  Options o;
  o.token = "ya29.SECRET";
  o.endpoint_url = "http://127.0.0.1:9/";
  RecordingTransport t;
  auto p = MakeGcsProvider("gs://bkt/dir/", o, t);
  ASSERT_TRUE(p.ok()) << p.status().message();
  HttpResponse page1, page2;
  page1.status = page2.status = 200;
  page1.body =
      R"({"items":[{"name":"dir/b","size":"2"}],"nextPageToken":"T 1"})";
  page2.body = R"({"items":[{"name":"dir/a","size":1}]})";
  t.responses = {page1, page2};
  auto listed = (*p)->List(t);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].url, "gs://bkt/dir/a");  // Sorted.
  EXPECT_EQ((*listed)[1].size, 2u);
  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(
      t.requests[0].url,
      "http://127.0.0.1:9/storage/v1/b/bkt/o?maxResults=1000&prefix=dir%2F");
  EXPECT_EQ(
      t.requests[1].url,
      "http://127.0.0.1:9/storage/v1/b/bkt/o?maxResults=1000&prefix=dir%2F"
      "&pageToken=T%201");
  EXPECT_EQ(HeaderOf(t.requests[1], "Authorization"), "Bearer ya29.SECRET");

  // A server that returns objects outside the prefix, or loops, is refused.
  HttpResponse outside;
  outside.status = 200;
  outside.body = R"({"items":[{"name":"other","size":"2"}]})";
  t.responses = {outside};
  EXPECT_EQ((*p)->List(t).status().code(), StatusCode::kFormat);
  HttpResponse loop;
  loop.status = 200;
  loop.body = R"({"items":[],"nextPageToken":"same"})";
  t.responses = {loop, loop};
  auto looped = (*p)->List(t);
  ASSERT_FALSE(looped.ok());
  EXPECT_NE(looped.status().message().find("repeated"), std::string::npos);

  // Stat on a prefix is a clear error.
  EXPECT_EQ((*p)->Stat(t).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GcsProviderTest, ErrorMapping) {
  Options o;
  o.token = "ya29.SECRET";
  RecordingTransport t;
  auto p = MakeGcsProvider("gs://bkt/a", o, t);
  ASSERT_TRUE(p.ok());
  HttpResponse r;
  r.status = 404;
  r.body = R"({"error":{"code":404,"message":"No such object: bkt/a",)"
           R"("errors":[{"reason":"notFound"}]}})";
  Status s = (*p)->ErrorFor(r, "objects.get");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "gs://bkt/a: objects.get failed: HTTP 404 'notFound': "
            "'No such object: bkt/a'");
  r.status = 403;
  r.body = "";
  s = (*p)->ErrorFor(r, "objects.get");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("the token option"), std::string::npos);
  EXPECT_EQ(s.message().find("SECRET"), std::string::npos);
  r.status = 412;
  s = (*p)->ErrorFor(r, "read");
  EXPECT_EQ(s.http_status(), 412);
  EXPECT_NE(s.message().find("generation no longer matches"),
            std::string::npos);
}

TEST_F(GcsProviderTest, BadUrlsAndSettings) {
  RecordingTransport t;
  for (const char* url : {"gs://", "gs://ab/x", "gs://UPPER/x", "gs://-bkt/x",
                          "s3://bkt/x", "gs://bkt/a\nb"}) {
    auto p = MakeGcsProvider(url, Options(), t);
    ASSERT_FALSE(p.ok()) << url;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  }
  setenv("STORAGE_EMULATOR_HOST", "ftp://x", 1);
  auto p = MakeGcsProvider("gs://bkt/a", Options(), t);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("STORAGE_EMULATOR_HOST"),
            std::string::npos);
  unsetenv("STORAGE_EMULATOR_HOST");

  setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json", 1);
  p = MakeGcsProvider("gs://bkt/a", Options(), t);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("GOOGLE_APPLICATION_CREDENTIALS"),
            std::string::npos);
  unsetenv("GOOGLE_APPLICATION_CREDENTIALS");

  std::string not_json = TempFile("SECRET not json");
  std::string wrong_type =
      TempFile(R"({"type":"external_account","x":"SECRET"})");
  std::string no_key =
      TempFile(R"({"type":"service_account","client_email":"a@b"})");
  std::string http_uri = TempFile(
      R"({"type":"authorized_user","client_id":"i","client_secret":"SECRET",)"
      R"("refresh_token":"SECRET","token_uri":"http://evil.example/t"})");
  for (const std::string& file : {not_json, wrong_type, no_key, http_uri}) {
    Options o;
    o.credentials_file = file;
    auto made = MakeGcsProvider("gs://bkt/a", o, t);
    ASSERT_FALSE(made.ok()) << file;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(made.status().message().find(file), std::string::npos);
    EXPECT_EQ(made.status().message().find("SECRET"), std::string::npos)
        << made.status().message();
    unlink(file.c_str());
  }
}

TEST_F(GcsProviderTest, ServiceAccountTokenIsExchangedOnceAndCached) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  nlohmann::json sa = {{"type", "service_account"},
                       {"client_email", "sa@p.iam.gserviceaccount.com"},
                       {"private_key_id", "k1"},
                       {"private_key", pem},
                       {"token_uri", "http://127.0.0.1:1/token"}};
  std::string file = TempFile(sa.dump());
  setenv("GOOGLE_APPLICATION_CREDENTIALS", file.c_str(), 1);

  RecordingTransport t;
  auto p = MakeGcsProvider("gs://bkt/a", Options(), t);
  ASSERT_TRUE(p.ok()) << p.status().message();
  HttpResponse token;
  token.status = 200;
  token.body = R"({"access_token":"ya29.TOKEN","expires_in":3599})";
  t.responses = {token};
  auto r1 = (*p)->RangeRequest(ObjectInfo{10, "5"}, 0, 10);
  auto r2 = (*p)->RangeRequest(ObjectInfo{10, "5"}, 0, 10);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(HeaderOf(*r1, "Authorization"), "Bearer ya29.TOKEN");
  EXPECT_EQ(HeaderOf(*r2, "Authorization"), "Bearer ya29.TOKEN");
  ASSERT_EQ(t.requests.size(), 1u);  // Cached.
  EXPECT_EQ(t.requests[0].method, "POST");
  EXPECT_EQ(t.requests[0].url, "http://127.0.0.1:1/token");
  EXPECT_EQ(
      t.requests[0].body.rfind(
          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
          "&assertion=",
          0),
      0u);

  // Another object opened with the same file shares the cached token.
  auto same = MakeGcsProvider("gs://bkt/other", Options(), t);
  ASSERT_TRUE(same.ok());
  auto r4 = (*same)->RangeRequest(ObjectInfo{10, "5"}, 0, 10);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(HeaderOf(*r4, "Authorization"), "Bearer ya29.TOKEN");
  EXPECT_EQ(t.requests.size(), 1u);

  // A refused exchange is a permission error naming the account, not the
  // assertion. (A different file: a different credential.)
  sa["client_email"] = "sa2@p.iam.gserviceaccount.com";
  std::string file2 = TempFile(sa.dump());
  setenv("GOOGLE_APPLICATION_CREDENTIALS", file2.c_str(), 1);
  auto p2 = MakeGcsProvider("gs://bkt/a", Options(), t);
  ASSERT_TRUE(p2.ok());
  HttpResponse refused;
  refused.status = 400;
  refused.body =
      R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})";
  t.responses = {refused};
  auto r3 = (*p2)->RangeRequest(ObjectInfo{10, "5"}, 0, 10);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(
      r3.status().message().find("'invalid_grant': 'Invalid JWT Signature.'"),
      std::string::npos);
  EXPECT_NE(r3.status().message().find("sa2@p.iam.gserviceaccount.com"),
            std::string::npos);
  EXPECT_EQ(r3.status().message().find("assertion"), std::string::npos);
  unlink(file.c_str());
  unlink(file2.c_str());
}

}  // namespace
}  // namespace weightstream::cloud
