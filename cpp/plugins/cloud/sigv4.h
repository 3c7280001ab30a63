// AWS Signature Version 4 for S3 (and S3-compatible stores), written from
// AWS's published specification ("Create a signed AWS API request",
// "Authenticating Requests: Using the Authorization Header").
//
// Sign() adds x-amz-date, x-amz-content-sha256, x-amz-security-token (when
// there is a session token) and Authorization to a request. Every header
// present is signed (we only send headers we chose). The intermediate steps
// are exposed so the tests can check each against AWS's worked examples.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_SIGV4_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_SIGV4_H_

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weightstream::cloud {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // Empty if none.
};

// The SHA-256 of an empty payload, sent as x-amz-content-sha256 on GET/HEAD.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Request {
  std::string method;
  std::string canonical_uri;  // Already PercentEncode'd path, e.g. "/b/k%20x".
  // Query parameters, not encoded; the canonical form encodes and sorts.
  std::vector<std::pair<std::string, std::string>> query;
  // Header names in any case; values as sent. Must include host.
  std::vector<std::pair<std::string, std::string>> headers;
};

// "20130524T000000Z" for `t` (UTC).
std::string AmzDate(std::time_t t);

// The canonical query string: PercentEncode'd names/values, sorted by name then
// value, joined with '&'.
std::string CanonicalQuery(
    const std::vector<std::pair<std::string, std::string>>& query);

// The canonical request; `signed_headers` receives "host;range;...".
std::string CanonicalRequest(const SigV4Request& request,
                             std::string_view payload_hash,
                             std::string* signed_headers);

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
// "aws4_request"), raw bytes.
std::string SigningKey(std::string_view secret, std::string_view date,
                       std::string_view region, std::string_view service);

// Adds the x-amz-* headers and Authorization to `request` for the time
// `amz_date` ("YYYYMMDDTHHMMSSZ").
void Sign(SigV4Request& request, const AwsCredentials& credentials,
          std::string_view region, std::string_view service,
          std::string_view amz_date, std::string_view payload_hash);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_SIGV4_H_
