// HttpTransport over libcurl: connection reuse, bounded bodies, range GETs
// written straight into the caller's buffer, and retries.
//
// Connections: libcurl easy handles live in a process-wide pool; a request
// borrows one and returns it, so each worker thread keeps reusing a warm
// (keep-alive, TLS-resumed) connection and no handle is ever shared between
// two requests at once.
//
// Retries (retry_policy.h): 408/429/500/502/503/504, connection failures,
// resets, timeouts and short bodies, up to `max_retries` times with full
// jitter backoff. Other 4xx are returned at once. A request is re-sent as
// it was (its signature stays valid for minutes).
//
// TLS: peers are always verified (libcurl's default CA store or
// `ca_bundle`); there is no switch to turn verification off. Proxies come
// from the usual environment variables (libcurl reads them).
//
// Messages name the method, the URL without userinfo or query string
// (RedactUrl), the range and the HTTP status; never a header value.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_HTTP_TRANSPORT_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_HTTP_TRANSPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cpp/plugins/cloud/provider.h"
#include "cpp/plugins/cloud/retry_policy.h"
#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

struct TransportConfig {
  std::optional<std::string> ca_bundle;  // PEM file; else the system store.
  int max_retries = 8;
  double connect_timeout_s = 10;
  double request_timeout_s = 120;
  Backoff backoff;
};

TransportConfig TransportConfigFrom(const Options& options);

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(TransportConfig config);

  StatusOr<HttpResponse> Fetch(const HttpRequest& request,
                               size_t max_body) override;

  // Sends the range GET `request` (built for [offset, offset + length)) and
  // writes the body into dst[0, length). Never writes past dst + length.
  // Success is a 206 whose Content-Range is exactly that range of an object
  // of `object_size` bytes (or a 200 carrying the whole object when the
  // range is the whole object) and whose body is exactly `length` bytes;
  // when `version` is non-empty, an ETag in the answer must equal it.
  //
  // A non-2xx answer that is not retried (or still failing after the
  // retries) is returned as the HttpResponse, body bounded to 64 KiB, for
  // the provider to explain; the caller must check response.status. Errors:
  // kIo for transport failures, short bodies after the retries, or a range
  // the server got wrong; ChangedError (errors.h) for a different size or
  // ETag than at open.
  StatusOr<HttpResponse> ReadRange(const HttpRequest& request, uint64_t offset,
                                   uint64_t length, uint64_t object_size,
                                   std::string_view version, char* dst);

  const TransportConfig& config() const { return config_; }

 private:
  TransportConfig config_;
};

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_HTTP_TRANSPORT_H_
