// The core's side of source plugins: loads a plugin library (dlopen), checks
// that it speaks this core's ABI (source_plugin_abi.h), and presents the
// objects it opens as weightstream::Source, so every format and the streamer
// read remote objects exactly as they read local files.
//
// A loaded plugin is never unloaded: its sources may outlive any handle the
// caller keeps, and libraries such as libcurl/OpenSSL do not support being
// unloaded and reloaded in one process. Loading the same path twice returns
// the same plugin.
#ifndef WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_H_
#define WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpp/weightstream/plugin/source_plugin_abi.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

struct ListedObject {
  std::string url;
  uint64_t size = 0;
};

class SourcePlugin {
 public:
  // Loads the plugin library at `path` (RTLD_NOW | RTLD_LOCAL) and resolves
  // its entry point. Errors: kNotFound if there is no file at `path`;
  // kInvalidArgument if it is not a loadable library, lacks the entry point,
  // or serves another ABI version (the message names both versions and the
  // package to upgrade).
  static StatusOr<std::shared_ptr<SourcePlugin>> Load(const std::string& path);

  const std::string& path() const { return path_; }
  // The plugin's distribution name and version, e.g. "weightstream-cloud".
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  uint32_t abi_version() const { return abi_version_; }
  // URL schemes served, e.g. {"http", "https", "s3"}.
  const std::vector<std::string>& schemes() const { return schemes_; }
  bool Serves(const std::string& scheme) const;

  // Opens `url`; `options_json` is a JSON object of per-call settings ("{}"
  // for none). The source's name() is the plugin's display name (no
  // secrets). Errors are the plugin's, mapped to StatusCode (WS_CHANGED
  // becomes kIo), with the HTTP status where there is one.
  StatusOr<std::shared_ptr<Source>> Open(const std::string& url,
                                         const std::string& options_json) const;

  // The objects under `url_prefix`, sorted by URL.
  StatusOr<std::vector<ListedObject>> List(
      const std::string& url_prefix, const std::string& options_json) const;

 private:
  SourcePlugin() = default;

  std::string path_;
  std::string name_;
  std::string version_;
  uint32_t abi_version_ = 0;
  std::vector<std::string> schemes_;
  // Copied up to the plugin's struct_size; members past it stay null.
  ws_source_plugin api_{};
};

// The Status for a ws_error the plugin filled (exposed for tests).
Status StatusFromPluginError(int32_t code, const ws_error& error);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_H_
