// Azure Storage "Shared Key" authorization for the Blob service, built from
// Microsoft's published specification ("Authorize with Shared Key", version
// 2009-09-19 and later, Content-Length empty when zero as of 2015-02-21):
//
//   StringToSign = VERB \n Content-Encoding \n Content-Language \n
//                  Content-Length \n Content-MD5 \n Content-Type \n Date \n
//                  If-Modified-Since \n If-Match \n If-None-Match \n
//                  If-Unmodified-Since \n Range \n
//                  CanonicalizedHeaders CanonicalizedResource
//   Authorization = "SharedKey " account ":" base64(HMAC-SHA256(key, STS))
//
// CanonicalizedHeaders: every x-ms-* header, lower-cased, sorted by name,
// "name:value\n" with the value's surrounding whitespace trimmed.
// CanonicalizedResource: "/" account path-as-sent, then per query parameter
// (names lower-cased, sorted) "\nname:value" with the value decoded and
// repeated values joined by ','.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_SHARED_KEY_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_SHARED_KEY_H_

#include <string>
#include <string_view>

#include "cpp/plugins/cloud/provider.h"
#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

// The x-ms-version every request sends: new enough for 'x-ms-range' without
// the 4 MiB cap and for an empty Content-Length slot, old enough for every
// Azurite release since 3.20.
inline constexpr char kAzureApiVersion[] = "2021-08-06";

// The string to sign for `request` (method, absolute URL with its query,
// headers as they will be sent). kInvalidArgument if the URL does not parse.
StatusOr<std::string> AzureStringToSign(std::string_view account,
                                        const HttpRequest& request);

// "SharedKey account:signature" for `request`; `key` is the account key as
// raw bytes (already base64-decoded).
StatusOr<std::string> AzureSharedKeyAuthorization(std::string_view account,
                                                  std::string_view key,
                                                  const HttpRequest& request);

// Now as an RFC 1123 date in GMT ("Sun, 22 Nov 2026 05:08:31 GMT"), the form
// x-ms-date takes.
std::string AzureDateNow();

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_SHARED_KEY_H_
