// The seam inside the cloud plugin between the HTTP transport (libcurl, one
// connection per worker, retries, Content-Range checks) and the object
// stores (plain HTTP(S), S3, GCS, Azure Blob), which know only how to turn
// "bytes [a, b) of this object" into a signed request, how to read an
// object's size and version, how to list a prefix, and how to explain an
// error response.
//
// A provider is created once per opened object (or listing) and is used from
// many threads at once: every method must be thread-safe. Credentials live in
// the provider and never appear in DisplayName(), in Status messages, or in
// anything logged.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_PROVIDER_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_PROVIDER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD or POST (token exchange).
  std::string url;             // Absolute, query string included.
  Headers headers;
  std::string body;  // For POST.
};

struct HttpResponse {
  long status = 0;
  Headers headers;   // Names lower-cased.
  std::string body;  // Collected only by HttpTransport::Fetch.
  int attempts = 1;  // How many times the request was sent (retries + 1).

  // The first header named `name` (lower-case), if present.
  std::optional<std::string> Header(std::string_view name) const;
};

// Sends requests. Implemented over libcurl (http_transport.{h,cc}).
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request` and collects at most `max_body` bytes of the body
  // (kResourceExhausted if more arrive). Retries transient failures. A non-2xx
  // answer is not an error here: the caller interprets the status.
  virtual StatusOr<HttpResponse> Fetch(const HttpRequest& request,
                                       size_t max_body) = 0;
};

// Per-call settings (the C ABI's options_json), overriding the environment.
// Parsed and validated in options.cc; unset means "from the environment or
// the provider's default".
struct Options {
  std::optional<std::string> endpoint_url;  // S3/GCS/Azure endpoint override.
  std::optional<std::string> region;        // S3.
  std::optional<std::string> profile;       // S3: ~/.aws profile.
  std::optional<std::string> ca_bundle;     // PEM file for TLS verification.
  bool anonymous = false;                   // Send unsigned requests.
  // S3 / HMAC-style credentials given directly.
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_access_key;
  std::optional<std::string> session_token;
  // GCS: service-account JSON path, or a ready OAuth2 bearer token.
  std::optional<std::string> credentials_file;
  std::optional<std::string> token;
  // Azure.
  std::optional<std::string> connection_string;
  std::optional<std::string> account_name;
  std::optional<std::string> account_key;
  std::optional<std::string> sas_token;
  // Transport.
  int max_retries = 8;
  double connect_timeout_s = 10;
  double request_timeout_s = 120;  // Per request (one chunk).
};

// What Stat() learns about an object once, at open.
struct ObjectInfo {
  uint64_t size = 0;
  // ETag, GCS generation, or empty if the server gives none. Non-empty
  // versions are pinned: every range request must match it.
  std::string version;
};

struct ListedObject {
  std::string url;  // Same scheme/form as the listed prefix.
  uint64_t size = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;

  // The object's URL as the user wrote it, minus any secret (SAS signature,
  // userinfo, tokens).
  virtual const std::string& DisplayName() const = 0;

  // Size and version of the object (HEAD or metadata GET, signed).
  virtual StatusOr<ObjectInfo> Stat(HttpTransport& transport) = 0;

  // A signed GET for bytes [offset, offset + length) of the object, pinned
  // to `info.version` when it is non-empty (If-Match, ifGenerationMatch, ...)
  // so that a changed object fails instead of mixing bytes.
  virtual StatusOr<HttpRequest> RangeRequest(const ObjectInfo& info,
                                             uint64_t offset,
                                             uint64_t length) = 0;

  // Every object under this provider's URL taken as a prefix, recursively,
  // sorted by URL (follows continuation tokens / markers).
  virtual StatusOr<std::vector<ListedObject>> List(
      HttpTransport& transport) = 0;

  // A specific error for a non-2xx answer: kNotFound for 404,
  // kPermissionDenied for 401/403, with the provider's error code and
  // message from the body (bounded, quoted) and DisplayName().
  virtual Status ErrorFor(const HttpResponse& response,
                          std::string_view what) const = 0;
};

// Factories, one per store. `url` is what the user passed; each validates it
// and resolves credentials (options, then the standard environment variables
// and files) now, so that a missing credential is an open-time error.
StatusOr<std::unique_ptr<Provider>> MakeHttpProvider(std::string_view url,
                                                     const Options& options);
StatusOr<std::unique_ptr<Provider>> MakeS3Provider(std::string_view url,
                                                   const Options& options);
StatusOr<std::unique_ptr<Provider>> MakeGcsProvider(std::string_view url,
                                                    const Options& options,
                                                    HttpTransport& transport);
StatusOr<std::unique_ptr<Provider>> MakeAzureProvider(std::string_view url,
                                                      const Options& options);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_PROVIDER_H_
