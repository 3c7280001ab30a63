#include "cpp/plugins/cloud/azure_provider.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpp/plugins/cloud/ascii.h"
#include "cpp/plugins/cloud/azure_connection_string.h"
#include "cpp/plugins/cloud/azure_listing.h"
#include "cpp/plugins/cloud/azure_shared_key.h"
#include "cpp/plugins/cloud/decimal.h"
#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/gcs_azure_encoding.h"
#include "cpp/plugins/cloud/url.h"

namespace weightstream::cloud {
namespace {

constexpr size_t kMaxListBody = 64u << 20;
constexpr size_t kMaxErrorBody = 64u << 10;
constexpr size_t kMaxListPages = 100000;

// Hosts of the public clouds' blob endpoints: ACCOUNT.blob.SUFFIX.
constexpr const char* kBlobSuffixes[] = {
    ".blob.core.windows.net", ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net", ".blob.core.cloudapi.de"};

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The account of an https://ACCOUNT.blob.core.windows.net host, or "".
std::string AccountFromHost(std::string_view authority) {
  std::string host = AsciiLower(authority.substr(0, authority.find(':')));
  for (const char* suffix : kBlobSuffixes) {
    std::string_view sv(suffix);
    if (host.size() > sv.size() &&
        host.compare(host.size() - sv.size(), sv.size(), sv) == 0) {
      std::string account = host.substr(0, host.size() - sv.size());
      if (account.find('.') == std::string::npos) return account;
    }
  }
  return "";
}

StatusOr<std::optional<AzureConnectionString>> ConnectionStringFor(
    const Options& options) {
  std::optional<std::string> text = options.connection_string;
  const char* where = "the connection_string option";
  if (!text) {
    text = Env("AZURE_STORAGE_CONNECTION_STRING");
    where = "AZURE_STORAGE_CONNECTION_STRING";
  }
  if (!text) return std::optional<AzureConnectionString>();
  auto parsed = ParseAzureConnectionString(*text);
  if (!parsed.ok()) {
    return InvalidArgumentError(parsed.status().message() + " (from " + where +
                                ")");
  }
  return std::optional<AzureConnectionString>(std::move(parsed).value());
}

// Removes a SAS from a query: everything goes, since a Blob URL's query is
// the SAS (sv, sig, se, sp, ...).
std::string WithoutQuery(std::string_view url) {
  return std::string(url.substr(0, url.find('?')));
}

struct Target {
  std::string endpoint;   // scheme://authority[/path], no trailing '/'.
  std::string container;  // Decoded.
  std::string blob;       // Decoded; may be empty or end in '/' for a prefix.
  // How to spell a blob's URL when listing: "az://container/" or the
  // endpoint form.
  bool az_scheme = false;
};

class AzureProvider : public Provider {
 public:
  AzureProvider(Target target, std::string account, std::string key,
                std::string sas, std::string display, std::string url_sas)
      : target_(std::move(target)),
        account_(std::move(account)),
        key_(std::move(key)),
        sas_(std::move(sas)),
        display_(std::move(display)),
        url_sas_(std::move(url_sas)) {}

  const std::string& DisplayName() const override { return display_; }

  StatusOr<ObjectInfo> Stat(HttpTransport& transport) override {
    if (target_.blob.empty() || target_.blob.back() == '/') {
      return InvalidArgumentError(display_ +
                                  ": names a container or prefix, not a blob");
    }
    HttpRequest request;
    request.method = "HEAD";
    request.url = BlobUrl();
    WS_RETURN_IF_ERROR(Authorize(request));
    WS_ASSIGN_OR_RETURN(HttpResponse response,
                        transport.Fetch(request, kMaxErrorBody));
    if (response.status < 200 || response.status >= 300) {
      return ErrorFor(response, "Get Blob Properties");
    }
    auto length = response.Header("content-length");
    std::optional<uint64_t> size;
    if (length) size = ParseDecimalU64(*length);
    if (!size) {
      return FormatError(display_ +
                         ": Get Blob Properties answered without a usable "
                         "Content-Length");
    }
    ObjectInfo info;
    info.size = *size;
    info.version = response.Header("etag").value_or("");
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
    request.url = BlobUrl();
    request.headers.emplace_back("x-ms-range",
                                 "bytes=" + std::to_string(offset) + "-" +
                                     std::to_string(offset + length - 1));
    if (!info.version.empty())
      request.headers.emplace_back("If-Match", info.version);
    WS_RETURN_IF_ERROR(Authorize(request));
    return request;
  }

  StatusOr<std::vector<ListedObject>> List(HttpTransport& transport) override {
    std::vector<ListedObject> out;
    std::string marker;
    for (size_t page = 0;; ++page) {
      if (page >= kMaxListPages) {
        return ResourceExhaustedError(display_ +
                                      ": listing runs past 100000 pages");
      }
      HttpRequest request;
      std::string query = "restype=container&comp=list&maxresults=5000";
      if (!target_.blob.empty()) {
        query += "&prefix=" + PercentEncode(target_.blob, false);
      }
      if (!marker.empty()) query += "&marker=" + PercentEncode(marker, false);
      request.url = target_.endpoint + "/" +
                    PercentEncode(target_.container, false) + "?" + query;
      WS_RETURN_IF_ERROR(Authorize(request));
      WS_ASSIGN_OR_RETURN(HttpResponse response,
                          transport.Fetch(request, kMaxListBody));
      if (response.status < 200 || response.status >= 300) {
        return ErrorFor(response, "List Blobs");
      }
      auto parsed = ParseAzureBlobList(response.body);
      if (!parsed.ok()) {
        return FormatError(display_ +
                           ": List Blobs answer: " + parsed.status().message());
      }
      for (auto& blob : parsed->blobs) {
        if (blob.name.compare(0, target_.blob.size(), target_.blob) != 0) {
          return FormatError(display_ + ": List Blobs returned " +
                             QuoteUntrusted(blob.name) +
                             ", outside the requested prefix");
        }
        out.push_back({ListedUrl(blob.name), blob.size});
      }
      if (parsed->next_marker.empty()) break;
      if (parsed->next_marker == marker) {
        return FormatError(display_ +
                           ": List Blobs repeated its continuation marker");
      }
      marker = std::move(parsed->next_marker);
    }
    std::sort(out.begin(), out.end(),
              [](const ListedObject& a, const ListedObject& b) {
                return a.url < b.url;
              });
    return out;
  }

  Status ErrorFor(const HttpResponse& response,
                  std::string_view what) const override {
    AzureErrorBody body = ParseAzureError(response.body);
    // HEAD answers carry no body; the service puts the code in a header.
    if (body.code.empty())
      body.code = response.Header("x-ms-error-code").value_or("");
    // Messages end in "\nRequestId:...\nTime:..."; the first line says it.
    body.message = body.message.substr(0, body.message.find('\n'));
    std::string message = display_ + ": " + std::string(what) +
                          " failed: HTTP " + std::to_string(response.status);
    if (!body.code.empty()) message += " " + QuoteUntrusted(body.code);
    if (!body.message.empty()) message += ": " + QuoteUntrusted(body.message);
    if (response.status == 401 || response.status == 403) {
      message += credential_hint();
    } else if (response.status == 412) {
      message +=
          " (the blob changed since it was opened: its ETag no "
          "longer matches)";
    }
    return HttpStatusError(response.status, std::move(message));
  }

 private:
  std::string credential_hint() const {
    if (!key_.empty()) {
      return " (signed with the account key of " + QuoteUntrusted(account_) +
             ")";
    }
    if (!sas_.empty()) return " (with a SAS token)";
    return " (no credentials found: set AZURE_STORAGE_CONNECTION_STRING, "
           "AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, "
           "AZURE_STORAGE_SAS_TOKEN, "
           "or pass connection_string / account_key / sas_token)";
  }

  std::string BlobPath(std::string_view blob) const {
    return "/" + PercentEncode(target_.container, false) + "/" +
           PercentEncode(blob, true);
  }

  std::string BlobUrl() const {
    return target_.endpoint + BlobPath(target_.blob);
  }

  std::string ListedUrl(const std::string& name) const {
    if (target_.az_scheme) {
      return "az://" + target_.container + "/" + name;
    }
    std::string url = target_.endpoint + BlobPath(name);
    if (!url_sas_.empty()) url += "?" + url_sas_;
    return url;
  }

  // Adds the date, version and credential to `request` (URL already final
  // apart from the SAS).
  Status Authorize(HttpRequest& request) const {
    if (!sas_.empty()) {
      request.url += (request.url.find('?') == std::string::npos ? "?" : "&");
      request.url += sas_;
    }
    request.headers.emplace_back("x-ms-date", AzureDateNow());
    request.headers.emplace_back("x-ms-version", kAzureApiVersion);
    if (!key_.empty()) {
      auto auth = AzureSharedKeyAuthorization(account_, key_, request);
      if (!auth.ok()) {
        return InternalError(display_ +
                             ": cannot sign: " + auth.status().message());
      }
      request.headers.emplace_back("Authorization", std::move(auth).value());
    }
    return Status::Ok();
  }

  Target target_;
  std::string account_;
  std::string key_;  // Raw bytes.
  std::string sas_;  // Query string without '?'.
  std::string display_;
  std::string url_sas_;  // The SAS the user put in the URL, if any.
};

StatusOr<Target> ParseTargetPath(std::string_view path, std::string_view url) {
  // path: "/container/blob..." still percent-encoded.
  if (path.empty() || path == "/") {
    return InvalidArgumentError("Azure URL has no container: " +
                                QuoteUntrusted(WithoutQuery(url)));
  }
  path.remove_prefix(1);
  size_t slash = path.find('/');
  auto container = PercentDecode(path.substr(0, slash));
  auto blob =
      PercentDecode(slash == std::string_view::npos ? std::string_view()
                                                    : path.substr(slash + 1));
  if (!container || !blob) {
    return InvalidArgumentError("Azure URL with a malformed %-escape: " +
                                QuoteUntrusted(WithoutQuery(url)));
  }
  // Container names: 3-63 of [a-z0-9-] ("$root" and "$web" are the special
  // ones); checking here turns a typo into a clear error rather than a 400.
  bool valid = container->size() >= 3 && container->size() <= 63;
  for (char c : *container) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      valid = false;
    }
  }
  if (*container == "$root" || *container == "$web") valid = true;
  if (!valid) {
    return InvalidArgumentError(
        "Azure container name must be 3-63 lower-case letters, digits or "
        "'-': " +
        QuoteUntrusted(*container) + " in " +
        QuoteUntrusted(WithoutQuery(url)));
  }
  Target t;
  t.container = std::move(*container);
  t.blob = std::move(*blob);
  return t;
}

// The configured endpoint (options, then the connection string), or "".
std::string ConfiguredEndpoint(const Options& options,
                               const std::optional<AzureConnectionString>& cs) {
  if (options.endpoint_url) return StripTrailingSlashes(*options.endpoint_url);
  if (cs && !cs->blob_endpoint.empty()) return cs->blob_endpoint;
  return "";
}

bool UnderEndpoint(std::string_view url, std::string_view endpoint) {
  if (endpoint.empty() || url.size() <= endpoint.size()) return false;
  return AsciiLower(url.substr(0, endpoint.size())) == AsciiLower(endpoint) &&
         url[endpoint.size()] == '/';
}

}  // namespace

bool IsAzureBlobUrl(std::string_view url, const Options& options) {
  auto parts = SplitUrl(url);
  if (!parts || (parts->scheme != "http" && parts->scheme != "https")) {
    return false;
  }
  if (!AccountFromHost(parts->authority).empty()) return true;
  auto cs = ConnectionStringFor(options);
  std::optional<AzureConnectionString> conn;
  if (cs.ok()) conn = *cs;
  // endpoint_url alone is shared with S3; it points at Azure only together
  // with an Azure setting.
  bool azure_options = options.connection_string || options.account_name ||
                       options.account_key || options.sas_token;
  if (options.endpoint_url && azure_options &&
      UnderEndpoint(url, StripTrailingSlashes(*options.endpoint_url))) {
    return true;
  }
  return conn && UnderEndpoint(url, conn->blob_endpoint);
}

StatusOr<std::unique_ptr<Provider>> MakeAzureProvider(std::string_view url,
                                                      const Options& options) {
  auto parts = SplitUrl(url);
  if (!parts) {
    return InvalidArgumentError("not a valid Azure URL: " +
                                QuoteUntrusted(WithoutQuery(url)));
  }
  WS_ASSIGN_OR_RETURN(std::optional<AzureConnectionString> cs,
                      ConnectionStringFor(options));
  std::string configured = ConfiguredEndpoint(options, cs);

  Target target;
  std::string url_account;
  std::string url_sas;
  std::string display = WithoutQuery(url);
  if (parts->scheme == "az") {
    if (!parts->query.empty()) {
      return InvalidArgumentError(
          "az:// URLs take no query; pass a SAS as the sas_token option: " +
          QuoteUntrusted(display));
    }
    WS_ASSIGN_OR_RETURN(
        target, ParseTargetPath("/" + parts->authority + parts->path, url));
    target.az_scheme = true;
  } else if (parts->scheme == "http" || parts->scheme == "https") {
    url_sas = parts->query;
    std::string base = WithoutQuery(url);
    if (UnderEndpoint(base, configured)) {
      WS_ASSIGN_OR_RETURN(
          target, ParseTargetPath(
                      std::string_view(base).substr(configured.size()), url));
      target.endpoint = configured;
    } else {
      url_account = AccountFromHost(parts->authority);
      if (url_account.empty()) {
        return InvalidArgumentError(
            QuoteUntrusted(display) +
            " is neither an ACCOUNT.blob.core.windows.net URL nor under the "
            "configured blob endpoint");
      }
      WS_ASSIGN_OR_RETURN(target, ParseTargetPath(parts->path, url));
      target.endpoint = parts->scheme + "://" + parts->authority;
    }
  } else {
    return InvalidArgumentError("not an Azure URL (az://, https://): " +
                                QuoteUntrusted(display));
  }

  // Account.
  std::string account = url_account;
  std::string configured_account = options.account_name.value_or("");
  if (configured_account.empty() && cs) configured_account = cs->account_name;
  if (configured_account.empty()) {
    configured_account = Env("AZURE_STORAGE_ACCOUNT").value_or("");
  }
  if (account.empty()) account = configured_account;
  // A path-style endpoint (Azurite) names the account as its first segment.
  if (account.empty() && !target.endpoint.empty()) {
    auto ep = SplitUrl(target.endpoint);
    if (ep && ep->path.size() > 1) account = ep->path.substr(1);
  }
  if (target.endpoint.empty()) {
    if (!configured.empty()) {
      target.endpoint = configured;
    } else if (!account.empty()) {
      std::string protocol = cs ? cs->protocol : "https";
      std::string suffix = cs ? cs->endpoint_suffix : "core.windows.net";
      target.endpoint = protocol + "://" + account + ".blob." + suffix;
    } else {
      return InvalidArgumentError(
          QuoteUntrusted(display) +
          ": no Azure storage account: set AZURE_STORAGE_ACCOUNT or "
          "AZURE_STORAGE_CONNECTION_STRING, or pass account_name / "
          "connection_string / endpoint_url");
    }
  }
  // A key or SAS configured for another account must not be sent to this
  // one (https URLs name their account).
  bool configured_applies = url_account.empty() || configured_account.empty() ||
                            AsciiLower(configured_account) == url_account;

  // Credential.
  std::string key_text;
  std::string sas;
  const char* key_source = "";
  if (!options.anonymous) {
    if (!url_sas.empty()) {
      sas = url_sas;
    } else if (options.sas_token) {
      sas = *options.sas_token;
    } else if (options.account_key) {
      key_text = *options.account_key;
      key_source = "the account_key option";
    } else if (cs && configured_applies && !cs->account_key.empty()) {
      key_text = cs->account_key;
      key_source = "the connection string's AccountKey";
    } else if (cs && configured_applies &&
               !cs->shared_access_signature.empty()) {
      sas = cs->shared_access_signature;
    } else if (auto k = Env("AZURE_STORAGE_KEY"); k && configured_applies) {
      key_text = *k;
      key_source = "AZURE_STORAGE_KEY";
    } else if (auto k2 = Env("AZURE_STORAGE_ACCESS_KEY");
               k2 && configured_applies) {
      key_text = *k2;
      key_source = "AZURE_STORAGE_ACCESS_KEY";
    } else if (auto s = Env("AZURE_STORAGE_SAS_TOKEN");
               s && configured_applies) {
      sas = *s;
    }
  }
  if (!sas.empty() && sas.front() == '?') sas.erase(0, 1);
  std::string key;
  if (!key_text.empty()) {
    auto decoded = Base64Decode(key_text);
    if (!decoded || decoded->empty()) {
      return InvalidArgumentError(QuoteUntrusted(display) +
                                  ": the Azure account key from " + key_source +
                                  " is not valid base64");
    }
    if (account.empty()) {
      return InvalidArgumentError(QuoteUntrusted(display) +
                                  ": an account key needs an account name "
                                  "(account_name or AZURE_STORAGE_ACCOUNT)");
    }
    key = std::move(*decoded);
  }
  return std::unique_ptr<Provider>(new AzureProvider(
      std::move(target), std::move(account), std::move(key), std::move(sas),
      std::move(display), std::move(url_sas)));
}

}  // namespace weightstream::cloud
