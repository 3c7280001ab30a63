// The CUDA device plugin: ws_device_plugin (device_plugin_abi.h) over the
// CUDA runtime, linked statically (cudart_static), so the wheel needs nothing
// but the NVIDIA driver; the runtime loads libcuda.so.1 itself at the first
// call.
//
// No device code: the plugin only moves bytes with the GPU's copy engines
// (cudaMemcpyAsync from pinned memory). It is still compiled by nvcc through
// cuda_library with the release -gencode list, so that a kernel added later
// (e.g. a dtype conversion) is built for every supported GPU.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "cpp/weightstream/plugin/device_plugin_abi.h"

#ifndef WS_CUDA_PLUGIN_VERSION
#define WS_CUDA_PLUGIN_VERSION "0.1.0"
#endif

struct ws_device_stream {
  int32_t device;
  cudaStream_t stream;
};

struct ws_device_event {
  int32_t device;
  cudaEvent_t event;
};

namespace {

constexpr int kRuntimeMajor = CUDART_VERSION / 1000;

int32_t Fail(ws_device_error* error, int32_t code, int32_t native,
             const char* format, ...) {
  if (error != nullptr) {
    error->code = code;
    error->native_code = native;
    va_list args;
    va_start(args, format);
    vsnprintf(error->message, sizeof(error->message), format, args);
    va_end(args);
  }
  return code;
}

int32_t Ok(ws_device_error* error) {
  if (error != nullptr) {
    error->code = WS_DEVICE_OK;
    error->native_code = 0;
    error->message[0] = '\0';
  }
  return WS_DEVICE_OK;
}

// Maps a CUDA error to a plugin status, with `what` and CUDA's own words.
int32_t FromCuda(cudaError_t e, ws_device_error* error, const char* what) {
  if (e == cudaSuccess) return Ok(error);
  int32_t code = WS_DEVICE_ERROR;
  switch (e) {
    case cudaErrorInsufficientDriver:
      code = WS_DEVICE_DRIVER_TOO_OLD;
      break;
    case cudaErrorNoDevice:
      code = WS_DEVICE_NO_DEVICE;
      break;
    case cudaErrorInvalidDevice:
      code = WS_DEVICE_INVALID_DEVICE;
      break;
    case cudaErrorMemoryAllocation:
      code = WS_DEVICE_OUT_OF_MEMORY;
      break;
    case cudaErrorInvalidValue:
      code = WS_DEVICE_INVALID_ARGUMENT;
      break;
    default:
      break;
  }
  return Fail(error, code, static_cast<int32_t>(e), "%s: %s (%s)", what,
              cudaGetErrorString(e), cudaGetErrorName(e));
}

int32_t SetDevice(int32_t device, ws_device_error* error) {
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaErrorInvalidDevice) {
    int count = 0;
    cudaGetDeviceCount(&count);
    return Fail(error, WS_DEVICE_INVALID_DEVICE, static_cast<int32_t>(e),
                "cuda:%d does not exist: this machine has %d CUDA device%s",
                device, count, count == 1 ? "" : "s");
  }
  char what[64];
  snprintf(what, sizeof(what), "cuda:%d: selecting the device", device);
  return FromCuda(e, error, what);
}

int32_t Init(int32_t* driver_version, ws_device_error* error) {
  int version = 0;
  // Works without a driver: reports 0 then.
  cudaDriverGetVersion(&version);
  if (driver_version != nullptr) *driver_version = version;
  if (version == 0) {
    void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    const char* why =
        handle != nullptr ? "it loads, but reports no version" : dlerror();
    if (handle != nullptr) dlclose(handle);
    return Fail(error, WS_DEVICE_NO_DRIVER, 0,
                "no CUDA driver: libcuda.so.1 could not be loaded (%s). "
                "weightstream-cuda%d needs the NVIDIA driver for CUDA %d.0 "
                "or newer",
                why != nullptr ? why : "not found", kRuntimeMajor,
                kRuntimeMajor);
  }
  if (version / 1000 < kRuntimeMajor) {
    return Fail(error, WS_DEVICE_DRIVER_TOO_OLD, 0,
                "the NVIDIA driver supports CUDA %d.%d, but "
                "weightstream-cuda%d was built for CUDA %d.%d: upgrade the "
                "driver to one for CUDA %d or newer",
                version / 1000, version % 1000 / 10, kRuntimeMajor,
                kRuntimeMajor, CUDART_VERSION % 1000 / 10, kRuntimeMajor);
  }
  return Ok(error);
}

int32_t DeviceCount(int32_t* count, ws_device_error* error) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  *count = e == cudaSuccess ? n : 0;
  if (e == cudaErrorNoDevice) {
    return Fail(error, WS_DEVICE_NO_DEVICE, static_cast<int32_t>(e),
                "no CUDA device: the driver is loaded but reports no GPU "
                "(check CUDA_VISIBLE_DEVICES and nvidia-smi)");
  }
  return FromCuda(e, error, "counting CUDA devices");
}

int32_t MemGetInfo(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes,
                   ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  size_t f = 0, t = 0;
  cudaError_t e = cudaMemGetInfo(&f, &t);
  *free_bytes = f;
  *total_bytes = t;
  return FromCuda(e, error, "querying device memory");
}

int32_t DeviceProperties(int32_t device, ws_device_properties* out,
                         ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  cudaDeviceProp p;
  cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return FromCuda(e, error, "reading device properties");
  // Fill only what the caller's struct has room for (struct_size).
  ws_device_properties full;
  std::memset(&full, 0, sizeof(full));
  full.struct_size = out->struct_size;
  snprintf(full.name, sizeof(full.name), "%s", p.name);
  full.major = p.major;
  full.minor = p.minor;
  full.total_memory = p.totalGlobalMem;
  size_t f = 0, t = 0;
  if (cudaMemGetInfo(&f, &t) == cudaSuccess) full.free_memory = f;
  full.pci_bus_id = p.pciBusID;
  full.async_engine_count = p.asyncEngineCount;
  size_t n = out->struct_size < sizeof(full) ? out->struct_size : sizeof(full);
  std::memcpy(out, &full, n);
  return Ok(error);
}

int32_t DeviceAlloc(int32_t device, uint64_t bytes, uint64_t* address,
                    ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: the next call must not see it
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    return Fail(error, WS_DEVICE_OUT_OF_MEMORY, static_cast<int32_t>(e),
                "cuda:%d: out of memory allocating %llu bytes (%llu free of "
                "%llu)",
                device, static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(f),
                static_cast<unsigned long long>(t));
  }
  *address = reinterpret_cast<uint64_t>(p);
  return FromCuda(e, error, "allocating device memory");
}

int32_t DeviceFree(int32_t device, uint64_t address, ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  return FromCuda(cudaFree(reinterpret_cast<void*>(address)), error,
                  "freeing device memory");
}

int32_t HostAllocPinned(uint64_t bytes, void** out, ws_device_error* error) {
  // Portable: pinned for every device, whichever the copies go to.
  cudaError_t e = cudaHostAlloc(out, bytes, cudaHostAllocPortable);
  if (e != cudaSuccess) {
    cudaGetLastError();
    *out = nullptr;
    return Fail(error, WS_DEVICE_HOST_OUT_OF_MEMORY, static_cast<int32_t>(e),
                "cannot allocate %llu bytes of pinned host memory: %s",
                static_cast<unsigned long long>(bytes), cudaGetErrorString(e));
  }
  return Ok(error);
}

void HostFreePinned(void* p) {
  if (p != nullptr) cudaFreeHost(p);
}

int32_t StreamCreate(int32_t device, ws_device_stream** out,
                     ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  cudaStream_t s = nullptr;
  // Non-blocking: never serialised with the legacy default stream that other
  // libraries in the process may be using.
  cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  if (e != cudaSuccess) return FromCuda(e, error, "creating a stream");
  *out = new ws_device_stream{device, s};
  return Ok(error);
}

void StreamDestroy(ws_device_stream* s) {
  if (s == nullptr) return;
  cudaSetDevice(s->device);
  cudaStreamDestroy(s->stream);
  delete s;
}

int32_t EventCreate(int32_t device, ws_device_event** out,
                    ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  cudaEvent_t ev = nullptr;
  // Blocking sync: a waiting thread sleeps instead of spinning a core that
  // the readers need.
  cudaError_t e = cudaEventCreateWithFlags(
      &ev, cudaEventDisableTiming | cudaEventBlockingSync);
  if (e != cudaSuccess) return FromCuda(e, error, "creating an event");
  *out = new ws_device_event{device, ev};
  return Ok(error);
}

void EventDestroy(ws_device_event* ev) {
  if (ev == nullptr) return;
  cudaSetDevice(ev->device);
  cudaEventDestroy(ev->event);
  delete ev;
}

int32_t CopyH2DAsync(ws_device_stream* s, uint64_t dst, const void* src,
                     uint64_t bytes, ws_device_event* done,
                     ws_device_error* error) {
  int32_t st = SetDevice(s->device, error);
  if (st != WS_DEVICE_OK) return st;
  cudaError_t e = cudaMemcpyAsync(reinterpret_cast<void*>(dst), src, bytes,
                                  cudaMemcpyHostToDevice, s->stream);
  if (e != cudaSuccess) return FromCuda(e, error, "queueing a copy");
  return FromCuda(cudaEventRecord(done->event, s->stream), error,
                  "recording a copy's completion");
}

int32_t EventWait(ws_device_event* ev, ws_device_error* error) {
  return FromCuda(cudaEventSynchronize(ev->event), error, "copy");
}

int32_t EventQuery(ws_device_event* ev, int32_t* done, ws_device_error* error) {
  cudaError_t e = cudaEventQuery(ev->event);
  if (e == cudaErrorNotReady) {
    *done = 0;
    return Ok(error);
  }
  *done = e == cudaSuccess ? 1 : 0;
  return FromCuda(e, error, "copy");
}

int32_t CopyD2H(int32_t device, void* dst, uint64_t src, uint64_t bytes,
                ws_device_error* error) {
  int32_t st = SetDevice(device, error);
  if (st != WS_DEVICE_OK) return st;
  return FromCuda(cudaMemcpy(dst, reinterpret_cast<const void*>(src), bytes,
                             cudaMemcpyDeviceToHost),
                  error, "copying from the device");
}

const char* StatusName(int32_t status) {
  switch (status) {
    case WS_DEVICE_OK:
      return "WS_DEVICE_OK";
    case WS_DEVICE_NO_DRIVER:
      return "WS_DEVICE_NO_DRIVER";
    case WS_DEVICE_DRIVER_TOO_OLD:
      return "WS_DEVICE_DRIVER_TOO_OLD";
    case WS_DEVICE_NO_DEVICE:
      return "WS_DEVICE_NO_DEVICE";
    case WS_DEVICE_INVALID_DEVICE:
      return "WS_DEVICE_INVALID_DEVICE";
    case WS_DEVICE_OUT_OF_MEMORY:
      return "WS_DEVICE_OUT_OF_MEMORY";
    case WS_DEVICE_HOST_OUT_OF_MEMORY:
      return "WS_DEVICE_HOST_OUT_OF_MEMORY";
    case WS_DEVICE_INVALID_ARGUMENT:
      return "WS_DEVICE_INVALID_ARGUMENT";
    default:
      return "WS_DEVICE_ERROR";
  }
}

// The distribution is named for the CUDA major version it was built with.
static_assert(CUDART_VERSION / 1000 == 13,
              "this plugin is packaged as weightstream-cuda13");

const ws_device_plugin kPlugin = {
    sizeof(ws_device_plugin),
    WS_DEVICE_PLUGIN_ABI_VERSION,
    "weightstream-cuda13",
    WS_CUDA_PLUGIN_VERSION,
    "cuda",
    CUDART_VERSION,
    Init,
    DeviceCount,
    DeviceProperties,
    MemGetInfo,
    DeviceAlloc,
    DeviceFree,
    HostAllocPinned,
    HostFreePinned,
    StreamCreate,
    StreamDestroy,
    EventCreate,
    EventDestroy,
    CopyH2DAsync,
    EventWait,
    EventQuery,
    CopyD2H,
    StatusName,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ws_device_plugin*
ws_device_plugin_v1(uint32_t core_abi_version) {
  // ABI 1 is the only one so far; a later plugin would keep serving 1.
  if (core_abi_version != WS_DEVICE_PLUGIN_ABI_VERSION) return nullptr;
  return &kPlugin;
}
