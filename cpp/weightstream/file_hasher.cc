#include "cpp/weightstream/file_hasher.h"

#include <algorithm>
#include <vector>

namespace weightstream {
namespace {
constexpr uint64_t kGapReadBytes = 1 << 20;
}  // namespace

FileHasher::FileHasher(std::shared_ptr<Source> source,
                       std::vector<std::pair<uint64_t, uint64_t>> pieces)
    : source_(std::move(source)), pieces_(std::move(pieces)) {
  // Empty pieces carry no bytes; dropping them keeps offsets unique.
  pieces_.erase(std::remove_if(pieces_.begin(), pieces_.end(),
                               [](const auto& p) { return p.second == 0; }),
                pieces_.end());
  std::sort(pieces_.begin(), pieces_.end());
}

Status FileHasher::Add(uint64_t offset, uint64_t length, const void* data) {
  if (length == 0) return Status::Ok();
  auto it = std::lower_bound(pieces_.begin(), pieces_.end(),
                             std::make_pair(offset, length));
  if (it == pieces_.end() || it->first != offset || it->second != length ||
      offset < position_ || !arrived_.emplace(offset, data).second) {
    return InvalidArgumentError(
        source_->name() + ": the hasher did not expect " +
        std::to_string(length) + " bytes at offset " + std::to_string(offset));
  }
  return Advance();
}

Status FileHasher::HashGap(uint64_t end) {
  std::vector<char> buffer(std::min(kGapReadBytes, end - position_));
  while (position_ < end) {
    const uint64_t n = std::min<uint64_t>(buffer.size(), end - position_);
    WS_RETURN_IF_ERROR(source_->ReadAt(position_, buffer.data(), n));
    sha_.Update(buffer.data(), n);
    position_ += n;
  }
  return Status::Ok();
}

Status FileHasher::Advance() {
  while (next_piece_ < pieces_.size()) {
    const auto [offset, length] = pieces_[next_piece_];
    auto it = arrived_.find(offset);
    if (it == arrived_.end()) return Status::Ok();
    if (offset > position_) WS_RETURN_IF_ERROR(HashGap(offset));
    sha_.Update(it->second, length);
    position_ = offset + length;
    arrived_.erase(it);
    ++next_piece_;
  }
  return Status::Ok();
}

StatusOr<std::string> FileHasher::Finish() {
  if (next_piece_ < pieces_.size()) {
    return InternalError(source_->name() + ": the bytes at offset " +
                         std::to_string(pieces_[next_piece_].first) +
                         " never reached the hasher");
  }
  WS_RETURN_IF_ERROR(HashGap(source_->size()));
  return Sha256::Hex(sha_.Finish());
}

}  // namespace weightstream
