#include "cpp/plugins/cloud/sigv4.h"

#include <algorithm>

#include "cpp/plugins/cloud/ascii.h"
#include "cpp/plugins/cloud/digest.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

// Trims and collapses runs of spaces, as the canonical headers require.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string AmzDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalQuery(
    const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [k, v] : query) {
    encoded.emplace_back(PercentEncode(k, false), PercentEncode(v, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string CanonicalRequest(const SigV4Request& request,
                             std::string_view payload_hash,
                             std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(AsciiLower(name), CanonicalValue(value));
  }
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers;
  signed_headers->clear();
  for (size_t i = 0; i < headers.size(); ++i) {
    // Repeated names are joined with commas.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();
      canonical_headers += "," + headers[i].second + "\n";
      continue;
    }
    canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!signed_headers->empty()) *signed_headers += ';';
    *signed_headers += headers[i].first;
  }
  return request.method + "\n" +
         (request.canonical_uri.empty() ? "/" : request.canonical_uri) + "\n" +
         CanonicalQuery(request.query) + "\n" + canonical_headers + "\n" +
         *signed_headers + "\n" + std::string(payload_hash);
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" +
         std::string(scope) + "\n" + Sha256Hex(canonical_request);
}

std::string SigningKey(std::string_view secret, std::string_view date,
                       std::string_view region, std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

void Sign(SigV4Request& request, const AwsCredentials& credentials,
          std::string_view region, std::string_view service,
          std::string_view amz_date, std::string_view payload_hash) {
  request.headers.emplace_back("x-amz-date", std::string(amz_date));
  request.headers.emplace_back("x-amz-content-sha256",
                               std::string(payload_hash));
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token",
                                 credentials.session_token);
  }
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = date + "/" + std::string(region) + "/" +
                            std::string(service) + "/aws4_request";
  std::string signed_headers;
  const std::string canonical =
      CanonicalRequest(request, payload_hash, &signed_headers);
  const std::string signature = HexEncode(HmacSha256(
      SigningKey(credentials.secret_access_key, date, region, service),
      StringToSign(amz_date, scope, canonical)));
  request.headers.emplace_back(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
          ",SignedHeaders=" + signed_headers + ",Signature=" + signature);
}

}  // namespace weightstream::cloud
