#include "cpp/weightstream/tensor_streamer.h"

#include <algorithm>
#include <string>
#include <utility>

namespace weightstream {

StatusOr<std::shared_ptr<const SafetensorsFile>> OpenSafetensors(
    std::shared_ptr<Source> source) {
  WS_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(*source));
  auto file = std::make_shared<SafetensorsFile>();
  file->source = std::move(source);
  file->header = std::move(header);
  return std::shared_ptr<const SafetensorsFile>(std::move(file));
}

TensorStreamer::TensorStreamer(TensorStreamerOptions options)
    : options_(options), engine_(options.engine) {}

TensorStreamer::~TensorStreamer() {
  engine_.Cancel();
  while (engine_.WaitNext()) {
  }
}

StatusOr<size_t> TensorStreamer::AddFile(
    std::shared_ptr<const SafetensorsFile> file, std::vector<size_t> tensors) {
  if (!error_.ok()) return error_;
  const size_t count = file->header.tensors.size();
  if (tensors.empty()) {
    tensors.resize(count);
    for (size_t i = 0; i < count; ++i) tensors[i] = i;
  }
  for (size_t t : tensors) {
    if (t >= count) {
      return InvalidArgumentError(file->source->name() + ": tensor index " +
                                  std::to_string(t) + " out of range");
    }
  }
  // Read in file order whatever order the caller named them in.
  std::sort(tensors.begin(), tensors.end());
  const size_t file_index = files_.size();
  files_.push_back(std::move(file));
  for (size_t t : tensors) queued_.push_back(Item{file_index, t});
  WS_RETURN_IF_ERROR(Admit());
  return file_index;
}

Status TensorStreamer::Admit() {
  const uint64_t limit = options_.memory_limit;
  while (!queued_.empty()) {
    const Item item = queued_.front();
    const SafetensorsFile& file = *files_[item.file_index];
    const TensorInfo& info = file.header.tensors[item.tensor_index];
    const uint64_t bytes = info.nbytes();
    // Over budget: wait, unless nothing is held (a tensor larger than the
    // whole budget must still go through, alone).
    if (limit != 0 && held_bytes_ != 0 &&
        bytes > limit - std::min(limit, held_bytes_)) {
      break;
    }
    queued_.pop_front();
    auto buffer = HostBuffer::Allocate(bytes);
    if (!buffer.ok()) {
      return Fail(ResourceExhaustedError(file.source->name() + ": tensor '" +
                                         info.name +
                                         "': " + buffer.status().message()));
    }
    const uint64_t tag = next_tag_++;
    ReadRequest request{file.source, file.header.data_start + info.begin, bytes,
                        buffer->data(), tag};
    in_flight_.emplace(tag, InFlight{item, std::move(buffer).value(), bytes});
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
    const SafetensorsFile& file = *files_[it->second.item.file_index];
    const TensorInfo& info = file.header.tensors[it->second.item.tensor_index];
    Status s(done->status.code(),
             done->status.message() + " (reading tensor '" + info.name + "')");
    s.set_os_errno(done->status.os_errno());
    return Fail(std::move(s));
  }
  InFlight finished = std::move(it->second);
  in_flight_.erase(it);
  held_bytes_ -= finished.bytes;
  // Keep the readers busy while the caller works on this tensor.
  WS_RETURN_IF_ERROR(Admit());
  return std::optional<StreamedTensor>(
      StreamedTensor{finished.item.file_index, finished.item.tensor_index,
                     std::move(finished.buffer)});
}

}  // namespace weightstream
