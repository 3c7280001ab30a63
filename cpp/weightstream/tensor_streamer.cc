#include "cpp/weightstream/tensor_streamer.h"

#include <algorithm>
#include <cstring>
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
  uint64_t preferred = sources_.back()->PreferredReadBytes();
  // A coalesced read reserves twice its size (see Admit): keep it within
  // the budget.
  if (options_.memory_limit != 0) {
    preferred = std::min(preferred, options_.memory_limit / 2);
  }
  for (StreamItem& item : items) {
    if (preferred > 0 && !queued_.empty() &&
        queued_.back().file_index == file_index) {
      Item& last = queued_.back();
      const uint64_t end = last.offset + last.length;
      // Forward gaps only: overlapping items are read separately.
      if (item.offset >= end && item.offset - end <= kMaxCoalesceGapBytes &&
          item.offset + item.length - last.offset <= preferred) {
        last.length = item.offset + item.length - last.offset;
        last.members.push_back(std::move(item));
        continue;
      }
    }
    const uint64_t offset = item.offset;
    const uint64_t length = item.length;
    std::vector<StreamItem> members;
    members.push_back(std::move(item));
    queued_.push_back(Item{file_index, offset, length, std::move(members)});
  }
  WS_RETURN_IF_ERROR(Admit());
  return file_index;
}

Status TensorStreamer::Split(InFlight finished) {
  const Item& item = finished.item;
  const char* base = static_cast<const char*>(finished.buffer.data());
  for (const StreamItem& m : item.members) {
    auto buffer = HostBuffer::Allocate(m.length);
    if (!buffer.ok()) {
      return ResourceExhaustedError(sources_[item.file_index]->name() +
                                    ": tensor '" + m.name +
                                    "': " + buffer.status().message());
    }
    if (m.length > 0) {
      std::memcpy(buffer->data(), base + (m.offset - item.offset), m.length);
    }
    ready_.push_back(StreamedTensor{item.file_index, m.id, m.offset,
                                    std::move(buffer).value()});
  }
  // The members' buffers replace the reservation (which covered them).
  held_bytes_ -= finished.bytes;
  for (const StreamItem& m : item.members) held_bytes_ += m.length;
  return Status::Ok();
}

Status TensorStreamer::Admit() {
  const uint64_t limit = options_.memory_limit;
  while (!queued_.empty()) {
    // A coalesced read is copied out into its members' buffers, so it
    // holds twice its size for a moment: reserve that.
    const uint64_t length = queued_.front().length;
    const uint64_t bytes =
        queued_.front().members.size() > 1 ? 2 * length : length;
    // Over budget: wait, unless nothing is held (a tensor larger than the
    // whole budget must still go through, alone).
    if (limit != 0 && held_bytes_ != 0 &&
        bytes > limit - std::min(limit, held_bytes_)) {
      break;
    }
    Item item = std::move(queued_.front());
    queued_.pop_front();
    const std::shared_ptr<Source>& source = sources_[item.file_index];
    auto buffer = HostBuffer::Allocate(length);
    if (!buffer.ok()) {
      return Fail(ResourceExhaustedError(source->name() + ": tensor '" +
                                         item.members.front().name +
                                         "': " + buffer.status().message()));
    }
    const uint64_t tag = next_tag_++;
    ReadRequest request{source, item.offset, length, buffer->data(), tag};
    in_flight_.emplace(
        tag, InFlight{std::move(item), std::move(buffer).value(), bytes});
    held_bytes_ += bytes;
    peak_held_bytes_ = std::max(peak_held_bytes_, held_bytes_);
    ++reads_submitted_;
    engine_.Submit(std::move(request));
  }
  return Status::Ok();
}

Status TensorStreamer::Fail(Status status) {
  error_ = std::move(status);
  queued_.clear();
  ready_.clear();
  engine_.Cancel();
  while (engine_.WaitNext()) {
  }
  in_flight_.clear();
  held_bytes_ = 0;
  return error_;
}

StatusOr<std::optional<StreamedTensor>> TensorStreamer::Next() {
  if (!error_.ok()) return error_;
  if (!ready_.empty()) {
    std::optional<StreamedTensor> t = PopReady();
    WS_RETURN_IF_ERROR(Admit());
    return t;
  }
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
    const std::vector<StreamItem>& members = it->second.item.members;
    std::string which = "tensor '" + members.front().name + "'";
    if (members.size() > 1) {
      which += " and " + std::to_string(members.size() - 1) +
               " neighbouring tensors read with it";
    }
    Status s(done->status.code(),
             done->status.message() + " (reading " + which + ")");
    s.set_http_status(done->status.http_status());
    s.set_os_errno(done->status.os_errno());
    return Fail(std::move(s));
  }
  InFlight finished = std::move(it->second);
  in_flight_.erase(it);
  if (finished.item.members.size() > 1) {
    Status split = Split(std::move(finished));
    if (!split.ok()) return Fail(std::move(split));
    WS_RETURN_IF_ERROR(Admit());
    return PopReady();
  }
  held_bytes_ -= finished.bytes;
  // Keep the readers busy while the caller works on this tensor.
  WS_RETURN_IF_ERROR(Admit());
  const StreamItem& only = finished.item.members.front();
  return std::optional<StreamedTensor>(
      StreamedTensor{finished.item.file_index, only.id, only.offset,
                     std::move(finished.buffer)});
}

std::optional<StreamedTensor> TensorStreamer::PopReady() {
  StreamedTensor t = std::move(ready_.front());
  ready_.pop_front();
  held_bytes_ -= t.buffer.size();
  return t;
}

}  // namespace weightstream
