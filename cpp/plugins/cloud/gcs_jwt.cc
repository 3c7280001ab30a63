#include "cpp/plugins/cloud/gcs_jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cpp/plugins/cloud/gcs_azure_encoding.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// PEM_read_bio_PrivateKey asks for a passphrase on the terminal when the key
// is encrypted; refuse instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

StatusOr<std::string> SignServiceAccountJwt(const ServiceAccountClaims& claims,
                                            std::string_view private_key_pem) {
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!claims.private_key_id.empty()) header["kid"] = claims.private_key_id;
  nlohmann::json payload = {{"iss", claims.client_email},
                            {"scope", claims.scope},
                            {"aud", claims.token_uri},
                            {"iat", claims.issued_at},
                            {"exp", claims.issued_at + claims.lifetime_s}};
  std::string signing_input =
      Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());

  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(
      private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  if (!bio) return ResourceExhaustedError("cannot allocate a BIO");
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return InvalidArgumentError(
        "the service account's private_key is not an unencrypted RSA private "
        "key in PEM form");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         key.get()) != 1 ||
      EVP_DigestSign(
          ctx.get(), nullptr, &length,
          reinterpret_cast<const unsigned char*>(signing_input.data()),
          signing_input.size()) != 1) {
    return InternalError("RS256 signing failed to start");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(
          ctx.get(), reinterpret_cast<unsigned char*>(signature.data()),
          &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
          signing_input.size()) != 1) {
    return InternalError("RS256 signing failed");
  }
  signature.resize(length);
  return signing_input + "." + Base64UrlEncode(signature);
}

StatusOr<AccessToken> ParseTokenResponse(std::string_view body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr,
                                              /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return FormatError("the token endpoint's answer is not a JSON object");
  }
  auto token = json.find("access_token");
  if (token == json.end() || !token->is_string() ||
      token->get_ref<const std::string&>().empty()) {
    return FormatError("the token endpoint's answer has no access_token");
  }
  AccessToken out;
  out.token = token->get<std::string>();
  for (unsigned char c : out.token) {
    // The token goes into a header: no control bytes, no spaces.
    if (c <= 0x20 || c >= 0x7f) {
      return FormatError(
          "the token endpoint's access_token has bytes that "
          "cannot go into a header");
    }
  }
  auto expires = json.find("expires_in");
  if (expires != json.end() && expires->is_number_integer()) {
    out.expires_in_s = expires->get<int64_t>();
  } else if (expires != json.end() && expires->is_string()) {
    const std::string& s = expires->get_ref<const std::string&>();
    if (!s.empty() && s.size() < 10 &&
        s.find_first_not_of("0123456789") == std::string::npos) {
      out.expires_in_s = std::stoll(s);
    }
  }
  // Google says 3599; without a figure assume a short life, not forever.
  if (out.expires_in_s <= 0) out.expires_in_s = 300;
  return out;
}

std::string JwtBearerGrantBody(std::string_view assertion) {
  return "grant_type=" +
         PercentEncode("urn:ietf:params:oauth:grant-type:jwt-bearer", false) +
         "&assertion=" + PercentEncode(assertion, false);
}

std::string RefreshTokenGrantBody(std::string_view client_id,
                                  std::string_view client_secret,
                                  std::string_view refresh_token) {
  return "grant_type=refresh_token&client_id=" +
         PercentEncode(client_id, false) +
         "&client_secret=" + PercentEncode(client_secret, false) +
         "&refresh_token=" + PercentEncode(refresh_token, false);
}

}  // namespace weightstream::cloud
