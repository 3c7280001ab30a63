#include "cpp/weightstream/device_plugin.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstring>
#include <utility>

namespace weightstream {
namespace {

// The last member the core reads; a plugin whose struct ends before it is
// too old for this core.
constexpr size_t kMinStructSize =
    offsetof(ws_device_plugin, status_name) + sizeof(void*);

StatusCode CodeFor(int32_t device_code) {
  switch (device_code) {
    case WS_DEVICE_OK:
      return StatusCode::kOk;
    case WS_DEVICE_NO_DRIVER:
    case WS_DEVICE_NO_DEVICE:
    case WS_DEVICE_INVALID_DEVICE:
      return StatusCode::kNotFound;
    case WS_DEVICE_DRIVER_TOO_OLD:
    case WS_DEVICE_INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case WS_DEVICE_OUT_OF_MEMORY:
    case WS_DEVICE_HOST_OUT_OF_MEMORY:
      return StatusCode::kResourceExhausted;
    default:
      return StatusCode::kIo;
  }
}

ws_device_error NewError() {
  ws_device_error e;
  e.code = WS_DEVICE_OK;
  e.native_code = 0;
  e.message[0] = '\0';
  return e;
}

}  // namespace

DeviceStatus DevicePlugin::FromError(const ws_device_error& error) {
  if (error.code == WS_DEVICE_OK) return DeviceStatus::Ok();
  std::string message(error.message,
                      strnlen(error.message, sizeof(error.message)));
  if (message.empty())
    message = "device plugin error " + std::to_string(error.code);
  return DeviceStatus{Status(CodeFor(error.code), std::move(message)),
                      error.code};
}

DeviceStatus DevicePlugin::Load(const std::string& path,
                                std::shared_ptr<DevicePlugin>* out) {
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return DeviceStatus{
        NotFoundError("cannot load the device plugin " + path + ": " +
                      (why != nullptr ? why : "unknown error")),
        WS_DEVICE_OK};
  }
  std::shared_ptr<DevicePlugin> plugin(new DevicePlugin());
  plugin->handle_ = handle;
  plugin->path_ = path;
  auto entry = reinterpret_cast<ws_device_plugin_entry_fn>(
      dlsym(handle, WS_DEVICE_PLUGIN_ENTRY));
  if (entry == nullptr) {
    return DeviceStatus{
        InvalidArgumentError(path + " is not a weightstream device plugin: it "
                                    "does not export " WS_DEVICE_PLUGIN_ENTRY),
        WS_DEVICE_OK};
  }
  const ws_device_plugin* api = entry(WS_DEVICE_PLUGIN_ABI_VERSION);
  if (api == nullptr) {
    return DeviceStatus{
        InvalidArgumentError(
            path + " does not support device plugin ABI version " +
            std::to_string(WS_DEVICE_PLUGIN_ABI_VERSION) +
            " of this weightstream: install the weightstream-cuda13 release "
            "that matches weightstream (pip install -U weightstream "
            "weightstream-cuda13)"),
        WS_DEVICE_OK};
  }
  if (api->abi_version != WS_DEVICE_PLUGIN_ABI_VERSION ||
      api->struct_size < kMinStructSize) {
    return DeviceStatus{
        InvalidArgumentError(
            path + " implements device plugin ABI version " +
            std::to_string(api->abi_version) + " (" +
            std::to_string(api->struct_size) +
            "-byte table), but this weightstream needs version " +
            std::to_string(WS_DEVICE_PLUGIN_ABI_VERSION) +
            ": install matching releases (pip install -U weightstream "
            "weightstream-cuda13)"),
        WS_DEVICE_OK};
  }
  plugin->api_ = api;
  ws_device_error error = NewError();
  if (api->init(&plugin->driver_version_, &error) != WS_DEVICE_OK) {
    return FromError(error);
  }
  *out = std::move(plugin);
  return DeviceStatus::Ok();
}

DevicePlugin::~DevicePlugin() {
  // Never dlclose: the CUDA runtime inside keeps threads and atexit handlers.
}

DeviceStatus DevicePlugin::DeviceCount(int* count) const {
  ws_device_error e = NewError();
  int32_t n = 0;
  api_->device_count(&n, &e);
  *count = n;
  return FromError(e);
}

DeviceStatus DevicePlugin::Info(int device, DeviceInfo* info) const {
  ws_device_error e = NewError();
  ws_device_properties p;
  std::memset(&p, 0, sizeof(p));
  p.struct_size = sizeof(p);
  if (api_->device_properties(device, &p, &e) != WS_DEVICE_OK) {
    return FromError(e);
  }
  info->name.assign(p.name, strnlen(p.name, sizeof(p.name)));
  info->major = p.major;
  info->minor = p.minor;
  info->total_memory = p.total_memory;
  info->free_memory = p.free_memory;
  info->async_engine_count = p.async_engine_count;
  return DeviceStatus::Ok();
}

DeviceStatus DevicePlugin::MemInfo(int device, uint64_t* free_bytes,
                                   uint64_t* total_bytes) const {
  ws_device_error e = NewError();
  api_->mem_get_info(device, free_bytes, total_bytes, &e);
  return FromError(e);
}

DeviceStatus DevicePlugin::Alloc(int device, uint64_t bytes,
                                 uint64_t* address) const {
  ws_device_error e = NewError();
  api_->device_alloc(device, bytes, address, &e);
  return FromError(e);
}

DeviceStatus DevicePlugin::Free(int device, uint64_t address) const {
  ws_device_error e = NewError();
  api_->device_free(device, address, &e);
  return FromError(e);
}

DeviceStatus DevicePlugin::CopyToHost(int device, void* dst, uint64_t src,
                                      uint64_t bytes) const {
  ws_device_error e = NewError();
  api_->copy_d2h(device, dst, src, bytes, &e);
  return FromError(e);
}

PluginCopyEngine::PluginCopyEngine(std::shared_ptr<DevicePlugin> plugin,
                                   int device, int streams)
    : plugin_(std::move(plugin)),
      device_(device),
      num_streams_(streams < 1 ? 1 : streams) {}

PluginCopyEngine::~PluginCopyEngine() { DestroyAll(); }

void PluginCopyEngine::DestroyAll() {
  const ws_device_plugin& api = plugin_->api();
  for (ws_device_event* e : events_) api.event_destroy(e);
  for (ws_device_stream* s : streams_) api.stream_destroy(s);
  events_.clear();
  streams_.clear();
}

std::string PluginCopyEngine::device_name() const {
  return std::string(plugin_->api().platform) + ":" + std::to_string(device_);
}

StatusOr<void*> PluginCopyEngine::Prepare(int slots, uint64_t staging_bytes) {
  const ws_device_plugin& api = plugin_->api();
  ws_device_error e = NewError();
  DestroyAll();
  for (int i = 0; i < num_streams_; ++i) {
    ws_device_stream* s = nullptr;
    if (api.stream_create(device_, &s, &e) != WS_DEVICE_OK) {
      return Record(e);
    }
    streams_.push_back(s);
  }
  for (int i = 0; i < slots; ++i) {
    ws_device_event* ev = nullptr;
    if (api.event_create(device_, &ev, &e) != WS_DEVICE_OK) {
      return Record(e);
    }
    events_.push_back(ev);
  }
  void* staging = nullptr;
  if (api.host_alloc_pinned(staging_bytes, &staging, &e) != WS_DEVICE_OK) {
    return Record(e);
  }
  return staging;
}

void PluginCopyEngine::Release(void* staging) {
  plugin_->api().host_free_pinned(staging);
}

Status PluginCopyEngine::CopyAsync(int stream, int slot, uint64_t dst,
                                   const void* src, uint64_t bytes) {
  ws_device_error e = NewError();
  plugin_->api().copy_h2d_async(streams_.at(stream), dst, src, bytes,
                                events_.at(slot), &e);
  return Record(e);
}

Status PluginCopyEngine::Record(const ws_device_error& e) {
  if (e.code != WS_DEVICE_OK) {
    int32_t none = WS_DEVICE_OK;
    first_error_.compare_exchange_strong(none, e.code);
  }
  return DevicePlugin::FromError(e).status;
}

Status PluginCopyEngine::Wait(int slot) {
  ws_device_error e = NewError();
  plugin_->api().event_wait(events_.at(slot), &e);
  return Record(e);
}

}  // namespace weightstream
