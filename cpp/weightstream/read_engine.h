// A pool of reader threads that fill caller-owned buffers from Sources.
//
// Each request (source, offset, length, destination) is split into chunks of
// at most `chunk_bytes`; the threads take chunks in submission order and read
// them straight into the destination, so there is no intermediate copy. A
// request completes when all its chunks are read, or with the first error of
// any of its chunks; completions are handed back in the order they happen.
//
// Ownership: destinations belong to the caller and must stay valid until the
// request's completion has been returned by WaitNext() (also after Cancel()).
#ifndef WEIGHTSTREAM_READ_ENGINE_H_
#define WEIGHTSTREAM_READ_ENGINE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

struct ReadEngineOptions {
  // Reader threads. Several in flight hide per-read latency and let page
  // faults of fresh destination memory proceed in parallel.
  int threads = 8;
  // Largest single read. Large enough to amortise syscalls, small enough to
  // spread one big tensor over all threads.
  uint64_t chunk_bytes = 16ull << 20;
  // How far ahead of the reads to hint the source (Source::WillRead), for
  // sources that can start fetching early. 0 (the default) disables it: on a
  // local disk the kernel's readahead already keeps the device busy, and a
  // 64 MiB window measured no gain cold and a small loss warm (bench/).
  uint64_t prefetch_bytes = 0;
};

struct ReadRequest {
  std::shared_ptr<Source> source;
  uint64_t offset = 0;
  uint64_t length = 0;
  void* destination = nullptr;
  // The caller's identifier, returned in the completion.
  uint64_t tag = 0;
};

struct ReadCompletion {
  uint64_t tag = 0;
  Status status;
};

class ReadEngine {
 public:
  explicit ReadEngine(ReadEngineOptions options);
  // Cancels queued chunks and joins the threads. Reads already running finish
  // first, so destinations must outlive the engine or be drained beforehand.
  ~ReadEngine();
  ReadEngine(const ReadEngine&) = delete;
  ReadEngine& operator=(const ReadEngine&) = delete;

  const ReadEngineOptions& options() const { return options_; }

  void Submit(ReadRequest request);

  // Blocks until some request completes and returns it; std::nullopt once no
  // request is outstanding.
  std::optional<ReadCompletion> WaitNext();

  // Requests not yet completed.
  size_t outstanding() const;

  // Drops queued chunks: their requests complete with kCancelled once their
  // running chunks finish. WaitNext() still returns every completion.
  void Cancel();

 private:
  struct Pending;
  struct Chunk {
    Pending* request;
    uint64_t offset;
    uint64_t length;
    char* destination;
  };
  struct Prefetch {
    std::shared_ptr<Source> source;
    uint64_t offset;
    uint64_t length;
  };

  void WorkerLoop();
  // Moves the prefetch window to cover `prefetch_bytes` of queued chunks past
  // the front; returns the ranges newly entering it. Called with mu_ held.
  std::vector<Prefetch> AdvancePrefetchLocked();
  // Records one finished chunk; called with mu_ held.
  void FinishChunkLocked(Pending* request, Status status);

  const ReadEngineOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Chunk> queue_;
  // queue_[0, prefetched_) have been handed to Source::WillRead.
  size_t prefetched_ = 0;
  uint64_t prefetched_bytes_ = 0;
  std::deque<ReadCompletion> completed_;
  size_t outstanding_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_READ_ENGINE_H_
