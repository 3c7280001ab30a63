// The plugin as the core sees it: dlopen() the built library, resolve its
// one entry point, and check the table and the error mapping of calls that
// need no server (bad options, URLs, schemes; a refused connection).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "cpp/weightstream/plugin/source_plugin_abi.h"

namespace {

const ws_source_plugin* LoadPlugin() {
  static const ws_source_plugin* plugin = [] {
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* ws = std::getenv("TEST_WORKSPACE");
    std::string path = std::string(srcdir ? srcdir : ".") + "/" +
                       (ws ? ws : "weightstream") +
                       "/cpp/plugins/cloud/libweightstream_cloud.so";
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return static_cast<const ws_source_plugin*>(nullptr);
    auto entry = reinterpret_cast<ws_source_plugin_entry_fn>(
        dlsym(lib, WS_SOURCE_PLUGIN_ENTRY));
    return entry == nullptr ? nullptr : entry(WS_SOURCE_PLUGIN_ABI_VERSION);
  }();
  return plugin;
}

// A loopback port nothing listens on.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(PluginEntry, Table) {
  const ws_source_plugin* p = LoadPlugin();
  ASSERT_NE(p, nullptr) << dlerror();
  EXPECT_EQ(p->struct_size, sizeof(ws_source_plugin));
  EXPECT_EQ(p->abi_version, WS_SOURCE_PLUGIN_ABI_VERSION);
  EXPECT_STREQ(p->name, "weightstream-cloud");
  std::string schemes;
  for (const char* const* s = p->schemes; *s != nullptr; ++s) {
    schemes += std::string(*s) + " ";
  }
  EXPECT_EQ(schemes, "http https s3 gs az ");
}

TEST(PluginEntry, ErrorsMapToCodes) {
  const ws_source_plugin* p = LoadPlugin();
  ASSERT_NE(p, nullptr);
  struct Case {
    const char* url;
    const char* options;
    int32_t code;
    const char* want;
  };
  const std::string refused =
      "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/m.safetensors";
  for (const Case& c : {
           Case{"s3://bucket/key", R"({"bogus": 1})", WS_INVALID_ARGUMENT,
                "unknown key 'bogus'"},
           Case{"s3://bucket/key", "not json", WS_INVALID_ARGUMENT,
                "not valid JSON"},
           Case{"ftp://host/x", "{}", WS_INVALID_ARGUMENT, "not 'ftp'"},
           Case{"s3://b/key", "{}", WS_INVALID_ARGUMENT, "bucket name"},
           Case{"http://", "{}", WS_INVALID_ARGUMENT, "not a valid http(s)"},
           Case{refused.c_str(), R"({"max_retries": 1})", WS_IO,
                "gave up after 2 attempts"},
       }) {
    ws_source* source = nullptr;
    ws_error error{};
    EXPECT_EQ(p->open(c.url, c.options, &source, &error), c.code) << c.url;
    EXPECT_EQ(error.code, c.code);
    EXPECT_EQ(source, nullptr);
    EXPECT_NE(std::string(error.message).find(c.want), std::string::npos)
        << error.message;
  }
  ws_listing* listing = nullptr;
  ws_error error{};
  EXPECT_EQ(p->list("http://127.0.0.1:9/dir/", "{}", &listing, &error),
            WS_INVALID_ARGUMENT);
  EXPECT_EQ(listing, nullptr);
  EXPECT_NE(std::string(error.message).find("cannot list"), std::string::npos);
}

TEST(PluginEntry, ServesAbiOneAndLaterAndExportsNothingElse) {
  ASSERT_NE(LoadPlugin(), nullptr);
  Dl_info info{};
  ASSERT_NE(dladdr(LoadPlugin(), &info), 0);
  void* lib = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(lib, nullptr);
  auto entry = reinterpret_cast<ws_source_plugin_entry_fn>(
      dlsym(lib, WS_SOURCE_PLUGIN_ENTRY));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry(0), nullptr);
  EXPECT_NE(entry(2), nullptr);
  // Our own C++ symbols stay hidden (version script + hidden visibility).
  EXPECT_EQ(dlsym(lib,
                  "_ZN12weightstream5cloud9RedactUrlB5cxx11ESt17basic_"
                  "string_viewIcSt11char_traitsIcEE"),
            nullptr);
}

}  // namespace
