#include "cpp/weightstream/tensor_streamer.h"

#include <algorithm>
#include <string>
#include <utility>

namespace weightstream {

TensorStreamer::TensorStreamer(TensorStreamerOptions options)
    : options_(options), engine_(options.engine) {}

TensorStreamer::~TensorStreamer() {
  engine_.Cancel();
  while (engine_.WaitNext()) {
  }
}

StatusOr<size_t> TensorStreamer::AddFile(
    std::shared_ptr<const SafetensorsFile> file, std::vector<size_t> tensors) {
  const std::vector<TensorInfo>& infos = file->header.tensors;
  if (tensors.empty()) {
    tensors.resize(infos.size());
    for (size_t i = 0; i < infos.size(); ++i) tensors[i] = i;
  }
  std::vector<StreamItem> items;
  items.reserve(tensors.size());
  for (size_t t : tensors) {
    if (t >= infos.size()) {
      return InvalidArgumentError(file->source->name() + ": tensor index " +
                                  std::to_string(t) + " out of range");
    }
    items.push_back(StreamItem{file->header.data_start + infos[t].begin,
                               infos[t].nbytes(), t, infos[t].name});
  }
  return AddSource(file->source, std::move(items));
}

StatusOr<size_t> TensorStreamer::AddSource(std::shared_ptr<Source> source,
                                           std::vector<StreamItem> items) {
  if (!error_.ok()) return error_;
  for (const StreamItem& item : items) {
    if (!RangeWithin(item.offset, item.length, source->size())) {
      return InvalidArgumentError(
          source->name() + ": tensor '" + item.name + "' (" +
          std::to_string(item.length) + " bytes at offset " +
          std::to_string(item.offset) + ") lies outside the file");
    }
  }
  // Read in file order whatever order the caller listed them in.
  std::stable_sort(items.begin(), items.end(),
                   [](const StreamItem& a, const StreamItem& b) {
                     return a.offset < b.offset;
                   });
  const size_t file_index = sources_.size();
  sources_.push_back(std::move(source));
  std::vector<std::pair<uint64_t, uint64_t>>& ranges = ranges_.emplace_back();
  ranges.reserve(items.size());
  for (const StreamItem& item : items) {
    ranges.emplace_back(item.offset, item.length);
  }
  for (StreamItem& item : items) {
    queued_.push_back(Item{file_index, std::move(item)});
  }
  WS_RETURN_IF_ERROR(Admit());
  return file_index;
}

Status TensorStreamer::Admit() {
  const uint64_t limit = options_.memory_limit;
  while (!queued_.empty()) {
    const uint64_t bytes = queued_.front().stream.length;
    // Over budget: wait, unless nothing is held (a tensor larger than the
    // whole budget must still go through, alone).
    if (limit != 0 && held_bytes_ != 0 &&
        bytes > limit - std::min(limit, held_bytes_)) {
      break;
    }
    Item item = std::move(queued_.front());
    queued_.pop_front();
    const std::shared_ptr<Source>& source = sources_[item.file_index];
    auto buffer = HostBuffer::Allocate(bytes);
    if (!buffer.ok()) {
      return Fail(ResourceExhaustedError(source->name() + ": tensor '" +
                                         item.stream.name +
                                         "': " + buffer.status().message()));
    }
    const uint64_t tag = next_tag_++;
    ReadRequest request{source, item.stream.offset, bytes, buffer->data(), tag};
    in_flight_.emplace(
        tag, InFlight{std::move(item), std::move(buffer).value(), bytes});
    held_bytes_ += bytes;
    peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_);
    engine_.Submit(std::move(request));
  }
  return Status::Ok();
}

Status TensorStreamer::Fail(Status status) {
  error_ = std::move(status);
  queued_.clear();
  engine_.Cancel();
  while (engine_.WaitNext()) {
  }
  in_flight_.clear();
  held_bytes_ = 0;
  return error_;
}

StatusOr<std::optional<StreamedTensor>> TensorStreamer::Next() {
  if (!error_.ok()) return error_;
  if (in_flight_.empty()) {
    WS_RETURN_IF_ERROR(Admit());
    if (in_flight_.empty()) return std::optional<StreamedTensor>();
  }
  std::optional<ReadCompletion> done = engine_.WaitNext();
  if (!done) return Fail(InternalError("read engine lost a request"));
  auto it = in_flight_.find(done->tag);
  if (it == in_flight_.end())
    return Fail(InternalError("unknown read completed"));
  if (!done->status.ok()) {
    Status s(done->status.code(), done->status.message() +
                                      " (reading tensor '" +
                                      it->second.item.stream.name + "')");
    s.set_os_errno(done->status.os_errno());
    return Fail(std::move(s));
  }
  InFlight finished = std::move(it->second);
  in_flight_.erase(it);
  held_bytes_ -= finished.bytes;
  // Keep the readers busy while the caller works on this tensor.
  WS_RETURN_IF_ERROR(Admit());
  return std::optional<StreamedTensor>(
      StreamedTensor{finished.item.file_index, finished.item.stream.id,
                     finished.item.stream.offset, std::move(finished.buffer)});
}

}  // namespace weightstream
