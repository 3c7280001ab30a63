#include "cpp/weightstream/device_stager.h"

#include <algorithm>
#include <utility>

namespace weightstream {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

DeviceStager::DeviceStager(CopyEngine* engine, DeviceStagerOptions options)
    : engine_(engine), options_(options) {
  options_.threads = std::max(1, options_.threads);
  options_.slot_bytes =
      RoundUp(std::max<uint64_t>(kPage, options_.slot_bytes), kPage);
}

DeviceStager::~DeviceStager() { Stop(); }

void DeviceStager::Stop() {
  Cancel();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (staging_ != nullptr) {
    engine_->Release(staging_);
    staging_ = nullptr;
  }
}

Status DeviceStager::Start(std::vector<DeviceCopy> copies) {
  if (!copies_.empty() || !threads_.empty() || done_) {
    return InvalidArgumentError("DeviceStager::Start called twice");
  }
  copies_ = std::move(copies);
  uint64_t largest = 0;
  size_t total_chunks = 0;
  for (const DeviceCopy& c : copies_) {
    if (!RangeWithin(c.offset, c.length, c.source->size())) {
      return InvalidArgumentError(
          c.source->name() + ": tensor '" + c.name + "' (" +
          std::to_string(c.length) + " bytes at offset " +
          std::to_string(c.offset) + ") lies outside the file of " +
          std::to_string(c.source->size()) + " bytes");
    }
    largest = std::max(largest, c.length);
  }
  // The ring needs no slot larger than the largest tensor.
  slot_bytes_ = std::min(options_.slot_bytes,
                         RoundUp(std::max<uint64_t>(largest, 1), kPage));
  chunks_left_.assign(copies_.size(), 0);
  for (size_t i = 0; i < copies_.size(); ++i) {
    const DeviceCopy& c = copies_[i];
    if (c.length == 0) {
      completed_.push_back(c.id);
      continue;
    }
    for (uint64_t off = 0; off < c.length; off += slot_bytes_) {
      uint64_t len = std::min(slot_bytes_, c.length - off);
      chunks_.push_back(Chunk{i, c.offset + off, len, c.device_address + off});
      ++chunks_left_[i];
      ++total_chunks;
    }
  }
  const int streams = std::max(1, engine_->streams());
  int slots =
      options_.slots > 0 ? options_.slots : options_.threads + 2 * streams;
  slots = static_cast<int>(std::min<size_t>(static_cast<size_t>(slots),
                                            std::max<size_t>(total_chunks, 1)));
  const int readers = static_cast<int>(
      std::min<size_t>(options_.threads, std::max<size_t>(total_chunks, 1)));
  if (total_chunks == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    return Status::Ok();
  }
  StatusOr<void*> staging =
      engine_->Prepare(slots, static_cast<uint64_t>(slots) * slot_bytes_);
  if (!staging.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    error_ = staging.status();
    return staging.status();
  }
  staging_ = static_cast<char*>(*staging);
  slots_ = slots;
  for (int s = slots - 1; s >= 0; --s) free_slots_.push_back(s);
  readers_running_ = readers;
  threads_.reserve(readers + 1);
  for (int i = 0; i < readers; ++i)
    threads_.emplace_back([this] { ReaderLoop(); });
  threads_.emplace_back([this] { CompleterLoop(); });
  return Status::Ok();
}

void DeviceStager::FailLocked(Status status) {
  if (error_.ok()) error_ = std::move(status);
  stopping_ = true;
  chunks_.clear();
  reader_cv_.notify_all();
  next_cv_.notify_all();
}

void DeviceStager::ReaderLoop() {
  const int streams = std::max(1, engine_->streams());
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    reader_cv_.wait(lock, [this] {
      return stopping_ || chunks_.empty() || !free_slots_.empty();
    });
    if (stopping_ || chunks_.empty()) break;
    Chunk c = chunks_.front();
    chunks_.pop_front();
    int slot = free_slots_.back();
    free_slots_.pop_back();
    peak_in_use_ = std::max(peak_in_use_, ++in_use_);
    const DeviceCopy& copy = copies_[c.copy];
    lock.unlock();
    char* buffer = staging_ + static_cast<uint64_t>(slot) * slot_bytes_;
    Status st = copy.source->ReadAt(c.offset, buffer, c.length);
    if (st.ok()) {
      st = engine_->CopyAsync(slot % streams, slot, c.device_address, buffer,
                              c.length);
      if (!st.ok()) {
        st = Status(st.code(), engine_->device_name() + ": copying tensor '" +
                                   copy.name + "' of " + copy.source->name() +
                                   " to the device failed: " + st.message());
      }
    }
    lock.lock();
    if (!st.ok()) {
      free_slots_.push_back(slot);
      --in_use_;
      FailLocked(std::move(st));
      break;
    }
    queued_.push_back(Queued{slot, c.copy});
    completer_cv_.notify_one();
  }
  if (--readers_running_ == 0) completer_cv_.notify_one();
}

void DeviceStager::CompleterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    completer_cv_.wait(
        lock, [this] { return !queued_.empty() || readers_running_ == 0; });
    if (queued_.empty()) break;  // and no reader can queue more
    Queued q = queued_.front();
    queued_.pop_front();
    lock.unlock();
    Status st = engine_->Wait(q.slot);
    lock.lock();
    free_slots_.push_back(q.slot);
    --in_use_;
    reader_cv_.notify_one();
    if (!st.ok()) {
      const DeviceCopy& copy = copies_[q.copy];
      FailLocked(
          Status(st.code(), engine_->device_name() + ": copying tensor '" +
                                copy.name + "' of " + copy.source->name() +
                                " to the device failed: " + st.message()));
    } else if (--chunks_left_[q.copy] == 0 && error_.ok()) {
      completed_.push_back(copies_[q.copy].id);
      next_cv_.notify_one();
    }
  }
  done_ = true;
  next_cv_.notify_all();
}

StatusOr<std::optional<size_t>> DeviceStager::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  next_cv_.wait(
      lock, [this] { return done_ || (error_.ok() && !completed_.empty()); });
  if (!error_.ok()) return error_;
  if (!completed_.empty()) {
    size_t id = completed_.front();
    completed_.pop_front();
    ++returned_;
    return std::optional<size_t>(id);
  }
  if (returned_ < copies_.size()) {
    // Readers stopped without an error: cancelled.
    error_ = CancelledError(engine_->device_name() + ": copy cancelled");
    return error_;
  }
  return std::optional<size_t>();
}

void DeviceStager::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  chunks_.clear();
  reader_cv_.notify_all();
}

int DeviceStager::peak_slots_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_in_use_;
}

}  // namespace weightstream
