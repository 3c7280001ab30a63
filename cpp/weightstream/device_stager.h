// Streams byte ranges of Sources into device memory through a small ring of
// pinned host staging buffers.
//
//   source --ReadAt--> pinned slot --CopyAsync on stream (slot % streams)-->
//   device
//
// Reader threads take the next chunk (at most one slot long) and a free slot,
// read the chunk into the slot and queue its copy; a completer thread waits
// for copies in the order they were queued and returns their slots to the
// ring. Reads of later chunks thus overlap the copies of earlier ones, and
// host memory is bounded by the ring (slots x slot_bytes), not the model.
//
// A copy (one tensor) completes when all its chunks are on the device; Next()
// hands out copies in completion order. The first error stops the stager:
// queued chunks are dropped, running reads finish, and every copy already
// queued on the device is waited for before Next() returns the error, so the
// caller may free device memory as soon as it has the error.
//
// The device side is a CopyEngine: the real one drives a device plugin
// (device_plugin.h), tests use a fake that copies with memcpy.
#ifndef WEIGHTSTREAM_DEVICE_STAGER_H_
#define WEIGHTSTREAM_DEVICE_STAGER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// The device's copy queues. Called from the stager's threads: CopyAsync from
// readers (never two at once for the same slot), Wait from the completer.
class CopyEngine {
 public:
  virtual ~CopyEngine() = default;

  // For messages, e.g. "cuda:0".
  virtual std::string device_name() const = 0;

  // Independent copy queues; copies on different streams may overlap and
  // complete out of order.
  virtual int streams() const = 0;

  // Page-locked host memory for the ring, and whatever per-slot completion
  // objects (events) `slots` slots need. Called once before any copy.
  // Errors: kResourceExhausted naming the size.
  virtual StatusOr<void*> Prepare(int slots, uint64_t staging_bytes) = 0;
  // Frees what Prepare allocated; called after every copy has completed.
  virtual void Release(void* staging) = 0;

  // Queues a copy of `bytes` from `src` (inside the staging memory) to device
  // address `dst` on `stream`, completing slot `slot`. Returns when queued.
  virtual Status CopyAsync(int stream, int slot, uint64_t dst, const void* src,
                           uint64_t bytes) = 0;

  // Blocks until the copy last queued for `slot` has completed; its error if
  // it failed.
  virtual Status Wait(int slot) = 0;
};

// One tensor to put on the device: `length` bytes at `offset` of `source`.
struct DeviceCopy {
  std::shared_ptr<Source> source;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t device_address = 0;
  // The caller's identifier, returned by Next().
  size_t id = 0;
  // For error messages.
  std::string name;
};

struct DeviceStagerOptions {
  // Reader threads.
  int threads = 8;
  // Size of one staging slot: the largest single read and copy.
  uint64_t slot_bytes = 16ull << 20;
  // Slots in the ring; 0: threads + 2 x streams, so every reader can fill a
  // slot while copies of two slots per stream are queued. The ring never has
  // more slots than the work has chunks.
  int slots = 0;
};

class DeviceStager {
 public:
  // `engine` must outlive the stager.
  DeviceStager(CopyEngine* engine, DeviceStagerOptions options);
  // Cancels and waits for running reads and queued copies.
  ~DeviceStager();
  DeviceStager(const DeviceStager&) = delete;
  DeviceStager& operator=(const DeviceStager&) = delete;

  // Allocates the ring and starts copying. Call once.
  // Errors: kInvalidArgument if a range lies outside its source; the
  // engine's Prepare error.
  Status Start(std::vector<DeviceCopy> copies);

  // Blocks until the next copy is entirely on the device and returns its id;
  // std::nullopt once every copy has been returned. After an error, returns
  // it (once nothing is in flight any more) on every call.
  StatusOr<std::optional<size_t>> Next();

  // Stops reading; Next() then returns kCancelled (after in-flight copies
  // completed) unless an error came first.
  void Cancel();

  // The ring as allocated by Start.
  int slots() const { return slots_; }
  uint64_t slot_bytes() const { return slot_bytes_; }
  // Most slots holding data (being read or copied) at once.
  int peak_slots_in_use() const;

 private:
  struct Chunk {
    size_t copy;  // index into copies_
    uint64_t offset;
    uint64_t length;
    uint64_t device_address;
  };
  struct Queued {
    int slot;
    size_t copy;
  };

  void ReaderLoop();
  void CompleterLoop();
  // Records the first error; called with mu_ held.
  void FailLocked(Status status);
  void Stop();

  CopyEngine* const engine_;
  DeviceStagerOptions options_;
  std::vector<DeviceCopy> copies_;
  int slots_ = 0;
  uint64_t slot_bytes_ = 0;
  char* staging_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable reader_cv_;     // a slot freed, or stopping
  std::condition_variable completer_cv_;  // a copy queued, or readers done
  std::condition_variable next_cv_;       // a copy completed, or all done
  std::deque<Chunk> chunks_;
  std::vector<int> free_slots_;
  std::deque<Queued> queued_;
  std::vector<size_t> chunks_left_;
  std::deque<size_t> completed_;
  size_t returned_ = 0;
  int readers_running_ = 0;
  int in_use_ = 0;
  int peak_in_use_ = 0;
  bool stopping_ = false;
  bool done_ = false;  // the completer has exited: nothing in flight
  Status error_;
  std::vector<std::thread> threads_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_DEVICE_STAGER_H_
