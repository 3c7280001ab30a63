// Tests for the core's device plugin loader and PluginCopyEngine against a
// fake plugin (fake_device_plugin.cc): a real shared library through dlopen,
// with host memory standing in for device memory. Runs without CUDA.
#include "cpp/weightstream/device_plugin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cpp/weightstream/device_stager.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;

std::string Runfile(const std::string& name) {
  const char* dir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return std::string(dir ? dir : ".") + "/" + (ws ? ws : "weightstream") +
         "/cpp/weightstream/" + name;
}

class DevicePluginTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("WS_FAKE_DEVICE_MODE"); }
  void TearDown() override { unsetenv("WS_FAKE_DEVICE_MODE"); }
};

TEST_F(DevicePluginTest, LoadsAndReportsTheDevice) {
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st =
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin);
  ASSERT_TRUE(st.ok()) << st.status.ToString();
  EXPECT_EQ(plugin->name(), "weightstream-fake-device");
  EXPECT_EQ(plugin->driver_version(), 13000);
  int count = 0;
  ASSERT_TRUE(plugin->DeviceCount(&count).ok());
  EXPECT_EQ(count, 1);
  DeviceInfo info;
  ASSERT_TRUE(plugin->Info(0, &info).ok());
  EXPECT_EQ(info.name, "weightstream fake device");
  DeviceStatus bad = plugin->Info(3, &info);
  EXPECT_EQ(bad.device_code, WS_DEVICE_INVALID_DEVICE);
  EXPECT_EQ(bad.status.code(), StatusCode::kNotFound);
  EXPECT_THAT(bad.status.message(), HasSubstr("fake:3 does not exist"));
}

TEST_F(DevicePluginTest, NoDriverIsAClearError) {
  setenv("WS_FAKE_DEVICE_MODE", "no_driver", 1);
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st =
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin);
  EXPECT_EQ(st.device_code, WS_DEVICE_NO_DRIVER);
  EXPECT_THAT(st.status.message(), HasSubstr("no CUDA driver"));
  EXPECT_EQ(plugin, nullptr);
}

TEST_F(DevicePluginTest, OldDriverNamesBothVersions) {
  setenv("WS_FAKE_DEVICE_MODE", "old_driver", 1);
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st =
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin);
  EXPECT_EQ(st.device_code, WS_DEVICE_DRIVER_TOO_OLD);
  EXPECT_THAT(st.status.message(), HasSubstr("CUDA 12.4"));
  EXPECT_THAT(st.status.message(), HasSubstr("CUDA 13.0"));
}

TEST_F(DevicePluginTest, AbiMismatchNamesBothVersionsAndThePackage) {
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st =
      DevicePlugin::Load(Runfile("libws_fake_device_abi99.so"), &plugin);
  EXPECT_EQ(st.status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status.message(), HasSubstr("ABI version 99"));
  EXPECT_THAT(st.status.message(), HasSubstr("needs version 1"));
  EXPECT_THAT(st.status.message(), HasSubstr("weightstream-cuda13"));
}

TEST_F(DevicePluginTest, MissingLibrary) {
  std::shared_ptr<DevicePlugin> plugin;
  DeviceStatus st = DevicePlugin::Load("/nonexistent/libx.so", &plugin);
  EXPECT_EQ(st.status.code(), StatusCode::kNotFound);
  EXPECT_THAT(st.status.message(), HasSubstr("/nonexistent/libx.so"));
}

TEST_F(DevicePluginTest, OutOfMemoryReportsSizes) {
  std::shared_ptr<DevicePlugin> plugin;
  ASSERT_TRUE(
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin).ok());
  uint64_t address = 0;
  DeviceStatus st = plugin->Alloc(0, 5ull << 30, &address);
  EXPECT_EQ(st.device_code, WS_DEVICE_OUT_OF_MEMORY);
  EXPECT_EQ(st.status.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(st.status.message(), HasSubstr("5368709120 bytes"));
}

TEST_F(DevicePluginTest, StagerThroughThePluginCopiesEveryByte) {
  std::shared_ptr<DevicePlugin> plugin;
  ASSERT_TRUE(
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin).ok());
  std::mt19937 rng(3);
  std::string bytes(3 << 20, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  auto source = std::make_shared<MemorySource>("m.safetensors", bytes);
  uint64_t device = 0;
  ASSERT_TRUE(plugin->Alloc(0, bytes.size(), &device).ok());
  std::vector<DeviceCopy> copies;
  uint64_t sizes[] = {1, 1000000, 0, 65536, 2000000, 79};
  uint64_t off = 0;
  for (size_t i = 0; i < 6; ++i) {
    copies.push_back(DeviceCopy{source, off, sizes[i], device + off, i, "t"});
    off += sizes[i];
  }
  PluginCopyEngine engine(plugin, 0, 2);
  DeviceStager stager(&engine, DeviceStagerOptions{3, 256 << 10, 0});
  ASSERT_TRUE(stager.Start(copies).ok());
  size_t n = 0;
  for (;;) {
    StatusOr<std::optional<size_t>> next = stager.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 6u);
  std::string back(off, '\0');
  ASSERT_TRUE(plugin->CopyToHost(0, back.data(), device, off).ok());
  EXPECT_EQ(back, bytes.substr(0, off));
  EXPECT_TRUE(plugin->Free(0, device).ok());
}

TEST_F(DevicePluginTest, CopyErrorReachesTheCaller) {
  std::shared_ptr<DevicePlugin> plugin;
  ASSERT_TRUE(
      DevicePlugin::Load(Runfile("libws_fake_device.so"), &plugin).ok());
  setenv("WS_FAKE_DEVICE_MODE", "copy_error", 1);
  auto source = std::make_shared<MemorySource>("m.safetensors",
                                               std::string(1 << 20, 'x'));
  uint64_t device = 0;
  ASSERT_TRUE(plugin->Alloc(0, 1 << 20, &device).ok());
  PluginCopyEngine engine(plugin, 0, 1);
  DeviceStager stager(&engine, DeviceStagerOptions{2, 64 << 10, 4});
  ASSERT_TRUE(
      stager.Start({DeviceCopy{source, 0, 1 << 20, device, 0, "w"}}).ok());
  StatusOr<std::optional<size_t>> next = stager.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(),
              HasSubstr("cuda:0: copying tensor 'w' of m.safetensors"));
  EXPECT_THAT(next.status().message(), HasSubstr("illegal memory access"));
  EXPECT_TRUE(plugin->Free(0, device).ok());
}

}  // namespace
}  // namespace weightstream
