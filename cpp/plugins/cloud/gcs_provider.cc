#include "cpp/plugins/cloud/gcs_provider.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/gcs_azure_encoding.h"
#include "cpp/plugins/cloud/gcs_credentials.h"
#include "cpp/plugins/cloud/gcs_json.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxMetadataBody = 1u << 20;
constexpr size_t kMaxListBody = 64u << 20;
constexpr size_t kMaxListPages = 100000;
constexpr char kDefaultEndpoint[] = "https://storage.googleapis.com";

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// Bucket names: 3-63 characters (222 with dots) of [a-z0-9-_.], starting and
// ending with a letter or digit.
bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 222) return false;
  if (b.find('.') == std::string_view::npos && b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  return alnum(b.front()) && alnum(b.back());
}

class GcsProvider : public Provider {
 public:
  GcsProvider(std::string endpoint, std::string bucket, std::string object,
              std::string display, std::shared_ptr<GcsCredentials> credentials,
              HttpTransport* token_transport)
      : endpoint_(std::move(endpoint)),
        bucket_(std::move(bucket)),
        object_(std::move(object)),
        display_(std::move(display)),
        credentials_(std::move(credentials)),
        token_transport_(token_transport) {}

  const std::string& DisplayName() const override { return display_; }

  StatusOr<ObjectInfo> Stat(HttpTransport& transport) override {
    if (object_.empty() || object_.back() == '/') {
      return InvalidArgumentError(display_ +
                                  ": names a bucket or prefix, not an object");
    }
    HttpRequest request;
    request.url = endpoint_ + "/storage/v1/b/" + PercentEncode(bucket_, false) +
                  "/o/" + PercentEncode(object_, false) +
                  "?fields=name%2Csize%2Cgeneration";
    WS_RETURN_IF_ERROR(Authorize(request, transport));
    WS_ASSIGN_OR_RETURN(HttpResponse response,
                        transport.Fetch(request, kMaxMetadataBody));
    if (response.status < 200 || response.status >= 300) {
      return ErrorFor(response, "objects.get");
    }
    auto object = ParseGcsObject(response.body);
    if (!object.ok()) {
      return FormatError(display_ +
                         ": objects.get answer: " + object.status().message());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_ = object->generation;
    }
    ObjectInfo info;
    info.size = object->size;
    // The generation pins reads through ifGenerationMatch (RangeRequest),
    // and ObjectInfo::version stays empty: the transport compares a non-empty
    // version with each answer's ETag, and a GCS download's ETag is not the
    // generation (it is an opaque per-generation/metageneration string).
    info.version.clear();
    return info;
  }

  StatusOr<HttpRequest> RangeRequest(const ObjectInfo& info, uint64_t offset,
                                     uint64_t length) override {
    if (length == 0 || offset + length < offset) {
      return InvalidArgumentError(display_ +
                                  ": empty or overflowing range at " +
                                  std::to_string(offset));
    }
    HttpRequest request;
    request.url = endpoint_ + "/download/storage/v1/b/" +
                  PercentEncode(bucket_, false) + "/o/" +
                  PercentEncode(object_, false) + "?alt=media";
    std::string generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation = generation_;
    }
    if (!generation.empty()) {
      request.url += "&ifGenerationMatch=" + PercentEncode(generation, false);
    }
    request.headers.emplace_back("Range",
                                 "bytes=" + std::to_string(offset) + "-" +
                                     std::to_string(offset + length - 1));
    if (token_transport_ == nullptr) {
      return InternalError(display_ + ": no transport to renew tokens with");
    }
    WS_RETURN_IF_ERROR(Authorize(request, *token_transport_));
    return request;
  }

  StatusOr<std::vector<ListedObject>> List(HttpTransport& transport) override {
    std::vector<ListedObject> out;
    std::string token;
    for (size_t page = 0;; ++page) {
      if (page >= kMaxListPages) {
        return ResourceExhaustedError(display_ +
                                      ": listing runs past 100000 pages");
      }
      HttpRequest request;
      request.url = endpoint_ + "/storage/v1/b/" +
                    PercentEncode(bucket_, false) + "/o?maxResults=1000";
      if (!object_.empty()) {
        request.url += "&prefix=" + PercentEncode(object_, false);
      }
      if (!token.empty())
        request.url += "&pageToken=" + PercentEncode(token, false);
      WS_RETURN_IF_ERROR(Authorize(request, transport));
      WS_ASSIGN_OR_RETURN(HttpResponse response,
                          transport.Fetch(request, kMaxListBody));
      if (response.status < 200 || response.status >= 300) {
        return ErrorFor(response, "objects.list");
      }
      auto parsed = ParseGcsListPage(response.body);
      if (!parsed.ok()) {
        return FormatError(
            display_ + ": objects.list answer: " + parsed.status().message());
      }
      for (const GcsObject& item : parsed->items) {
        if (item.name.compare(0, object_.size(), object_) != 0) {
          return FormatError(display_ + ": objects.list returned " +
                             QuoteUntrusted(item.name) +
                             ", outside the requested prefix");
        }
        out.push_back({"gs://" + bucket_ + "/" + item.name, item.size});
      }
      if (parsed->next_page_token.empty()) break;
      if (parsed->next_page_token == token) {
        return FormatError(display_ + ": objects.list repeated its page token");
      }
      token = std::move(parsed->next_page_token);
    }
    std::sort(out.begin(), out.end(),
              [](const ListedObject& a, const ListedObject& b) {
                return a.url < b.url;
              });
    return out;
  }

  Status ErrorFor(const HttpResponse& response,
                  std::string_view what) const override {
    GcsErrorBody body = ParseGcsError(response.body);
    std::string message = display_ + ": " + std::string(what) +
                          " failed: HTTP " + std::to_string(response.status);
    if (!body.reason.empty()) message += " " + QuoteUntrusted(body.reason);
    if (!body.message.empty()) message += ": " + QuoteUntrusted(body.message);
    if (response.status == 401 || response.status == 403) {
      message += " (using " + credentials_->Describe() + ")";
    } else if (response.status == 412) {
      message +=
          " (the object changed since it was opened: its generation no "
          "longer matches)";
    }
    return HttpStatusError(response.status, std::move(message));
  }

 private:
  Status Authorize(HttpRequest& request, HttpTransport& transport) {
    auto auth = credentials_->Authorization(transport);
    if (!auth.ok()) {
      Status s(auth.status().code(), display_ + ": " + auth.status().message());
      s.set_http_status(auth.status().http_status());
      return s;
    }
    if (!auth->empty()) request.headers.emplace_back("Authorization", *auth);
    return Status::Ok();
  }

  std::string endpoint_;
  std::string bucket_;
  std::string object_;
  std::string display_;
  std::shared_ptr<GcsCredentials> credentials_;
  HttpTransport* token_transport_;
  std::mutex mu_;
  std::string generation_;  // From Stat(); empty until then.
};

StatusOr<std::string> Endpoint(const Options& options) {
  std::string endpoint;
  const char* where = "";
  if (options.endpoint_url) {
    endpoint = *options.endpoint_url;
    where = "the endpoint_url option";
  } else if (auto host = Env("STORAGE_EMULATOR_HOST")) {
    endpoint = *host;
    where = "STORAGE_EMULATOR_HOST";
    // The Google clients accept a bare host:port here.
    if (endpoint.find("://") == std::string::npos)
      endpoint = "http://" + endpoint;
  } else {
    return std::string(kDefaultEndpoint);
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  auto parts = SplitUrl(endpoint);
  if (!parts || (parts->scheme != "http" && parts->scheme != "https") ||
      !parts->query.empty()) {
    return InvalidArgumentError(
        std::string(where) +
        " is not an http(s) URL: " + QuoteUntrusted(endpoint));
  }
  return endpoint;
}

}  // namespace

StatusOr<std::unique_ptr<Provider>> MakeGcsProvider(std::string_view url,
                                                    const Options& options,
                                                    HttpTransport& transport) {
  std::string display(url);
  if (url.substr(0, 5) != "gs://") {
    return InvalidArgumentError("not a gs:// URL: " + QuoteUntrusted(display));
  }
  for (unsigned char c : url) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError("gs:// URL with a control character: " +
                                  QuoteUntrusted(display));
    }
  }
  std::string_view rest = url.substr(5);
  size_t slash = rest.find('/');
  std::string bucket(rest.substr(0, slash));
  std::string object(slash == std::string_view::npos ? std::string_view()
                                                     : rest.substr(slash + 1));
  if (!ValidBucket(bucket)) {
    return InvalidArgumentError(
        "GCS bucket name must be 3-63 characters of a-z 0-9 - _ . : " +
        QuoteUntrusted(bucket) + " in " + QuoteUntrusted(display));
  }
  if (object.size() > 1024) {
    return InvalidArgumentError("GCS object name longer than 1024 bytes: " +
                                QuoteUntrusted(display));
  }
  WS_ASSIGN_OR_RETURN(std::string endpoint, Endpoint(options));
  auto credentials = GcsCredentials::Resolve(options);
  if (!credentials.ok()) {
    return Status(credentials.status().code(),
                  display + ": " + credentials.status().message());
  }
  return std::unique_ptr<Provider>(new GcsProvider(
      std::move(endpoint), std::move(bucket), std::move(object),
      std::move(display), std::move(credentials).value(), &transport));
}

}  // namespace weightstream::cloud
