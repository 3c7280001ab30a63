#include "cpp/weightstream/plugin/source_plugin.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace weightstream {
namespace {

// The members a version-1 plugin must provide: everything up to and
// including free_listing.
constexpr size_t kV1StructSize =
    offsetof(ws_source_plugin, free_listing) + sizeof(void*);

StatusCode CodeFor(int32_t code) {
  switch (code) {
    case WS_INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case WS_NOT_FOUND:
      return StatusCode::kNotFound;
    case WS_PERMISSION_DENIED:
      return StatusCode::kPermissionDenied;
    case WS_FORMAT:
      return StatusCode::kFormat;
    case WS_IO:
    case WS_CHANGED:
      return StatusCode::kIo;
    case WS_RESOURCE_EXHAUSTED:
      return StatusCode::kResourceExhausted;
    case WS_CANCELLED:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kInternal;
  }
}

ws_error EmptyError() {
  ws_error e;
  e.code = WS_OK;
  e.http_status = 0;
  e.message[0] = '\0';
  return e;
}

class PluginSource : public Source {
 public:
  // `api` lives as long as the process: plugins are never unloaded.
  PluginSource(const ws_source_plugin* api, ws_source* source)
      : api_(api), source_(source) {
    const char* display = api_->display_name(source_);
    name_ = display != nullptr ? display : "(unnamed remote object)";
    size_ = api_->size(source_);
    preferred_read_bytes_ = api_->preferred_read_bytes(source_);
    preferred_concurrency_ = api_->preferred_concurrency(source_);
  }
  ~PluginSource() override { api_->close(source_); }
  PluginSource(const PluginSource&) = delete;
  PluginSource& operator=(const PluginSource&) = delete;

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return size_; }
  uint64_t PreferredReadBytes() const override { return preferred_read_bytes_; }
  uint32_t PreferredConcurrency() const override {
    return preferred_concurrency_;
  }

  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    if (!RangeWithin(offset, length, size_)) {
      return InvalidArgumentError(
          name_ + ": read of " + std::to_string(length) + " bytes at offset " +
          std::to_string(offset) + " is outside the object (" +
          std::to_string(size_) + " bytes)");
    }
    if (length == 0) return Status::Ok();
    ws_error error = EmptyError();
    const int32_t code = api_->read_at(source_, offset, dst, length, &error);
    if (code == WS_OK) return Status::Ok();
    Status s = StatusFromPluginError(code, error);
    if (code == WS_CHANGED) {
      // Whatever the plugin says, the caller must learn that the object
      // changed and that no mixed data was returned.
      const bool said = s.message().find("changed while") != std::string::npos;
      return Status(StatusCode::kIo,
                    s.message() +
                        (said ? " (nothing read from it was kept)"
                              : " (the object changed while it was being "
                                "read; nothing read from it was kept)"))
          .set_http_status(s.http_status());
    }
    return s;
  }

 private:
  const ws_source_plugin* api_;
  ws_source* source_;
  std::string name_;
  uint64_t size_ = 0;
  uint64_t preferred_read_bytes_ = 0;
  uint32_t preferred_concurrency_ = 0;
};

std::mutex& CacheMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

std::map<std::string, std::shared_ptr<SourcePlugin>>& Cache() {
  static auto* cache = new std::map<std::string, std::shared_ptr<SourcePlugin>>;
  return *cache;
}

}  // namespace

Status StatusFromPluginError(int32_t code, const ws_error& error) {
  // The message array is the plugin's to fill; never trust its terminator.
  const size_t n = strnlen(error.message, sizeof(error.message));
  std::string message(error.message, n);
  if (message.empty()) {
    message = "source plugin error " + std::to_string(code);
  }
  Status s(CodeFor(code), std::move(message));
  s.set_http_status(error.http_status);
  return s;
}

StatusOr<std::shared_ptr<SourcePlugin>> SourcePlugin::Load(
    const std::string& path) {
  std::lock_guard<std::mutex> lock(CacheMutex());
  auto cached = Cache().find(path);
  if (cached != Cache().end()) return cached->second;

  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return OsError(errno, "source plugin " + path);
  }
  // RTLD_LOCAL: the plugin's libcurl/OpenSSL symbols must not interpose on
  // the host's (e.g. Python's own _ssl); RTLD_NOW: a missing symbol is a load
  // error now, not a crash mid-read.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return InvalidArgumentError("cannot load source plugin " + path + ": " +
                                (why != nullptr ? why : "unknown error"));
  }
  ::dlerror();
  auto entry = reinterpret_cast<ws_source_plugin_entry_fn>(
      ::dlsym(handle, WS_SOURCE_PLUGIN_ENTRY));
  if (entry == nullptr) {
    return InvalidArgumentError(path +
                                " is not a weightstream source plugin: "
                                "it exports no " WS_SOURCE_PLUGIN_ENTRY);
  }
  const std::string core_abi = std::to_string(WS_SOURCE_PLUGIN_ABI_VERSION);
  const ws_source_plugin* api = entry(WS_SOURCE_PLUGIN_ABI_VERSION);
  if (api == nullptr) {
    return InvalidArgumentError(
        "the source plugin " + path +
        " cannot serve this weightstream core "
        "(plugin ABI version " +
        core_abi +
        "): install the plugin release "
        "that matches this weightstream version (e.g. pip install -U "
        "weightstream weightstream-cloud)");
  }
  const std::string name = api->name != nullptr ? api->name : "(unnamed)";
  const std::string version = api->version != nullptr ? api->version : "?";
  if (api->abi_version != WS_SOURCE_PLUGIN_ABI_VERSION ||
      api->struct_size < kV1StructSize) {
    const bool plugin_older = api->abi_version < WS_SOURCE_PLUGIN_ABI_VERSION ||
                              api->struct_size < kV1StructSize;
    return InvalidArgumentError(
        "source plugin " + name + " " + version + " (" + path +
        ") speaks plugin ABI version " + std::to_string(api->abi_version) +
        " (struct of " + std::to_string(api->struct_size) +
        " bytes), but this weightstream core speaks version " + core_abi +
        ": upgrade " + (plugin_older ? name : std::string("weightstream")) +
        " (pip install -U " + (plugin_older ? name : "weightstream") + ")");
  }
  if (api->open == nullptr || api->size == nullptr ||
      api->display_name == nullptr || api->read_at == nullptr ||
      api->preferred_read_bytes == nullptr ||
      api->preferred_concurrency == nullptr || api->close == nullptr ||
      api->list == nullptr || api->free_listing == nullptr ||
      api->schemes == nullptr) {
    return InvalidArgumentError("source plugin " + name + " " + version + " (" +
                                path +
                                ") leaves required entries "
                                "of its function table empty");
  }

  std::shared_ptr<SourcePlugin> plugin(new SourcePlugin());
  plugin->path_ = path;
  plugin->name_ = name;
  plugin->version_ = version;
  plugin->abi_version_ = api->abi_version;
  for (const char* const* s = api->schemes; *s != nullptr; ++s) {
    plugin->schemes_.emplace_back(*s);
  }
  std::memcpy(&plugin->api_, api,
              std::min<size_t>(api->struct_size, sizeof(ws_source_plugin)));
  // `handle` is deliberately never closed (see the header).
  Cache().emplace(path, plugin);
  return plugin;
}

bool SourcePlugin::Serves(const std::string& scheme) const {
  for (const std::string& s : schemes_) {
    if (s == scheme) return true;
  }
  return false;
}

StatusOr<std::shared_ptr<Source>> SourcePlugin::Open(
    const std::string& url, const std::string& options_json) const {
  ws_source* source = nullptr;
  ws_error error = EmptyError();
  const int32_t code =
      api_.open(url.c_str(), options_json.empty() ? "{}" : options_json.c_str(),
                &source, &error);
  if (code != WS_OK) return StatusFromPluginError(code, error);
  if (source == nullptr) {
    return InternalError("source plugin " + name_ +
                         " reported success but returned no object");
  }
  return std::shared_ptr<Source>(std::make_shared<PluginSource>(&api_, source));
}

StatusOr<std::vector<ListedObject>> SourcePlugin::List(
    const std::string& url_prefix, const std::string& options_json) const {
  ws_listing* listing = nullptr;
  ws_error error = EmptyError();
  const int32_t code = api_.list(
      url_prefix.c_str(), options_json.empty() ? "{}" : options_json.c_str(),
      &listing, &error);
  if (code != WS_OK) return StatusFromPluginError(code, error);
  std::vector<ListedObject> out;
  if (listing == nullptr) return out;
  out.reserve(listing->count);
  for (size_t i = 0; i < listing->count; ++i) {
    const ws_object_entry& e = listing->entries[i];
    out.push_back(ListedObject{e.url != nullptr ? e.url : "", e.size});
  }
  api_.free_listing(listing);
  return out;
}

}  // namespace weightstream
