#include "cpp/plugins/cloud/gcs_jwt.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cpp/plugins/cloud/gcs_azure_encoding.h"

namespace weightstream::cloud {
namespace {

struct Keys {
  std::string private_pem;
  EVP_PKEY* key = nullptr;
  ~Keys() { EVP_PKEY_free(key); }
};

// A fresh 2048-bit RSA key per test run: the test verifies with its public
// half, so no key material is committed.
std::unique_ptr<Keys> MakeKeys() {
  auto keys = std::make_unique<Keys>();
  keys->key = EVP_RSA_gen(2048);
  if (keys->key == nullptr) return nullptr;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, keys->key, nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  keys->private_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  return keys;
}

std::string Base64UrlDecode(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return Base64Decode(s).value_or("<bad base64>");
}

TEST(GcsJwt, SignedAssertionVerifiesWithPublicKey) {
  auto keys = MakeKeys();
  ASSERT_TRUE(keys);
  ServiceAccountClaims claims;
  claims.client_email = "loader@project.iam.gserviceaccount.com";
  claims.private_key_id = "kid123";
  claims.token_uri = "https://oauth2.googleapis.com/token";
  claims.issued_at = 1700000000;
  auto jwt = SignServiceAccountJwt(claims, keys->private_pem);
  ASSERT_TRUE(jwt.ok()) << jwt.status().message();

  size_t dot1 = jwt->find('.');
  size_t dot2 = jwt->find('.', dot1 + 1);
  ASSERT_NE(dot2, std::string::npos);
  EXPECT_EQ(jwt->find_first_of("+/="), std::string::npos);  // base64url.
  auto header = nlohmann::json::parse(Base64UrlDecode(jwt->substr(0, dot1)));
  auto payload = nlohmann::json::parse(
      Base64UrlDecode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(header, nlohmann::json(
                        {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "kid123"}}));
  EXPECT_EQ(payload["iss"], claims.client_email);
  EXPECT_EQ(payload["aud"], claims.token_uri);
  EXPECT_EQ(payload["scope"], kGcsReadScope);
  EXPECT_EQ(payload["iat"], 1700000000);
  EXPECT_EQ(payload["exp"], 1700003600);

  std::string signing_input = jwt->substr(0, dot2);
  std::string signature = Base64UrlDecode(jwt->substr(dot2 + 1));
  EXPECT_EQ(signature.size(), 256u);
  auto verify = [&](const std::string& input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, keys->key);
    int rc = EVP_DigestVerify(
        ctx, reinterpret_cast<const unsigned char*>(signature.data()),
        signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
        input.size());
    EVP_MD_CTX_free(ctx);
    return rc == 1;
  };
  EXPECT_TRUE(verify(signing_input));
  std::string tampered = signing_input;
  tampered[tampered.size() - 1] ^= 1;
  EXPECT_FALSE(verify(tampered));
}

TEST(GcsJwt, BadKeyNeverQuoted) {
  ServiceAccountClaims claims;
  claims.client_email = "a@b";
  claims.token_uri = "https://t";
  auto jwt = SignServiceAccountJwt(
      claims,
      "-----BEGIN PRIVATE KEY-----\nSECRETMATERIAL\n-----END PRIVATE "
      "KEY-----\n");
  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt.status().message().find("SECRET"), std::string::npos);

  // An EC key is not RS256 material.
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  EXPECT_FALSE(SignServiceAccountJwt(claims, pem).ok());
}

TEST(GcsJwt, TokenResponse) {
  auto t = ParseTokenResponse(
      R"({"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "ya29.abc");
  EXPECT_EQ(t->expires_in_s, 3599);
  t = ParseTokenResponse(R"({"access_token":"x","expires_in":"120"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->expires_in_s, 120);
  t = ParseTokenResponse(R"({"access_token":"x"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->expires_in_s, 300);

  for (const char* bad :
       {"", "[]", "{}", R"({"access_token":""})", R"({"access_token":7})",
        "{\"access_token\":\"SECRET\\r\\nX-Evil: 1\"}",
        "{\"access_token\":\"SECRET"}) {
    auto r = ParseTokenResponse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().find("SECRET"), std::string::npos);
  }
}

TEST(GcsJwt, GrantBodies) {
  EXPECT_EQ(JwtBearerGrantBody("a.b_c-d"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
            "&assertion=a.b_c-d");
  EXPECT_EQ(RefreshTokenGrantBody("id", "s&=", "1//x"),
            "grant_type=refresh_token&client_id=id&client_secret=s%26%3D"
            "&refresh_token=1%2F%2Fx");
}

}  // namespace
}  // namespace weightstream::cloud
