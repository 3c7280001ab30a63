// Streams the tensors of safetensors files into freshly allocated buffers,
// handing each one out as soon as it is complete, under a memory budget.
//
// The budget bounds the bytes the streamer holds: tensors being read plus
// tensors read but not yet handed out. A tensor handed out belongs to the
// caller and no longer counts; the streamer never reuses its memory. A tensor
// larger than the whole budget is still streamed, alone, so that any file can
// be loaded. A budget of 0 means unlimited.
//
// Tensors are read in file order (file by file, by offset) and handed out in
// the order their reads complete. The first error stops the stream: queued
// reads are cancelled, running ones drained, and Next() returns the error.
#ifndef WEIGHTSTREAM_TENSOR_STREAMER_H_
#define WEIGHTSTREAM_TENSOR_STREAMER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/read_engine.h"
#include "cpp/weightstream/safetensors.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// One parsed file, shared between the streamer and whoever opened it.
struct SafetensorsFile {
  std::shared_ptr<Source> source;
  SafetensorsHeader header;
};

// Opens and parses a safetensors file from a source.
StatusOr<std::shared_ptr<const SafetensorsFile>> OpenSafetensors(
    std::shared_ptr<Source> source);

struct StreamedTensor {
  size_t file_index;    // Order of AddFile() calls.
  size_t tensor_index;  // Index into that file's header.tensors.
  HostBuffer buffer;
};

struct TensorStreamerOptions {
  ReadEngineOptions engine;
  uint64_t memory_limit = 0;  // 0: unlimited.
};

class TensorStreamer {
 public:
  explicit TensorStreamer(TensorStreamerOptions options);
  ~TensorStreamer();

  // Queues tensors of `file` (the indices into header.tensors, or all if
  // `tensors` is empty) and starts reading as the budget allows.
  // Returns the file index used in StreamedTensor.
  StatusOr<size_t> AddFile(std::shared_ptr<const SafetensorsFile> file,
                           std::vector<size_t> tensors = {});

  // Blocks until the next tensor is complete. std::nullopt when every queued
  // tensor has been handed out. Safe to call without any interpreter lock.
  StatusOr<std::optional<StreamedTensor>> Next();

  // Bytes currently held (in flight or complete, not handed out).
  uint64_t held_bytes() const { return held_bytes_; }
  // The most bytes held at any time.
  uint64_t peak_held_bytes() const { return peak_held_bytes_; }

 private:
  struct Item {
    size_t file_index;
    size_t tensor_index;
  };
  struct InFlight {
    Item item;
    HostBuffer buffer;
    uint64_t bytes;
  };

  // Starts reads for queued tensors while the budget allows.
  Status Admit();
  Status Fail(Status status);

  const TensorStreamerOptions options_;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::deque<Item> queued_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  uint64_t next_tag_ = 0;
  uint64_t held_bytes_ = 0;
  uint64_t peak_held_bytes_ = 0;
  Status error_;
  // Last: destroyed first, so running reads finish before buffers are freed.
  ReadEngine engine_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_TENSOR_STREAMER_H_
