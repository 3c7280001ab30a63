/* The C ABI between the weightstream core and a device plugin.
 *
 * A device plugin is a shared library shipped in its own wheel (e.g.
 * weightstream-cuda13: libweightstream_cuda.so) that the core dlopen()s at run
 * time to copy tensors into accelerator memory. The core keeps the staging
 * logic (reads into a ring of pinned host buffers, cpp/weightstream/
 * device_stager.h); the plugin only exposes the device primitives it needs.
 * Only C types cross this boundary; each side frees only what it allocated.
 * The plugin exports exactly one symbol:
 *
 *   const ws_device_plugin* ws_device_plugin_v1(uint32_t core_abi_version);
 *
 * It returns NULL if it cannot serve a core of that ABI version; the core then
 * reports both versions and the package to upgrade. New members are only ever
 * appended: a plugin sets struct_size, and the core reads no member beyond it.
 *
 * Devices are ordinals (0 = "cuda:0"). Device memory is a uint64_t address in
 * the device's primary context, so memory allocated by another library in the
 * same process (e.g. torch's caching allocator) is a valid copy destination.
 *
 * Threading: every function may be called from any thread. A stream is used
 * by one thread at a time; events may be waited on from another thread than
 * the one that recorded them.
 *
 * Errors: every call that can fail returns a ws_device_status and fills the
 * caller's ws_device_error (code, the platform's own error number and name,
 * and a message naming the device and sizes where relevant).
 */
#ifndef WEIGHTSTREAM_PLUGIN_DEVICE_PLUGIN_ABI_H_
#define WEIGHTSTREAM_PLUGIN_DEVICE_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_DEVICE_PLUGIN_ABI_VERSION 1u
#define WS_DEVICE_PLUGIN_ENTRY "ws_device_plugin_v1"

typedef enum ws_device_status {
  WS_DEVICE_OK = 0,
  /* No NVIDIA driver (libcuda.so.1 cannot be loaded). */
  WS_DEVICE_NO_DRIVER = 1,
  /* The driver is older than the runtime the plugin was built with. */
  WS_DEVICE_DRIVER_TOO_OLD = 2,
  /* A driver, but no usable device. */
  WS_DEVICE_NO_DEVICE = 3,
  /* An ordinal that does not exist. */
  WS_DEVICE_INVALID_DEVICE = 4,
  WS_DEVICE_OUT_OF_MEMORY = 5,      /* device memory */
  WS_DEVICE_HOST_OUT_OF_MEMORY = 6, /* pinned host memory */
  WS_DEVICE_INVALID_ARGUMENT = 7,
  WS_DEVICE_ERROR = 8, /* anything else the platform reports */
} ws_device_status;

typedef struct ws_device_error {
  int32_t code;        /* a ws_device_status */
  int32_t native_code; /* e.g. the cudaError_t, 0 if none */
  char message[1024];  /* NUL-terminated, truncated to fit */
} ws_device_error;

typedef struct ws_device_properties {
  uint32_t struct_size; /* set by the caller: sizeof as the core was built */
  char name[256];       /* e.g. "NVIDIA H100 80GB HBM3" */
  int32_t major;        /* compute capability */
  int32_t minor;
  uint64_t total_memory;
  uint64_t free_memory; /* as of the call */
  int32_t pci_bus_id;
  int32_t async_engine_count; /* copy engines: overlapping copies */
} ws_device_properties;

typedef struct ws_device_stream ws_device_stream;
typedef struct ws_device_event ws_device_event;

typedef struct ws_device_plugin {
  uint32_t struct_size; /* sizeof(ws_device_plugin) as the plugin was built */
  uint32_t abi_version; /* WS_DEVICE_PLUGIN_ABI_VERSION of the plugin */
  const char* name;     /* distribution name, e.g. "weightstream-cuda13" */
  const char* version;  /* its version, e.g. "0.1.0" */
  const char* platform; /* "cuda" */
  /* The runtime the plugin was built against, e.g. 13000 for CUDA 13.0. */
  int32_t runtime_version;

  /* Checks that a driver exists and is new enough: WS_DEVICE_NO_DRIVER or
   * WS_DEVICE_DRIVER_TOO_OLD (message names both versions), else OK.
   * `driver_version` receives the driver's version (0 if none). Cheap to call
   * again. Every other function may assume it returned OK. */
  int32_t (*init)(int32_t* driver_version, ws_device_error* error);

  int32_t (*device_count)(int32_t* count, ws_device_error* error);
  int32_t (*device_properties)(int32_t device, ws_device_properties* out,
                               ws_device_error* error);
  int32_t (*mem_get_info)(int32_t device, uint64_t* free_bytes,
                          uint64_t* total_bytes, ws_device_error* error);

  /* Device memory of the device's primary context. */
  int32_t (*device_alloc)(int32_t device, uint64_t bytes, uint64_t* address,
                          ws_device_error* error);
  int32_t (*device_free)(int32_t device, uint64_t address,
                         ws_device_error* error);

  /* Page-locked host memory, usable for asynchronous copies to any device. */
  int32_t (*host_alloc_pinned)(uint64_t bytes, void** out,
                               ws_device_error* error);
  void (*host_free_pinned)(void* ptr);

  int32_t (*stream_create)(int32_t device, ws_device_stream** out,
                           ws_device_error* error);
  void (*stream_destroy)(ws_device_stream* stream);
  int32_t (*event_create)(int32_t device, ws_device_event** out,
                          ws_device_error* error);
  void (*event_destroy)(ws_device_event* event);

  /* Queues a copy of `bytes` from pinned host memory `src` to device address
   * `dst` on `stream`, then records `done` on the stream. Returns as soon as
   * it is queued; `src` must stay untouched until `done` has completed. */
  int32_t (*copy_h2d_async)(ws_device_stream* stream, uint64_t dst,
                            const void* src, uint64_t bytes,
                            ws_device_event* done, ws_device_error* error);
  /* Blocks (without spinning) until the work before `event` completed;
   * reports the error of that work, if any. */
  int32_t (*event_wait)(ws_device_event* event, ws_device_error* error);
  /* *done = 1 if complete, 0 if still running. */
  int32_t (*event_query)(ws_device_event* event, int32_t* done,
                         ws_device_error* error);

  /* Synchronous device-to-host copy (for checks and tests). */
  int32_t (*copy_d2h)(int32_t device, void* dst, uint64_t src, uint64_t bytes,
                      ws_device_error* error);

  /* A static name for a ws_device_status, e.g. "WS_DEVICE_NO_DRIVER". */
  const char* (*status_name)(int32_t status);
} ws_device_plugin;

typedef const ws_device_plugin* (*ws_device_plugin_entry_fn)(
    uint32_t core_abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WEIGHTSTREAM_PLUGIN_DEVICE_PLUGIN_ABI_H_ */
