// SigV4 against AWS's published worked examples: the S3 "Authenticating
// Requests: Using the Authorization Header" examples (GET Object with a
// Range, GET Bucket lifecycle, ListObjects) and the general SigV4 test
// suite's get-vanilla case and signing-key example.
#include "cpp/plugins/cloud/sigv4.h"

#include <gtest/gtest.h>

#include "cpp/plugins/cloud/digest.h"

namespace weightstream::cloud {
namespace {

constexpr char kS3Example[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kS3Secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kS3Date[] = "20130524T000000Z";

std::string HeaderValue(const SigV4Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(SigV4, EmptyPayloadHash) {
  EXPECT_EQ(Sha256Hex(""), std::string(kEmptyPayloadSha256));
}

TEST(SigV4, S3GetObjectWithRangeExample) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"}};
  // The published canonical request, step by step.
  SigV4Request with_amz = r;
  with_amz.headers.emplace_back("x-amz-content-sha256",
                                std::string(kEmptyPayloadSha256));
  with_amz.headers.emplace_back("x-amz-date", kS3Date);
  std::string signed_headers;
  const std::string canonical =
      CanonicalRequest(with_amz, kEmptyPayloadSha256, &signed_headers);
  EXPECT_EQ(canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\nx-amz-content-sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(
      StringToSign(kS3Date, "20130524/us-east-1/s3/aws4_request", canonical),
      "AWS4-HMAC-SHA256\n20130524T000000Z\n"
      "20130524/us-east-1/s3/aws4_request\n"
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");

  Sign(r, {kS3Example, kS3Secret, ""}, "us-east-1", "s3", kS3Date,
       kEmptyPayloadSha256);
  EXPECT_EQ(HeaderValue(r, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
            "us-east-1/s3/aws4_request,SignedHeaders=host;range;"
            "x-amz-content-sha256;x-amz-date,Signature="
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(r, "x-amz-date"), kS3Date);
  EXPECT_EQ(HeaderValue(r, "x-amz-security-token"), "");
}

TEST(SigV4, S3GetBucketLifecycleExample) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.query = {{"lifecycle", ""}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  Sign(r, {kS3Example, kS3Secret, ""}, "us-east-1", "s3", kS3Date,
       kEmptyPayloadSha256);
  EXPECT_NE(HeaderValue(r, "Authorization")
                .find("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f9"
                      "1ac7a200a0136783543"),
            std::string::npos)
      << HeaderValue(r, "Authorization");
}

TEST(SigV4, S3ListObjectsExample) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  // Given out of order: the canonical form sorts them.
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  Sign(r, {kS3Example, kS3Secret, ""}, "us-east-1", "s3", kS3Date,
       kEmptyPayloadSha256);
  EXPECT_NE(HeaderValue(r, "Authorization")
                .find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db"
                      "6670ed5711ef69dc6f7"),
            std::string::npos)
      << HeaderValue(r, "Authorization");
}

TEST(SigV4, SigningKeyExample) {
  EXPECT_EQ(HexEncode(SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                 "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4, TestSuiteGetVanilla) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"Host", "example.amazonaws.com"},
               {"X-Amz-Date", "20150830T123600Z"}};
  std::string signed_headers;
  const std::string canonical =
      CanonicalRequest(r, kEmptyPayloadSha256, &signed_headers);
  EXPECT_EQ(signed_headers, "host;x-amz-date");
  const std::string sts = StringToSign(
      "20150830T123600Z", "20150830/us-east-1/service/aws4_request", canonical);
  EXPECT_EQ(HexEncode(HmacSha256(
                SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                           "20150830", "us-east-1", "service"),
                sts)),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, SessionTokenIsSentAndSigned) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/b/k";
  r.headers = {{"host", "127.0.0.1:9000"}};
  Sign(r, {"AKID", "SECRET", "TOKEN"}, "us-east-1", "s3", kS3Date,
       kEmptyPayloadSha256);
  EXPECT_EQ(HeaderValue(r, "x-amz-security-token"), "TOKEN");
  const std::string auth = HeaderValue(r, "Authorization");
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                      "x-amz-security-token,"),
            std::string::npos)
      << auth;
  EXPECT_EQ(auth.find("SECRET"), std::string::npos);
  EXPECT_EQ(auth.find("TOKEN"), std::string::npos);
}

TEST(SigV4, CanonicalQueryEncodesAndSorts) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "a b/c~d"},
                            {"list-type", "2"},
                            {"continuation-token", "x+y="}}),
            "continuation-token=x%2By%3D&list-type=2&prefix=a%20b%2Fc~d");
}

TEST(SigV4, HeaderValuesAreTrimmedAndCollapsed) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"Host", "h"}, {"X-Amz-Meta", "  a   b  "}};
  std::string signed_headers;
  const std::string c =
      CanonicalRequest(r, "UNSIGNED-PAYLOAD", &signed_headers);
  EXPECT_NE(c.find("x-amz-meta:a b\n"), std::string::npos) << c;
  EXPECT_EQ(c.substr(c.size() - 16), "UNSIGNED-PAYLOAD");
}

TEST(SigV4, AmzDate) { EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z"); }

}  // namespace
}  // namespace weightstream::cloud
