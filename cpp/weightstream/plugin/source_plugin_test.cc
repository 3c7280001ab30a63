// Tests for the source plugin loader against real plugin libraries
// (test_plugin.cc built three ways), loaded with dlopen.
#include "cpp/weightstream/plugin/source_plugin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpp/weightstream/safetensors.h"
#include "cpp/weightstream/tensor_streamer.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::SafetensorsBytes;
using ::weightstream::testing::WriteTempFile;

std::string Runfile(const std::string& name) {
  char resolved[PATH_MAX];
  const std::string rel = "cpp/weightstream/plugin/" + name;
  if (::realpath(rel.c_str(), resolved) == nullptr) return rel;
  return resolved;
}

std::shared_ptr<SourcePlugin> TestPlugin() {
  auto plugin = SourcePlugin::Load(Runfile("libws_test_plugin.so"));
  EXPECT_TRUE(plugin.ok()) << plugin.status().message();
  return plugin.ok() ? plugin.value() : nullptr;
}

TEST(SourcePluginTest, LoadsAndDescribesItself) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name(), "weightstream-testplugin");
  EXPECT_EQ(plugin->version(), "0.0.1");
  EXPECT_EQ(plugin->abi_version(), WS_SOURCE_PLUGIN_ABI_VERSION);
  EXPECT_EQ(plugin->schemes(), std::vector<std::string>{"testfile"});
  EXPECT_TRUE(plugin->Serves("testfile"));
  EXPECT_FALSE(plugin->Serves("s3"));
  // Loading again returns the same plugin: libraries are never reloaded.
  EXPECT_EQ(TestPlugin().get(), plugin.get());
}

TEST(SourcePluginTest, ReadsExactBytesThroughTheAbi) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  const std::string path = WriteTempFile("0123456789abcdef");
  auto source = plugin->Open("testfile://" + path, "{}");
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_EQ((*source)->name(), "testfile://" + path);
  EXPECT_EQ((*source)->size(), 16u);
  EXPECT_EQ((*source)->PreferredReadBytes(), 1u << 20);
  EXPECT_EQ((*source)->PreferredConcurrency(), 4u);
  char buf[6] = {};
  ASSERT_TRUE((*source)->ReadAt(10, buf, 6).ok());
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  Status outside = (*source)->ReadAt(12, buf, 6);
  EXPECT_EQ(outside.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(outside.message(), HasSubstr("offset 12"));
}

TEST(SourcePluginTest, OptionsReachThePlugin) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  const std::string path = WriteTempFile("x");
  auto source =
      plugin->Open("testfile://" + path, R"({"preferred_read_bytes": 4096})");
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_EQ((*source)->PreferredReadBytes(), 4096u);
  auto bad = plugin->Open("testfile://" + path, R"({"regoin": "x"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("regoin"));
}

TEST(SourcePluginTest, MapsErrorsWithHttpStatus) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  auto missing = plugin->Open("testfile:///no/such/object", "{}");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().http_status(), 404);
  EXPECT_THAT(missing.status().message(), HasSubstr("/no/such/object"));

  auto denied = plugin->Open("testfile:///x@403", "{}");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().http_status(), 403);

  const std::string changed = WriteTempFile("abc") + "@changed";
  ASSERT_EQ(
      ::rename(changed.substr(0, changed.size() - 8).c_str(), changed.c_str()),
      0);
  auto source = plugin->Open("testfile://" + changed, "{}");
  ASSERT_TRUE(source.ok()) << source.status().message();
  char buf[3];
  Status s = (*source)->ReadAt(0, buf, 3);
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_THAT(s.message(), HasSubstr("changed while it was being read"));
  EXPECT_THAT(s.message(), HasSubstr("ETag mismatch at offset 0"));
  EXPECT_THAT(s.message(), HasSubstr("nothing read from it was kept"));
}

TEST(SourcePluginTest, ErrorMessageWithoutTerminatorIsBounded) {
  ws_error e;
  e.code = WS_IO;
  e.http_status = 0;
  std::memset(e.message, 'x', sizeof(e.message));
  Status s = StatusFromPluginError(WS_IO, e);
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_EQ(s.message().size(), sizeof(e.message));
  EXPECT_EQ(StatusFromPluginError(77, e).code(), StatusCode::kInternal);
}

TEST(SourcePluginTest, RejectsOtherAbiVersionNamingBoth) {
  auto plugin = SourcePlugin::Load(Runfile("libws_test_plugin_abi99.so"));
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(plugin.status().message(),
              HasSubstr("weightstream-testplugin 0.0.1"));
  EXPECT_THAT(plugin.status().message(), HasSubstr("ABI version 99"));
  EXPECT_THAT(plugin.status().message(), HasSubstr("speaks version 1"));
  // The plugin is newer than the core: the core is what to upgrade.
  EXPECT_THAT(plugin.status().message(),
              HasSubstr("pip install -U weightstream)"));
}

TEST(SourcePluginTest, PluginRefusingTheCoreNamesThePackage) {
  auto plugin = SourcePlugin::Load(Runfile("libws_test_plugin_refuse.so"));
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(plugin.status().message(), HasSubstr("ABI version 1"));
  EXPECT_THAT(plugin.status().message(), HasSubstr("weightstream-cloud"));
}

TEST(SourcePluginTest, MissingOrInvalidLibrary) {
  auto missing = SourcePlugin::Load("/nonexistent/libnothing.so");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/libnothing"));

  const std::string text = WriteTempFile("not an ELF file");
  auto invalid = SourcePlugin::Load(text);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(), HasSubstr("cannot load"));
}

TEST(SourcePluginTest, ListsSortedWithSizes) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  const std::string file = WriteTempFile("");
  const std::string dir = file + ".d";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir + "/sub").c_str(), 0700), 0);
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{
           {"/b.safetensors", "bb"}, {"/a.json", "a"}, {"/sub/c", "ccc"}}) {
    const std::string tmp = WriteTempFile(bytes);
    ASSERT_EQ(::rename(tmp.c_str(), (dir + name).c_str()), 0);
  }
  auto listing = plugin->List("testfile://" + dir + "/", "{}");
  ASSERT_TRUE(listing.ok()) << listing.status().message();
  ASSERT_EQ(listing->size(), 3u);
  EXPECT_EQ((*listing)[0].url, "testfile://" + dir + "/a.json");
  EXPECT_EQ((*listing)[0].size, 1u);
  EXPECT_EQ((*listing)[1].url, "testfile://" + dir + "/b.safetensors");
  EXPECT_EQ((*listing)[2].url, "testfile://" + dir + "/sub/c");
  EXPECT_EQ((*listing)[2].size, 3u);

  auto none = plugin->List("testfile:///no/such/dir/", "{}");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
}

TEST(SourcePluginTest, SafetensorsStreamThroughAPlugin) {
  auto plugin = TestPlugin();
  ASSERT_NE(plugin, nullptr);
  const std::string path = WriteTempFile(SafetensorsBytes(
      R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
      "xyzuv"));
  auto source = plugin->Open("testfile://" + path, "{}");
  ASSERT_TRUE(source.ok()) << source.status().message();
  auto file = OpenSafetensors(*source);
  ASSERT_TRUE(file.ok()) << file.status().message();
  TensorStreamer streamer(TensorStreamerOptions{});
  ASSERT_TRUE(streamer.AddFile(*file).ok());
  std::map<size_t, std::string> got;
  for (;;) {
    auto next = streamer.Next();
    ASSERT_TRUE(next.ok()) << next.status().message();
    if (!next->has_value()) break;
    const StreamedTensor& t = **next;
    got[t.tensor_index] =
        std::string(static_cast<const char*>(t.buffer.data()), t.buffer.size());
  }
  EXPECT_EQ(got[0], "xyz");
  EXPECT_EQ(got[1], "uv");
}

}  // namespace
}  // namespace weightstream
