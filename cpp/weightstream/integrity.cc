#include "cpp/weightstream/integrity.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "cpp/weightstream/file_hasher.h"
#include "cpp/weightstream/tensor_streamer.h"

namespace weightstream {

StatusOr<std::string> Sha256OfSource(std::shared_ptr<Source> source,
                                     const ReadEngineOptions& options,
                                     uint64_t memory_limit) {
  const uint64_t size = source->size();
  const uint64_t piece = std::max<uint64_t>(options.chunk_bytes, 1);
  std::vector<StreamItem> items;
  for (uint64_t offset = 0; offset < size; offset += piece) {
    items.push_back(StreamItem{offset, std::min(piece, size - offset),
                               items.size(), "bytes"});
  }
  TensorStreamer streamer(
      TensorStreamerOptions{options, std::max(memory_limit, 2 * piece)});
  WS_ASSIGN_OR_RETURN(size_t file,
                      streamer.AddSource(source, std::move(items)));
  FileHasher hasher(source, streamer.ranges(file));
  // Pieces that completed ahead of the hash position wait here; the streamer's
  // budget bounds how far ahead reads can run, so this stays small.
  std::map<uint64_t, HostBuffer> waiting;
  for (;;) {
    WS_ASSIGN_OR_RETURN(std::optional<StreamedTensor> next, streamer.Next());
    if (!next) break;
    const uint64_t offset = next->offset;
    const uint64_t length = next->buffer.size();
    const void* data = next->buffer.data();
    waiting.emplace(offset, std::move(next->buffer));
    WS_RETURN_IF_ERROR(hasher.Add(offset, length, data));
    waiting.erase(waiting.begin(), waiting.lower_bound(hasher.hashed_until()));
  }
  return hasher.Finish();
}

}  // namespace weightstream
