// A device plugin for tests, with no GPU behind it: "device memory" is host
// memory from malloc, copies run on one worker thread per stream, events
// complete when the worker gets to them. It is a real shared library loaded
// with dlopen, so the core's loader, ABI checks, CopyEngine and the Python
// device path are exercised without CUDA.
//
// $WS_FAKE_DEVICE_MODE (read at every call) injects the failures a real
// plugin reports: no_driver, old_driver, no_device, oom (device_alloc fails),
// copy_error (the third copy fails when it runs). $WS_FAKE_DEVICE_MEMORY sets
// the device's size in bytes (default 1 GiB). Built with
// -DWS_FAKE_ABI=99 it claims another ABI version.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "cpp/weightstream/plugin/device_plugin_abi.h"

#ifndef WS_FAKE_ABI
#define WS_FAKE_ABI WS_DEVICE_PLUGIN_ABI_VERSION
#endif

struct ws_device_event {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t recorded = 0;
  uint64_t completed = 0;
  int32_t error = WS_DEVICE_OK;
};

struct ws_device_stream {
  int32_t device;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> work;
  bool stopping = false;
  std::thread worker;
};

namespace {

std::string Mode() {
  const char* m = std::getenv("WS_FAKE_DEVICE_MODE");
  return m != nullptr ? m : "";
}

uint64_t DeviceBytes() {
  const char* m = std::getenv("WS_FAKE_DEVICE_MEMORY");
  return m != nullptr ? std::strtoull(m, nullptr, 10) : (1ull << 30);
}

std::mutex g_mu;
std::unordered_map<uint64_t, uint64_t> g_allocations;  // address -> size
uint64_t g_allocated = 0;
int g_copies = 0;

int32_t Fail(ws_device_error* e, int32_t code, const std::string& message) {
  e->code = code;
  e->native_code = 0;
  std::snprintf(e->message, sizeof(e->message), "%s", message.c_str());
  return code;
}

int32_t Ok(ws_device_error* e) {
  e->code = WS_DEVICE_OK;
  e->message[0] = '\0';
  return WS_DEVICE_OK;
}

int32_t CheckDevice(int32_t device, ws_device_error* e) {
  if (device != 0) {
    return Fail(e, WS_DEVICE_INVALID_DEVICE,
                "fake:" + std::to_string(device) +
                    " does not exist: this machine has 1 fake device");
  }
  return WS_DEVICE_OK;
}

int32_t Init(int32_t* driver_version, ws_device_error* e) {
  std::string mode = Mode();
  *driver_version = mode == "no_driver"    ? 0
                    : mode == "old_driver" ? 12040
                                           : 13000;
  if (mode == "no_driver") {
    return Fail(e, WS_DEVICE_NO_DRIVER,
                "no CUDA driver: libcuda.so.1 could not be loaded (fake)");
  }
  if (mode == "old_driver") {
    return Fail(e, WS_DEVICE_DRIVER_TOO_OLD,
                "the NVIDIA driver supports CUDA 12.4, but the plugin was "
                "built for CUDA 13.0 (fake)");
  }
  return Ok(e);
}

int32_t DeviceCount(int32_t* count, ws_device_error* e) {
  if (Mode() == "no_device") {
    *count = 0;
    return Fail(e, WS_DEVICE_NO_DEVICE, "no CUDA device (fake)");
  }
  *count = 1;
  return Ok(e);
}

int32_t MemGetInfo(int32_t device, uint64_t* free_bytes, uint64_t* total,
                   ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  std::lock_guard<std::mutex> lock(g_mu);
  *total = DeviceBytes();
  *free_bytes = *total > g_allocated ? *total - g_allocated : 0;
  return Ok(e);
}

int32_t Properties(int32_t device, ws_device_properties* out,
                   ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  ws_device_properties p;
  std::memset(&p, 0, sizeof(p));
  p.struct_size = out->struct_size;
  std::snprintf(p.name, sizeof(p.name), "weightstream fake device");
  p.major = 9;
  p.minor = 0;
  MemGetInfo(device, &p.free_memory, &p.total_memory, e);
  p.async_engine_count = 2;
  std::memcpy(out, &p,
              out->struct_size < sizeof(p) ? out->struct_size : sizeof(p));
  return Ok(e);
}

int32_t Alloc(int32_t device, uint64_t bytes, uint64_t* address,
              ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  std::lock_guard<std::mutex> lock(g_mu);
  uint64_t total = DeviceBytes();
  if (Mode() == "oom" || g_allocated + bytes > total) {
    return Fail(e, WS_DEVICE_OUT_OF_MEMORY,
                "fake:0: out of memory allocating " + std::to_string(bytes) +
                    " bytes (" + std::to_string(total - g_allocated) +
                    " free of " + std::to_string(total) + ")");
  }
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  *address = reinterpret_cast<uint64_t>(p);
  g_allocations[*address] = bytes;
  g_allocated += bytes;
  return Ok(e);
}

int32_t Free(int32_t device, uint64_t address, ws_device_error* e) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_allocations.find(address);
  if (it == g_allocations.end()) {
    return Fail(e, WS_DEVICE_INVALID_ARGUMENT, "not a device allocation");
  }
  g_allocated -= it->second;
  g_allocations.erase(it);
  std::free(reinterpret_cast<void*>(address));
  return Ok(e);
}

int32_t HostAlloc(uint64_t bytes, void** out, ws_device_error* e) {
  *out = std::malloc(bytes == 0 ? 1 : bytes);
  return Ok(e);
}

void HostFree(void* p) { std::free(p); }

int32_t StreamCreate(int32_t device, ws_device_stream** out,
                     ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  auto* s = new ws_device_stream();
  s->device = device;
  s->worker = std::thread([s] {
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
      s->cv.wait(lock, [s] { return s->stopping || !s->work.empty(); });
      if (s->work.empty()) return;
      std::function<void()> job = std::move(s->work.front());
      s->work.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  });
  *out = s;
  return Ok(e);
}

void StreamDestroy(ws_device_stream* s) {
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->stopping = true;
  }
  s->cv.notify_all();
  s->worker.join();
  delete s;
}

int32_t EventCreate(int32_t device, ws_device_event** out, ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  *out = new ws_device_event();
  return Ok(e);
}

void EventDestroy(ws_device_event* ev) { delete ev; }

int32_t CopyAsync(ws_device_stream* s, uint64_t dst, const void* src,
                  uint64_t bytes, ws_device_event* done, ws_device_error* e) {
  bool fail;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    fail = Mode() == "copy_error" && ++g_copies == 3;
  }
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> lock(done->mu);
    ticket = ++done->recorded;
  }
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->work.push_back([=] {
      if (!fail) std::memcpy(reinterpret_cast<void*>(dst), src, bytes);
      std::lock_guard<std::mutex> lock(done->mu);
      if (fail) done->error = WS_DEVICE_ERROR;
      done->completed = ticket;
      done->cv.notify_all();
    });
  }
  s->cv.notify_one();
  return Ok(e);
}

int32_t EventWait(ws_device_event* ev, ws_device_error* e) {
  std::unique_lock<std::mutex> lock(ev->mu);
  ev->cv.wait(lock, [ev] { return ev->completed == ev->recorded; });
  if (ev->error != WS_DEVICE_OK) {
    ev->error = WS_DEVICE_OK;
    return Fail(e, WS_DEVICE_ERROR, "copy: an illegal memory access (fake)");
  }
  return Ok(e);
}

int32_t EventQuery(ws_device_event* ev, int32_t* done, ws_device_error* e) {
  std::lock_guard<std::mutex> lock(ev->mu);
  *done = ev->completed == ev->recorded;
  return Ok(e);
}

int32_t CopyD2H(int32_t device, void* dst, uint64_t src, uint64_t bytes,
                ws_device_error* e) {
  if (CheckDevice(device, e) != WS_DEVICE_OK) return e->code;
  std::memcpy(dst, reinterpret_cast<const void*>(src), bytes);
  return Ok(e);
}

const char* StatusName(int32_t s) {
  return s == WS_DEVICE_OK ? "WS_DEVICE_OK" : "WS_DEVICE_ERROR";
}

const ws_device_plugin kPlugin = {
    sizeof(ws_device_plugin),
    WS_FAKE_ABI,
    "weightstream-fake-device",
    "0.0.1",
    "cuda",
    13000,
    Init,
    DeviceCount,
    Properties,
    MemGetInfo,
    Alloc,
    Free,
    HostAlloc,
    HostFree,
    StreamCreate,
    StreamDestroy,
    EventCreate,
    EventDestroy,
    CopyAsync,
    EventWait,
    EventQuery,
    CopyD2H,
    StatusName,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ws_device_plugin*
ws_device_plugin_v1(uint32_t core_abi_version) {
  (void)core_abi_version;
  return &kPlugin;
}
