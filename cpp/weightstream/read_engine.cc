#include "cpp/weightstream/read_engine.h"

#include <algorithm>
#include <utility>

namespace weightstream {

struct ReadEngine::Pending {
  std::shared_ptr<Source> source;
  uint64_t tag;
  size_t chunks_left;
  Status status;
};

ReadEngine::ReadEngine(ReadEngineOptions options)
    : options_([&] {
        options.threads = std::max(1, options.threads);
        options.chunk_bytes = std::max<uint64_t>(4096, options.chunk_bytes);
        return options;
      }()) {
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

ReadEngine::~ReadEngine() {
  Cancel();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  // Requests cancelled but never waited for still own their Pending records.
  while (WaitNext()) {
  }
}

void ReadEngine::Submit(ReadRequest request) {
  const uint64_t chunk = options_.chunk_bytes;
  size_t chunks = request.length == 0 ? 1 : (request.length - 1) / chunk + 1;
  auto* pending =
      new Pending{std::move(request.source), request.tag, chunks, Status::Ok()};
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
    char* dst = static_cast<char*>(request.destination);
    for (size_t i = 0; i < chunks; ++i) {
      uint64_t off = i * chunk;
      uint64_t len = std::min(chunk, request.length - off);
      queue_.push_back(Chunk{pending, request.offset + off, len, dst + off});
    }
  }
  if (chunks == 1) {
    work_cv_.notify_one();
  } else {
    work_cv_.notify_all();
  }
}

void ReadEngine::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    Chunk c = queue_.front();
    queue_.pop_front();
    if (prefetched_ > 0) {
      --prefetched_;
      prefetched_bytes_ -= c.length;
    }
    // A request that already failed skips its remaining chunks.
    if (!c.request->status.ok()) {
      FinishChunkLocked(c.request, Status::Ok());
      continue;
    }
    std::vector<Prefetch> prefetch = AdvancePrefetchLocked();
    lock.unlock();
    for (const Prefetch& p : prefetch) p.source->WillRead(p.offset, p.length);
    Status s = c.length == 0 ? Status::Ok()
                             : c.request->source->ReadAt(
                                   c.offset, c.destination, c.length);
    lock.lock();
    FinishChunkLocked(c.request, std::move(s));
  }
}

std::vector<ReadEngine::Prefetch> ReadEngine::AdvancePrefetchLocked() {
  std::vector<Prefetch> out;
  while (prefetched_ < queue_.size() &&
         prefetched_bytes_ < options_.prefetch_bytes) {
    const Chunk& c = queue_[prefetched_++];
    prefetched_bytes_ += c.length;
    // Neighbouring chunks of one source become one hint.
    if (!out.empty() && out.back().source == c.request->source &&
        out.back().offset + out.back().length == c.offset) {
      out.back().length += c.length;
    } else {
      out.push_back(Prefetch{c.request->source, c.offset, c.length});
    }
  }
  return out;
}

void ReadEngine::FinishChunkLocked(Pending* request, Status status) {
  if (!status.ok() && request->status.ok()) request->status = std::move(status);
  if (--request->chunks_left > 0) return;
  completed_.push_back(
      ReadCompletion{request->tag, std::move(request->status)});
  delete request;
  done_cv_.notify_all();
}

std::optional<ReadCompletion> ReadEngine::WaitNext() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock,
                [this] { return !completed_.empty() || outstanding_ == 0; });
  if (completed_.empty()) return std::nullopt;
  ReadCompletion c = std::move(completed_.front());
  completed_.pop_front();
  --outstanding_;
  return c;
}

size_t ReadEngine::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outstanding_;
}

void ReadEngine::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!queue_.empty()) {
    Chunk c = queue_.front();
    queue_.pop_front();
    FinishChunkLocked(c.request, CancelledError("read cancelled"));
  }
  prefetched_ = 0;
  prefetched_bytes_ = 0;
}

}  // namespace weightstream
