// The real CUDA plugin, loaded as the core loads it. Without a driver (CI,
// the build machines) it must say so cleanly; with a GPU it must copy every
// byte. Which of the two applies is decided by whether libcuda.so.1 loads.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cpp/weightstream/device_plugin.h"
#include "cpp/weightstream/device_stager.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;

std::string PluginPath() {
  const char* dir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return std::string(dir ? dir : ".") + "/" + (ws ? ws : "weightstream") +
         "/cpp/plugins/cuda/libweightstream_cuda.so";
}

bool DriverPresent() {
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h != nullptr) dlclose(h);
  return h != nullptr;
}

TEST(CudaPluginTest, LoadsOrReportsNoDriverCleanly) {
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st = DevicePlugin::Load(PluginPath(), &plugin);
  if (!DriverPresent()) {
    EXPECT_EQ(st.device_code, WS_DEVICE_NO_DRIVER) << st.status.ToString();
    EXPECT_EQ(st.status.code(), StatusCode::kNotFound);
    EXPECT_THAT(st.status.message(), HasSubstr("no CUDA driver"));
    EXPECT_THAT(st.status.message(), HasSubstr("libcuda.so.1"));
    EXPECT_THAT(st.status.message(), HasSubstr("weightstream-cuda13"));
    EXPECT_EQ(plugin, nullptr);
    return;
  }
  // A driver: the plugin loads unless the driver is too old for CUDA 13.
  if (!st.ok()) {
    EXPECT_EQ(st.device_code, WS_DEVICE_DRIVER_TOO_OLD) << st.status.ToString();
    return;
  }
  EXPECT_EQ(plugin->name(), "weightstream-cuda13");
  EXPECT_GE(plugin->driver_version(), 13000);
  EXPECT_EQ(plugin->runtime_version() / 1000, 13);
}

TEST(CudaPluginTest, CopiesEveryByteToTheGpu) {
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st = DevicePlugin::Load(PluginPath(), &plugin);
  if (!st.ok())
    GTEST_SKIP() << "no usable CUDA driver: " << st.status.ToString();
  int count = 0;
  if (!plugin->DeviceCount(&count).ok() || count == 0) {
    GTEST_SKIP() << "no CUDA device";
  }
  std::mt19937 rng(5);
  std::string bytes(64 << 20, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  auto source = std::make_shared<MemorySource>("m.safetensors", bytes);
  uint64_t device = 0;
  ASSERT_TRUE(plugin->Alloc(0, bytes.size(), &device).ok());
  std::vector<DeviceCopy> copies;
  uint64_t off = 0;
  for (size_t i = 0; off < bytes.size(); ++i) {
    uint64_t len =
        std::min<uint64_t>(bytes.size() - off, 1 + rng() % (9 << 20));
    copies.push_back(DeviceCopy{source, off, len, device + off, i, "t"});
    off += len;
  }
  PluginCopyEngine engine(plugin, 0, 4);
  DeviceStager stager(&engine, DeviceStagerOptions{4, 4 << 20, 0});
  ASSERT_TRUE(stager.Start(copies).ok());
  size_t n = 0;
  for (;;) {
    StatusOr<std::optional<size_t>> next = stager.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, copies.size());
  std::string back(bytes.size(), '\0');
  ASSERT_TRUE(plugin->CopyToHost(0, back.data(), device, back.size()).ok());
  EXPECT_TRUE(back == bytes);
  EXPECT_TRUE(plugin->Free(0, device).ok());
  uint64_t huge = 0;
  DeviceStatus oom = plugin->Alloc(0, 1ull << 50, &huge);
  EXPECT_EQ(oom.device_code, WS_DEVICE_OUT_OF_MEMORY);
  EXPECT_THAT(oom.status.message(), HasSubstr("out of memory allocating"));
}

}  // namespace
}  // namespace weightstream
