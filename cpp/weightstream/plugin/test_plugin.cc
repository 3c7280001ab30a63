// A source plugin for tests: serves "testfile://" URLs from local files
// through the real C ABI, so the core's loader, adapter and error mapping are
// exercised with dlopen and no mocks.
//
//   testfile:///abs/path         the file at /abs/path
//   ...a name containing "@403"  fails open with WS_PERMISSION_DENIED (403)
//   ...a name containing "@changed"  every read_at returns WS_CHANGED
//   missing file                 WS_NOT_FOUND (404)
//
// options_json: "{}" or {"preferred_read_bytes": N}; anything else is
// rejected, naming the key, as the ABI requires. Built with
// -DWS_TEST_PLUGIN_ABI=N it claims ABI version N (for the mismatch test);
// with -DWS_TEST_PLUGIN_REFUSE it returns NULL from the entry point.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cpp/weightstream/plugin/source_plugin_abi.h"

#ifndef WS_TEST_PLUGIN_ABI
#define WS_TEST_PLUGIN_ABI WS_SOURCE_PLUGIN_ABI_VERSION
#endif

struct ws_source {
  int fd;
  uint64_t size;
  uint64_t preferred_read_bytes;
  bool changed;
  std::string url;
};

namespace {

constexpr char kPrefix[] = "testfile://";

int32_t Fail(ws_error* e, int32_t code, int http, const std::string& m) {
  e->code = code;
  e->http_status = http;
  std::snprintf(e->message, sizeof(e->message), "%s", m.c_str());
  return code;
}

// Accepts "{}" (with spaces) or {"preferred_read_bytes": N}.
bool ParseOptions(const char* json, uint64_t* preferred, std::string* bad) {
  std::string s;
  for (const char* p = json; *p; ++p) {
    if (*p != ' ' && *p != '\n') s += *p;
  }
  if (s == "{}") return true;
  const std::string key = "{\"preferred_read_bytes\":";
  if (s.compare(0, key.size(), key) == 0 && s.back() == '}') {
    *preferred = std::strtoull(s.c_str() + key.size(), nullptr, 10);
    return true;
  }
  *bad = s;
  return false;
}

int32_t Open(const char* url, const char* options_json, ws_source** out,
             ws_error* error) {
  uint64_t preferred = 1 << 20;
  std::string bad;
  if (!ParseOptions(options_json, &preferred, &bad)) {
    return Fail(error, WS_INVALID_ARGUMENT, 0, "unknown option in " + bad);
  }
  const std::string u = url;
  if (u.compare(0, sizeof(kPrefix) - 1, kPrefix) != 0) {
    return Fail(error, WS_INVALID_ARGUMENT, 0, u + ": not a testfile:// URL");
  }
  const std::string path = u.substr(sizeof(kPrefix) - 1);
  if (path.find("@403") != std::string::npos) {
    return Fail(error, WS_PERMISSION_DENIED, 403,
                u + ": HTTP 403 AccessDenied");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(error, errno == ENOENT ? WS_NOT_FOUND : WS_IO,
                errno == ENOENT ? 404 : 0, u + ": HTTP 404 NoSuchKey");
  }
  struct stat st;
  ::fstat(fd, &st);
  *out = new ws_source{fd, static_cast<uint64_t>(st.st_size), preferred,
                       path.find("@changed") != std::string::npos, u};
  return WS_OK;
}

uint64_t Size(const ws_source* s) { return s->size; }
const char* DisplayName(const ws_source* s) { return s->url.c_str(); }

int32_t ReadAt(ws_source* s, uint64_t offset, void* dst, uint64_t length,
               ws_error* error) {
  if (s->changed) {
    return Fail(error, WS_CHANGED, 412,
                s->url + ": ETag mismatch at offset " + std::to_string(offset));
  }
  char* p = static_cast<char*>(dst);
  while (length > 0) {
    const ssize_t n = ::pread(s->fd, p, length, static_cast<off_t>(offset));
    if (n <= 0) {
      return Fail(error, WS_IO, 0,
                  s->url + ": short read at offset " + std::to_string(offset));
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return WS_OK;
}

uint64_t PreferredReadBytes(const ws_source* s) {
  return s->preferred_read_bytes;
}
uint32_t PreferredConcurrency(const ws_source*) { return 4; }

void Close(ws_source* s) {
  ::close(s->fd);
  delete s;
}

struct Listing {
  ws_listing listing;
  std::vector<std::string> urls;
  std::vector<ws_object_entry> entries;
};

std::mutex listings_mu;
std::map<ws_listing*, Listing*> listings;

void Walk(const std::string& dir, std::vector<std::string>* files) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      Walk(path, files);
    } else {
      files->push_back(path);
    }
  }
  ::closedir(d);
}

int32_t List(const char* url_prefix, const char* options_json, ws_listing** out,
             ws_error* error) {
  const std::string u = url_prefix;
  if (u.compare(0, sizeof(kPrefix) - 1, kPrefix) != 0) {
    return Fail(error, WS_INVALID_ARGUMENT, 0, u + ": not a testfile:// URL");
  }
  std::string dir = u.substr(sizeof(kPrefix) - 1);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    return Fail(error, WS_NOT_FOUND, 404, u + ": no such prefix");
  }
  std::vector<std::string> files;
  Walk(dir, &files);
  std::sort(files.begin(), files.end());
  auto* l = new Listing;
  for (const std::string& f : files) l->urls.push_back(kPrefix + f);
  for (size_t i = 0; i < files.size(); ++i) {
    struct stat fs;
    ::stat(files[i].c_str(), &fs);
    l->entries.push_back(
        ws_object_entry{l->urls[i].c_str(), static_cast<uint64_t>(fs.st_size)});
  }
  l->listing.entries = l->entries.data();
  l->listing.count = l->entries.size();
  *out = &l->listing;
  std::lock_guard<std::mutex> lock(listings_mu);
  listings[&l->listing] = l;
  return WS_OK;
}

void FreeListing(ws_listing* listing) {
  std::lock_guard<std::mutex> lock(listings_mu);
  auto it = listings.find(listing);
  delete it->second;
  listings.erase(it);
}

const char* const kSchemes[] = {"testfile", nullptr};

// Unused in the WS_TEST_PLUGIN_REFUSE variant.
[[maybe_unused]] const ws_source_plugin kPlugin = {
    sizeof(ws_source_plugin),
    WS_TEST_PLUGIN_ABI,
    "weightstream-testplugin",
    "0.0.1",
    kSchemes,
    Open,
    Size,
    DisplayName,
    ReadAt,
    PreferredReadBytes,
    PreferredConcurrency,
    Close,
    List,
    FreeListing,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ws_source_plugin*
ws_source_plugin_v1(uint32_t core_abi_version) {
#ifdef WS_TEST_PLUGIN_REFUSE
  (void)core_abi_version;
  return nullptr;
#else
  (void)core_abi_version;
  return &kPlugin;
#endif
}
