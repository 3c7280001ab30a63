// Plain http:// and https:// URLs: HEAD for the size and ETag (a 1-byte
// ranged GET where HEAD is refused), ranged GETs pinned with If-Match to a
// strong ETag. A weak ETag (W/"...") cannot be pinned (If-Match compares
// strongly), so then only the size check in Content-Range guards against a
// replaced file. No listing: HTTP has no standard one.
#include <memory>

#include "cpp/plugins/cloud/content_range.h"
#include "cpp/plugins/cloud/decimal.h"
#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/provider.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

std::string StrongEtag(const HttpResponse& r) {
  auto etag = r.Header("etag");
  if (!etag || etag->rfind("W/", 0) == 0) return "";
  return *etag;
}

class HttpProvider : public Provider {
 public:
  explicit HttpProvider(std::string url)
      : url_(std::move(url)), display_(RedactUrl(url_)) {}

  const std::string& DisplayName() const override { return display_; }

  StatusOr<ObjectInfo> Stat(HttpTransport& transport) override {
    HttpRequest head;
    head.method = "HEAD";
    head.url = url_;
    WS_ASSIGN_OR_RETURN(HttpResponse r, transport.Fetch(head, 0));
    ObjectInfo info;
    if (r.status >= 200 && r.status < 300) {
      auto length = r.Header("content-length");
      std::optional<uint64_t> size;
      if (length) size = ParseDecimalU64(*length);
      if (size && !r.Header("content-encoding")) {
        info.size = *size;
        info.version = StrongEtag(r);
        return info;
      }
    } else if (r.status != 405 && r.status != 501 && r.status != 403) {
      // 403: some stores (presigned URLs) sign the method; GET may pass.
      return ErrorFor(r, "opening");
    }
    // HEAD refused or without a usable length: the total of a 1-byte range.
    HttpRequest get;
    get.url = url_;
    get.headers = {{"Range", "bytes=0-0"}};
    StatusOr<HttpResponse> got = transport.Fetch(get, 1);
    if (!got.ok() && got.status().code() == StatusCode::kResourceExhausted) {
      return NoRanges();  // More than the 1 byte asked for.
    }
    WS_ASSIGN_OR_RETURN(HttpResponse g, std::move(got));
    if (g.status == 206) {
      auto value = g.Header("content-range");
      std::optional<ContentRange> range;
      if (value) range = ParseContentRange(*value);
      if (!range || !range->complete) {
        return FormatError(display_ +
                           ": the answer to a range request has no usable "
                           "Content-Range");
      }
      info.size = *range->complete;
      info.version = StrongEtag(g);
      return info;
    }
    if (g.status == 416) {  // bytes=0-0 unsatisfiable: an empty object.
      info.size = 0;
      return info;
    }
    if (g.status == 200) return NoRanges();
    return ErrorFor(g, "opening");
  }

  StatusOr<HttpRequest> RangeRequest(const ObjectInfo& info, uint64_t offset,
                                     uint64_t length) override {
    if (length == 0 || offset > info.size || length > info.size - offset) {
      return InvalidArgumentError(display_ + ": " + RangeText(offset, length) +
                                  " is outside the object (" +
                                  std::to_string(info.size) + " bytes)");
    }
    HttpRequest r;
    r.url = url_;
    r.headers = {{"Range", "bytes=" + std::to_string(offset) + "-" +
                               std::to_string(offset + length - 1)}};
    if (!info.version.empty()) r.headers.emplace_back("If-Match", info.version);
    return r;
  }

  StatusOr<std::vector<ListedObject>> List(HttpTransport&) override {
    return InvalidArgumentError(
        display_ +
        ": cannot list an http(s) URL (HTTP has no standard listing); pass "
        "the files or the *.safetensors.index.json URL instead");
  }

  Status ErrorFor(const HttpResponse& response,
                  std::string_view what) const override {
    std::string m = display_ + ": " + std::string(what) + ": HTTP " +
                    std::to_string(response.status);
    if (response.status == 404) m += " (not found)";
    if (response.status == 401 || response.status == 403) {
      m += " (access denied)";
    }
    if (response.status == 412) {
      m += " (the file changed since it was opened)";
    }
    if (response.attempts > 1) {
      m += "; gave up after " + std::to_string(response.attempts) + " attempts";
    }
    return HttpStatusError(response.status, std::move(m));
  }

 private:
  Status NoRanges() const {
    return InvalidArgumentError(
        display_ +
        ": the server does not support range requests (HTTP 200 for a "
        "Range request), which streaming needs");
  }

  std::string url_;
  std::string display_;
};

}  // namespace

StatusOr<std::unique_ptr<Provider>> MakeHttpProvider(std::string_view url,
                                                     const Options& options) {
  auto parsed = ParseUrl(url);
  if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) {
    return InvalidArgumentError("not a valid http(s) URL: " + RedactUrl(url));
  }
  return std::unique_ptr<Provider>(new HttpProvider(std::string(url)));
}

}  // namespace weightstream::cloud
