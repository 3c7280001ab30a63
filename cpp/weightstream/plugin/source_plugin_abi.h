/* The C ABI between the weightstream core and a source plugin.
 *
 * A source plugin is a shared library shipped in its own wheel (e.g.
 * weightstream-cloud: http, https, s3, gs, az) that the core dlopen()s at run
 * time. Only C types cross this boundary, so the core and the plugin may be
 * built by different compilers and link different C++ runtimes; each side
 * frees only what it allocated. The plugin exports exactly one symbol:
 *
 *   const ws_source_plugin* ws_source_plugin_v1(uint32_t core_abi_version);
 *
 * It returns NULL if it cannot serve a core of that ABI version; the core then
 * reports both versions and the package to upgrade. New members are only ever
 * appended: a plugin sets struct_size, and the core reads no member beyond it.
 *
 * Threading: read_at is called from many threads at once on one source;
 * everything else may be called from any thread, but not concurrently on the
 * same source with close.
 *
 * Errors: every call that can fail returns a ws_status code and fills the
 * caller's ws_error. Messages name the URL (without credentials, query
 * strings carrying signatures, or tokens), the offset where relevant, and the
 * HTTP status and provider error code where there is one.
 */
#ifndef WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_ABI_H_
#define WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_SOURCE_PLUGIN_ABI_VERSION 1u
#define WS_SOURCE_PLUGIN_ENTRY "ws_source_plugin_v1"

/* Same meaning as weightstream::StatusCode (cpp/weightstream/status.h), plus
 * codes only remote sources produce. */
typedef enum ws_status {
  WS_OK = 0,
  WS_INVALID_ARGUMENT = 1, /* bad URL, bad option, range outside the object */
  WS_NOT_FOUND = 2,        /* 404, no such bucket/container/key */
  WS_PERMISSION_DENIED = 3, /* 401/403, bad or missing credentials */
  WS_FORMAT = 4,           /* a malformed listing or server answer */
  WS_IO = 5,               /* network error, short body, retries exhausted */
  WS_RESOURCE_EXHAUSTED = 6,
  WS_CANCELLED = 7,
  WS_INTERNAL = 8,
  WS_CHANGED = 9, /* the object changed while being read (ETag/generation) */
} ws_status;

typedef struct ws_error {
  int32_t code;       /* a ws_status */
  int32_t http_status; /* 0 if none */
  char message[2048]; /* NUL-terminated, truncated to fit */
} ws_error;

/* An opened object: a fixed-size, random-access byte range. */
typedef struct ws_source ws_source;

typedef struct ws_object_entry {
  const char* url;  /* full URL of the object, same scheme as the prefix */
  uint64_t size;
} ws_object_entry;

/* A listing, owned by the plugin until free_listing. */
typedef struct ws_listing {
  const ws_object_entry* entries;
  size_t count;
} ws_listing;

typedef struct ws_source_plugin {
  uint32_t struct_size; /* sizeof(ws_source_plugin) as the plugin was built */
  uint32_t abi_version; /* WS_SOURCE_PLUGIN_ABI_VERSION of the plugin */
  const char* name;     /* distribution name, e.g. "weightstream-cloud" */
  const char* version;  /* its version, e.g. "0.1.0" */
  /* NULL-terminated list of URL schemes served, e.g. {"s3", "gs", NULL}. */
  const char* const* schemes;

  /* Opens `url`. `options_json` is a JSON object (never NULL; "{}" for
   * none) of per-call settings that override the environment, e.g.
   * {"endpoint_url": ..., "region": ..., "ca_bundle": ..., "anonymous": true,
   *  "max_retries": 5, "request_timeout_s": 60, "connect_timeout_s": 10}.
   * Unknown keys are an error naming the key. Fetches the object's size and
   * version (ETag/generation) once; every later read_at is pinned to it. */
  int32_t (*open)(const char* url, const char* options_json, ws_source** out,
                  ws_error* error);

  /* The object's size in bytes, as of open. */
  uint64_t (*size)(const ws_source* source);

  /* The URL for messages: no credentials, no signature query parameters. The
   * string lives as long as the source. */
  const char* (*display_name)(const ws_source* source);

  /* Reads exactly `length` bytes at `offset` into `dst`, retrying transient
   * failures (throttling, 5xx, resets, short bodies) with backoff. Returns
   * WS_CHANGED if the object no longer matches the version seen at open,
   * WS_IO if fewer bytes exist or retries ran out. Never returns partial data
   * as success. Thread-safe. */
  int32_t (*read_at)(ws_source* source, uint64_t offset, void* dst,
                     uint64_t length, ws_error* error);

  /* Request size the plugin reads efficiently (e.g. 8 MiB), and how many
   * requests in flight it is tuned for; the core sizes its chunks and
   * threads by these unless the caller chose. */
  uint64_t (*preferred_read_bytes)(const ws_source* source);
  uint32_t (*preferred_concurrency)(const ws_source* source);

  void (*close)(ws_source* source);

  /* Lists the objects whose URL starts with `url_prefix` (a "directory":
   * callers pass it with a trailing '/'), recursively, sorted by URL. */
  int32_t (*list)(const char* url_prefix, const char* options_json,
                  ws_listing** out, ws_error* error);
  void (*free_listing)(ws_listing* listing);
} ws_source_plugin;

typedef const ws_source_plugin* (*ws_source_plugin_entry_fn)(
    uint32_t core_abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WEIGHTSTREAM_PLUGIN_SOURCE_PLUGIN_ABI_H_ */
