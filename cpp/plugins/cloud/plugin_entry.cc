// The plugin's C entry point (source_plugin_abi.h): the ws_source_plugin
// table over the providers and the libcurl transport. Nothing but
// ws_source_plugin_v1 is exported (exports.lds); no C++ exception crosses
// the C boundary.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cpp/plugins/cloud/azure_provider.h"
#include "cpp/plugins/cloud/errors.h"
#include "cpp/plugins/cloud/http_transport.h"
#include "cpp/plugins/cloud/options.h"
#include "cpp/plugins/cloud/provider.h"
#include "cpp/weightstream/plugin/source_plugin_abi.h"

// Keep in step with MODULE.bazel's version (the wheel's version).
#define WS_CLOUD_VERSION "0.1.0"

struct ws_source {
  std::unique_ptr<weightstream::cloud::Provider> provider;
  std::unique_ptr<weightstream::cloud::CurlTransport> transport;
  weightstream::cloud::ObjectInfo info;
};

namespace weightstream::cloud {
namespace {

constexpr uint64_t kPreferredReadBytes = 8 << 20;
constexpr uint32_t kPreferredConcurrency = 16;

struct ListingBox : ws_listing {
  std::vector<std::string> urls;
  std::vector<ws_object_entry> items;
};

int32_t CodeFor(const Status& s) {
  if (IsChanged(s)) return WS_CHANGED;
  switch (s.code()) {
    case StatusCode::kOk:
      return WS_OK;
    case StatusCode::kInvalidArgument:
      return WS_INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return WS_NOT_FOUND;
    case StatusCode::kPermissionDenied:
      return WS_PERMISSION_DENIED;
    case StatusCode::kFormat:
      return WS_FORMAT;
    case StatusCode::kIo:
      return WS_IO;
    case StatusCode::kResourceExhausted:
      return WS_RESOURCE_EXHAUSTED;
    case StatusCode::kCancelled:
      return WS_CANCELLED;
    case StatusCode::kInternal:
      return WS_INTERNAL;
  }
  return WS_INTERNAL;
}

int32_t Report(const Status& s, ws_error* error) {
  const int32_t code = CodeFor(s);
  if (error != nullptr) {
    error->code = code;
    error->http_status = s.http_status();
    const std::string& m = s.message();
    const size_t n = std::min(m.size(), sizeof(error->message) - 1);
    std::memcpy(error->message, m.data(), n);
    error->message[n] = '\0';
  }
  return code;
}

// Runs `body`, turning an escaping exception into an error code.
template <typename F>
int32_t Guard(ws_error* error, F body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Report(ResourceExhaustedError("weightstream-cloud: out of memory"),
                  error);
  } catch (...) {
    return Report(InternalError("weightstream-cloud: unexpected exception"),
                  error);
  }
}

std::string SchemeOf(std::string_view url) {
  const size_t sep = url.find("://");
  std::string scheme;
  if (sep == std::string_view::npos) return scheme;
  for (char c : url.substr(0, sep)) {
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return scheme;
}

StatusOr<std::unique_ptr<Provider>> MakeProvider(std::string_view url,
                                                 const Options& options,
                                                 HttpTransport& transport) {
  const std::string scheme = SchemeOf(url);
  if (scheme == "s3") return MakeS3Provider(url, options);
  if (scheme == "gs") return MakeGcsProvider(url, options, transport);
  if (scheme == "az") return MakeAzureProvider(url, options);
  // Azure Blob over https (*.blob.core.windows.net, or under a configured
  // blob endpoint such as Azurite's): signed by the Azure provider.
  if ((scheme == "http" || scheme == "https") && IsAzureBlobUrl(url, options)) {
    return MakeAzureProvider(url, options);
  }
  if (scheme == "http" || scheme == "https") {
    return MakeHttpProvider(url, options);
  }
  return InvalidArgumentError(
      "weightstream-cloud serves http, https, s3, gs and az URLs, not " +
      QuoteUntrusted(scheme.empty() ? std::string(url.substr(0, 16)) : scheme));
}

// A transport error (which names the request URL) prefixed with the object
// the user asked for, unless it already starts with it.
Status WithObject(const Provider& provider, const Status& s) {
  if (s.message().rfind(provider.DisplayName(), 0) == 0) return s;
  Status out(s.code(), provider.DisplayName() + ": " + s.message());
  out.set_os_errno(s.os_errno());
  out.set_http_status(s.http_status());
  return out;
}

int32_t Open(const char* url, const char* options_json, ws_source** out,
             ws_error* error) {
  return Guard(error, [&]() -> int32_t {
    *out = nullptr;
    auto options = ParseOptions(options_json == nullptr ? "{}" : options_json);
    if (!options.ok()) return Report(options.status(), error);
    auto source = std::make_unique<ws_source>();
    source->transport =
        std::make_unique<CurlTransport>(TransportConfigFrom(*options));
    auto provider = MakeProvider(url, *options, *source->transport);
    if (!provider.ok()) return Report(provider.status(), error);
    source->provider = std::move(provider).value();
    auto info = source->provider->Stat(*source->transport);
    if (!info.ok()) {
      return Report(WithObject(*source->provider, info.status()), error);
    }
    source->info = std::move(info).value();
    *out = source.release();
    return WS_OK;
  });
}

uint64_t Size(const ws_source* source) { return source->info.size; }

const char* DisplayName(const ws_source* source) {
  return source->provider->DisplayName().c_str();
}

int32_t ReadAt(ws_source* source, uint64_t offset, void* dst, uint64_t length,
               ws_error* error) {
  return Guard(error, [&]() -> int32_t {
    if (length == 0) return WS_OK;
    Provider& provider = *source->provider;
    auto request = provider.RangeRequest(source->info, offset, length);
    if (!request.ok()) return Report(request.status(), error);
    auto response = source->transport->ReadRange(
        *request, offset, length, source->info.size, source->info.version,
        static_cast<char*>(dst));
    if (!response.ok()) {
      return Report(WithObject(provider, response.status()), error);
    }
    if (response->status < 200 || response->status >= 300) {
      return Report(
          provider.ErrorFor(*response, "reading " + RangeText(offset, length)),
          error);
    }
    return WS_OK;
  });
}

uint64_t PreferredReadBytes(const ws_source*) { return kPreferredReadBytes; }
uint32_t PreferredConcurrency(const ws_source*) {
  return kPreferredConcurrency;
}

void Close(ws_source* source) { delete source; }

int32_t List(const char* url_prefix, const char* options_json, ws_listing** out,
             ws_error* error) {
  return Guard(error, [&]() -> int32_t {
    *out = nullptr;
    auto options = ParseOptions(options_json == nullptr ? "{}" : options_json);
    if (!options.ok()) return Report(options.status(), error);
    CurlTransport transport(TransportConfigFrom(*options));
    auto provider = MakeProvider(url_prefix, *options, transport);
    if (!provider.ok()) return Report(provider.status(), error);
    auto listed = (*provider)->List(transport);
    if (!listed.ok()) {
      return Report(WithObject(**provider, listed.status()), error);
    }
    auto box = std::make_unique<ListingBox>();
    box->urls.reserve(listed->size());
    box->items.reserve(listed->size());
    for (auto& object : *listed) {
      box->urls.push_back(std::move(object.url));
      box->items.push_back({box->urls.back().c_str(), object.size});
    }
    box->entries = box->items.data();
    box->count = box->items.size();
    *out = box.release();
    return WS_OK;
  });
}

void FreeListing(ws_listing* listing) {
  delete static_cast<ListingBox*>(listing);
}

const char* const kSchemes[] = {"http", "https", "s3", "gs", "az", nullptr};

const ws_source_plugin kPlugin = {
    sizeof(ws_source_plugin),
    WS_SOURCE_PLUGIN_ABI_VERSION,
    "weightstream-cloud",
    WS_CLOUD_VERSION,
    kSchemes,
    &Open,
    &Size,
    &DisplayName,
    &ReadAt,
    &PreferredReadBytes,
    &PreferredConcurrency,
    &Close,
    &List,
    &FreeListing,
};

}  // namespace
}  // namespace weightstream::cloud

extern "C" __attribute__((visibility("default"))) const ws_source_plugin*
ws_source_plugin_v1(uint32_t core_abi_version) {
  // The table only grows (struct_size tells a newer core where it ends), so
  // any core that speaks version 1 or later can use it.
  if (core_abi_version < 1) return nullptr;
  return &weightstream::cloud::kPlugin;
}
