// Streams tensors -- byte ranges of sources -- into freshly allocated buffers,
// handing each one out as soon as it is complete, under a memory budget.
// Formats only describe where their tensors are (AddSource); safetensors files
// have a shortcut (AddFile).
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
//
// Sources that prefer large reads (Source::PreferredReadBytes() > 0: remote
// objects, where every read is a request) get neighbouring tensors coalesced:
// tensors separated by at most kMaxCoalesceGapBytes are read together, up to
// the preferred size, and copied out of the shared read into their own
// buffers. Sources without a preference (local files) read every tensor
// straight into its own buffer, as before.
#ifndef WEIGHTSTREAM_TENSOR_STREAMER_H_
#define WEIGHTSTREAM_TENSOR_STREAMER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpp/weightstream/host_buffer.h"
#include "cpp/weightstream/read_engine.h"
#include "cpp/weightstream/safetensors.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// One tensor to stream: `length` bytes at `offset` of the source.
struct StreamItem {
  uint64_t offset = 0;
  uint64_t length = 0;
  // The caller's identifier, returned as StreamedTensor::tensor_index.
  size_t id = 0;
  // For error messages.
  std::string name;
};

struct StreamedTensor {
  size_t file_index;    // Order of AddSource()/AddFile() calls.
  size_t tensor_index;  // The item's id (for AddFile: index in header.tensors).
  uint64_t offset;      // Where the bytes came from in the source.
  HostBuffer buffer;
};

// The largest gap between two tensors that one coalesced read spans: the
// bytes in between are read and dropped, cheaper than another request.
inline constexpr uint64_t kMaxCoalesceGapBytes = 4096;

struct TensorStreamerOptions {
  ReadEngineOptions engine;
  uint64_t memory_limit = 0;  // 0: unlimited.
};

class TensorStreamer {
 public:
  explicit TensorStreamer(TensorStreamerOptions options);
  ~TensorStreamer();

  // Queues `items` of `source` (read in offset order) and starts reading as
  // the budget allows. Returns the file index used in StreamedTensor.
  // Errors: kInvalidArgument if an item lies outside the source.
  StatusOr<size_t> AddSource(std::shared_ptr<Source> source,
                             std::vector<StreamItem> items);

  // AddSource for tensors of a safetensors file: the indices into
  // header.tensors, or all of them if `tensors` is empty.
  StatusOr<size_t> AddFile(std::shared_ptr<const SafetensorsFile> file,
                           std::vector<size_t> tensors = {});

  // Blocks until the next tensor is complete. std::nullopt when every queued
  // tensor has been handed out. Safe to call without any interpreter lock.
  StatusOr<std::optional<StreamedTensor>> Next();

  // The source of a file index, and the (offset, length) of every item added
  // for it, in offset order (e.g. to verify the whole file as it streams).
  size_t file_count() const { return sources_.size(); }
  const std::shared_ptr<Source>& source(size_t file_index) const {
    return sources_[file_index];
  }
  const std::vector<std::pair<uint64_t, uint64_t>>& ranges(
      size_t file_index) const {
    return ranges_[file_index];
  }

  // Bytes currently held (in flight or complete, not handed out).
  uint64_t held_bytes() const { return held_bytes_; }
  // The most bytes held at any time.
  uint64_t peak_held_bytes() const { return peak_held_bytes_; }
  // Reads submitted to the engine so far (a coalesced read counts once).
  uint64_t reads_submitted() const { return reads_submitted_; }

 private:
  // One read: a single tensor, or several neighbouring ones coalesced.
  struct Item {
    size_t file_index;
    uint64_t offset;
    uint64_t length;
    std::vector<StreamItem> members;  // By offset; never empty.
  };
  struct InFlight {
    Item item;
    HostBuffer buffer;
    uint64_t bytes;
  };

  // Splits a completed coalesced read into one buffer per member, queued in
  // ready_.
  Status Split(InFlight finished);
  // Hands out the first of ready_ (not empty).
  std::optional<StreamedTensor> PopReady();

  // Starts reads for queued tensors while the budget allows.
  Status Admit();
  Status Fail(Status status);

  const TensorStreamerOptions options_;
  std::vector<std::shared_ptr<Source>> sources_;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> ranges_;
  std::deque<Item> queued_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  // Tensors of split coalesced reads, not yet handed out.
  std::deque<StreamedTensor> ready_;
  uint64_t reads_submitted_ = 0;
  uint64_t next_tag_ = 0;
  uint64_t held_bytes_ = 0;
  uint64_t peak_held_bytes_ = 0;
  Status error_;
  // Last: destroyed first, so running reads finish before buffers are freed.
  ReadEngine engine_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_TENSOR_STREAMER_H_
