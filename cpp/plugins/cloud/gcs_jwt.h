// OAuth2 for Google Cloud Storage without an SDK: the service-account JWT
// bearer grant (RFC 7523, Google's "Using OAuth 2.0 for Server to Server
// Applications") and the refresh-token grant for "authorized_user" files.
//
// A service-account assertion is
//   base64url({"alg":"RS256","typ":"JWT","kid":KEY_ID}) "."
//   base64url({"iss":EMAIL,"scope":SCOPE,"aud":TOKEN_URI,"iat":T,"exp":T+3600})
//   "." base64url(RSASSA-PKCS1-v1_5-SHA256(private key, first two parts))
// signed with OpenSSL's EVP_DigestSign, and is exchanged at TOKEN_URI with
//   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JWT_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JWT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

// Read-only access is all a loader needs.
inline constexpr char kGcsReadScope[] =
    "https://www.googleapis.com/auth/devstorage.read_only";

struct ServiceAccountClaims {
  std::string client_email;
  std::string private_key_id;  // The "kid" header; may be empty.
  std::string token_uri;
  std::string scope = kGcsReadScope;
  int64_t issued_at = 0;  // Seconds since the epoch.
  int64_t lifetime_s = 3600;
};

// The signed assertion. kInvalidArgument if `private_key_pem` is not an RSA
// private key in PEM (PKCS#8 or PKCS#1); the message never quotes the key.
StatusOr<std::string> SignServiceAccountJwt(const ServiceAccountClaims& claims,
                                            std::string_view private_key_pem);

struct AccessToken {
  std::string token;
  int64_t expires_in_s = 0;
};

// Parses a token endpoint's JSON answer ({"access_token", "expires_in",
// "token_type": "Bearer"}). kFormat naming the missing field otherwise; the
// message never quotes the body (it may hold a token).
StatusOr<AccessToken> ParseTokenResponse(std::string_view body);

// application/x-www-form-urlencoded bodies for the two grants.
std::string JwtBearerGrantBody(std::string_view assertion);
std::string RefreshTokenGrantBody(std::string_view client_id,
                                  std::string_view client_secret,
                                  std::string_view refresh_token);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JWT_H_
