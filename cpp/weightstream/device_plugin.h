// The core's side of a device plugin (plugin/device_plugin_abi.h): loading
// the library, checking its ABI and the driver, and a CopyEngine over it for
// the DeviceStager.
//
// Errors carry the plugin's ws_device_status as well as a Status, so callers
// can tell "no driver" from "out of memory" (DeviceStatus::device_code).
#ifndef WEIGHTSTREAM_DEVICE_PLUGIN_H_
#define WEIGHTSTREAM_DEVICE_PLUGIN_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpp/weightstream/device_stager.h"
#include "cpp/weightstream/plugin/device_plugin_abi.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// A Status plus the plugin's code (a ws_device_status; WS_DEVICE_OK if the
// error did not come from the plugin).
struct DeviceStatus {
  Status status;
  int32_t device_code = WS_DEVICE_OK;

  bool ok() const { return status.ok(); }
  static DeviceStatus Ok() { return DeviceStatus(); }
};

struct DeviceInfo {
  std::string name;
  int major = 0;
  int minor = 0;
  uint64_t total_memory = 0;
  uint64_t free_memory = 0;
  int async_engine_count = 0;
};

class DevicePlugin {
 public:
  // dlopen()s `path` (RTLD_NOW | RTLD_LOCAL), finds ws_device_plugin_v1,
  // checks ABI version and struct size, then init() (driver present and new
  // enough). Errors: kNotFound if the library cannot be loaded;
  // kInvalidArgument on an ABI mismatch (naming both versions and the package
  // to upgrade); the plugin's init error (device_code WS_DEVICE_NO_DRIVER /
  // WS_DEVICE_DRIVER_TOO_OLD).
  static DeviceStatus Load(const std::string& path,
                           std::shared_ptr<DevicePlugin>* out);

  ~DevicePlugin();
  DevicePlugin(const DevicePlugin&) = delete;
  DevicePlugin& operator=(const DevicePlugin&) = delete;

  const ws_device_plugin& api() const { return *api_; }
  const std::string& path() const { return path_; }
  std::string name() const { return api_->name; }
  std::string version() const { return api_->version; }
  int32_t driver_version() const { return driver_version_; }
  int32_t runtime_version() const { return api_->runtime_version; }

  DeviceStatus DeviceCount(int* count) const;
  DeviceStatus Info(int device, DeviceInfo* info) const;
  DeviceStatus MemInfo(int device, uint64_t* free_bytes,
                       uint64_t* total_bytes) const;
  DeviceStatus Alloc(int device, uint64_t bytes, uint64_t* address) const;
  DeviceStatus Free(int device, uint64_t address) const;
  DeviceStatus CopyToHost(int device, void* dst, uint64_t src,
                          uint64_t bytes) const;

  // Turns a plugin error into a DeviceStatus (code mapped to a StatusCode).
  static DeviceStatus FromError(const ws_device_error& error);

 private:
  DevicePlugin() = default;

  void* handle_ = nullptr;
  const ws_device_plugin* api_ = nullptr;
  std::string path_;
  int32_t driver_version_ = 0;
};

// A CopyEngine on one device through a plugin: `streams` streams, one event
// per ring slot, the ring in pinned host memory.
class PluginCopyEngine : public CopyEngine {
 public:
  PluginCopyEngine(std::shared_ptr<DevicePlugin> plugin, int device,
                   int streams);
  ~PluginCopyEngine() override;

  std::string device_name() const override;
  int streams() const override { return num_streams_; }
  StatusOr<void*> Prepare(int slots, uint64_t staging_bytes) override;
  void Release(void* staging) override;
  Status CopyAsync(int stream, int slot, uint64_t dst, const void* src,
                   uint64_t bytes) override;
  Status Wait(int slot) override;

  // The plugin's code for the first copy that failed (WS_DEVICE_OK if none):
  // tells a device error from a read error in the stager's Status.
  int32_t first_device_error() const { return first_error_.load(); }

 private:
  void DestroyAll();
  Status Record(const ws_device_error& e);

  std::shared_ptr<DevicePlugin> plugin_;
  const int device_;
  const int num_streams_;
  std::vector<ws_device_stream*> streams_;
  std::vector<ws_device_event*> events_;
  std::atomic<int32_t> first_error_{WS_DEVICE_OK};
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_DEVICE_PLUGIN_H_
