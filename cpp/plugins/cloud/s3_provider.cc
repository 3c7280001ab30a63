// S3 (and S3-compatible endpoints): HEAD Object, ranged GET Object pinned
// with If-Match, ListObjectsV2, all signed with SigV4 (sigv4.h) using the
// credentials aws_config.h resolves.
//
// Addressing: on AWS, virtual-hosted (https://BUCKET.s3.REGION.amazonaws.com)
// unless the bucket name has a dot (its TLS certificate would not match);
// with a custom endpoint, path-style (ENDPOINT/BUCKET/KEY), which every
// S3-compatible server accepts.
#include <algorithm>
#include <ctime>
#include <memory>

#include "cpp/plugins/cloud/aws_config.h"
#include "cpp/plugins/cloud/decimal.h"
#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/provider.h"
#include "cpp/plugins/cloud/s3_xml.h"
#include "cpp/plugins/cloud/sigv4.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxListedObjects = 1000000;

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

class S3Provider : public Provider {
 public:
  S3Provider(std::string bucket, std::string key, S3Settings settings,
             ParsedUrl endpoint, bool path_style)
      : bucket_(std::move(bucket)),
        key_(std::move(key)),
        settings_(std::move(settings)),
        endpoint_(std::move(endpoint)),
        path_style_(path_style),
        display_("s3://" + bucket_ + "/" + key_) {}

  const std::string& DisplayName() const override { return display_; }

  StatusOr<ObjectInfo> Stat(HttpTransport& transport) override {
    WS_ASSIGN_OR_RETURN(HttpResponse r,
                        transport.Fetch(Signed("HEAD", ObjectPath(), {}, {}),
                                        /*max_body=*/0));
    if (r.status < 200 || r.status >= 300) {
      // HEAD answers carry no error document; a 1-byte GET explains why.
      auto explain = transport.Fetch(
          Signed("GET", ObjectPath(), {}, {{"Range", "bytes=0-0"}}), 64 << 10);
      if (explain.ok() && explain->status == r.status) {
        return ErrorFor(*explain, "opening");
      }
      return ErrorFor(r, "opening");
    }
    auto length = r.Header("content-length");
    ObjectInfo info;
    std::optional<uint64_t> size;
    if (length) size = ParseDecimalU64(*length);
    if (!size) {
      return FormatError(display_ +
                         ": HEAD answered without a valid Content-Length");
    }
    info.size = *size;
    info.version = r.Header("etag").value_or("");
    return info;
  }

  StatusOr<HttpRequest> RangeRequest(const ObjectInfo& info, uint64_t offset,
                                     uint64_t length) override {
    if (length == 0 || offset > info.size || length > info.size - offset) {
      return InvalidArgumentError(display_ + ": " + RangeText(offset, length) +
                                  " is outside the object (" +
                                  std::to_string(info.size) + " bytes)");
    }
    Headers extra = {{"Range", "bytes=" + std::to_string(offset) + "-" +
                                   std::to_string(offset + length - 1)}};
    if (!info.version.empty()) extra.emplace_back("If-Match", info.version);
    return Signed("GET", ObjectPath(), {}, extra);
  }

  StatusOr<std::vector<ListedObject>> List(HttpTransport& transport) override {
    std::vector<ListedObject> out;
    std::string token;
    for (;;) {
      std::vector<std::pair<std::string, std::string>> query = {
          {"list-type", "2"}, {"prefix", key_}};
      if (!token.empty()) query.emplace_back("continuation-token", token);
      WS_ASSIGN_OR_RETURN(
          HttpResponse r,
          transport.Fetch(Signed("GET", BucketPath(), query, {}),
                          kMaxXmlBytes));
      if (r.status != 200) return ErrorFor(r, "listing");
      auto page = ParseListObjectsV2(r.body);
      if (!page.ok()) {
        return FormatError(display_ + ": " + page.status().message());
      }
      for (auto& e : page->entries) {
        if (e.key.rfind(key_, 0) != 0) {
          return FormatError(display_ + ": the listing returned key " +
                             QuoteUntrusted(e.key) + " outside the prefix");
        }
        out.push_back({"s3://" + bucket_ + "/" + e.key, e.size});
      }
      if (out.size() > kMaxListedObjects) {
        return ResourceExhaustedError(display_ + ": more than " +
                                      std::to_string(kMaxListedObjects) +
                                      " objects under this prefix");
      }
      if (!page->truncated) break;
      if (page->next_continuation_token == token) {
        return FormatError(display_ +
                           ": the listing repeats its continuation token");
      }
      token = page->next_continuation_token;
    }
    std::sort(out.begin(), out.end(),
              [](const ListedObject& a, const ListedObject& b) {
                return a.url < b.url;
              });
    return out;
  }

  Status ErrorFor(const HttpResponse& response,
                  std::string_view what) const override {
    const S3ErrorDocument doc = ParseS3Error(response.body);
    std::string m = display_ + ": " + std::string(what) + ": HTTP " +
                    std::to_string(response.status);
    if (!doc.code.empty()) m += " " + QuoteUntrusted(doc.code);
    if (!doc.message.empty()) m += ": " + QuoteUntrusted(doc.message);
    if (doc.code.empty()) {
      if (response.status == 404) m += " (no such key or bucket)";
      if (response.status == 403) m += " (access denied)";
      if (response.status == 412)
        m += " (the object changed since it was opened)";
    }
    if (auto region = response.Header("x-amz-bucket-region");
        region && *region != settings_.region) {
      m += "; the bucket is in region " + QuoteUntrusted(*region) + ", not " +
           QuoteUntrusted(settings_.region) +
           " (set the region option or AWS_REGION)";
    }
    if ((response.status == 401 || response.status == 403) &&
        !settings_.credentials && !settings_.anonymous_requested) {
      m += "; no AWS credentials were found (looked in " +
           settings_.credentials_source + "), so the request was unsigned";
    } else if (response.status == 403 && settings_.credentials) {
      m += "; credentials from " + settings_.credentials_source;
    }
    if (response.attempts > 1) {
      m += "; gave up after " + std::to_string(response.attempts) + " attempts";
    }
    if (auto id = response.Header("x-amz-request-id")) {
      m += " (request id " + QuoteUntrusted(*id) + ")";
    }
    return HttpStatusError(response.status, std::move(m));
  }

 private:
  std::string BucketPath() const { return path_style_ ? "/" + bucket_ : "/"; }
  std::string ObjectPath() const {
    return (path_style_ ? "/" + bucket_ : std::string()) + "/" +
           PercentEncode(key_, /*keep_slash=*/true);
  }

  HttpRequest Signed(const std::string& method, const std::string& path,
                     std::vector<std::pair<std::string, std::string>> query,
                     const Headers& extra) const {
    SigV4Request sr;
    sr.method = method;
    sr.canonical_uri = endpoint_.path + path;
    sr.query = std::move(query);
    sr.headers.emplace_back("host", endpoint_.Authority());
    for (const auto& h : extra) sr.headers.push_back(h);
    if (settings_.credentials) {
      Sign(sr, *settings_.credentials, settings_.region, "s3",
           AmzDate(std::time(nullptr)), kEmptyPayloadSha256);
    }
    HttpRequest request;
    request.method = method;
    request.url =
        endpoint_.scheme + "://" + endpoint_.Authority() + sr.canonical_uri;
    const std::string q = CanonicalQuery(sr.query);
    if (!q.empty()) request.url += "?" + q;
    for (auto& h : sr.headers) {
      if (h.first == "host") continue;  // libcurl writes it from the URL.
      request.headers.push_back(std::move(h));
    }
    return request;
  }

  std::string bucket_;
  std::string key_;
  S3Settings settings_;
  ParsedUrl endpoint_;
  bool path_style_;
  std::string display_;
};

}  // namespace

StatusOr<std::unique_ptr<Provider>> MakeS3Provider(std::string_view url,
                                                   const Options& options) {
  constexpr std::string_view kScheme = "s3://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgumentError("not an s3:// URL: " + RedactUrl(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string bucket(rest.substr(0, slash));
  const std::string key(slash == std::string_view::npos
                            ? std::string_view()
                            : rest.substr(slash + 1));
  if (!ValidBucket(bucket)) {
    return InvalidArgumentError(
        "s3 URL " + QuoteUntrusted(std::string(url)) +
        ": the bucket name must be 3-63 letters, digits, '.', '-' or '_'");
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError("s3 URL " + QuoteUntrusted(std::string(url)) +
                                  ": control character in the key");
    }
  }
  WS_ASSIGN_OR_RETURN(S3Settings settings,
                      ResolveS3Settings(options, ProcessEnv()));
  ParsedUrl endpoint;
  bool path_style = true;
  if (!settings.endpoint_url.empty()) {
    auto parsed = ParseUrl(settings.endpoint_url);
    if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https") ||
        parsed->has_userinfo || !parsed->query.empty()) {
      return InvalidArgumentError("S3 endpoint " +
                                  RedactUrl(settings.endpoint_url) +
                                  " must be http(s)://host[:port][/path]");
    }
    endpoint = *parsed;
    while (!endpoint.path.empty() && endpoint.path.back() == '/') {
      endpoint.path.pop_back();
    }
  } else {
    endpoint.scheme = "https";
    path_style = bucket.find('.') != std::string::npos;
    endpoint.host = (path_style ? "" : bucket + ".") + "s3." + settings.region +
                    ".amazonaws.com";
  }
  return std::unique_ptr<Provider>(new S3Provider(
      bucket, key, std::move(settings), std::move(endpoint), path_style));
}

}  // namespace weightstream::cloud
