// Hashes a whole source with SHA-256 from pieces that arrive in any order.
//
// The loader reads tensors in parallel and they complete out of order, while
// SHA-256 must see the bytes in order. The hasher keeps the pieces that
// arrived early and hashes as soon as the next bytes are there, so the hash is
// computed from the destination buffers as the load proceeds, on the thread
// that collects results: no second read of the file, no reader thread stalled.
// Bytes that no piece covers (a header, padding between tensors) are read from
// the source by the hasher itself.
#ifndef WEIGHTSTREAM_FILE_HASHER_H_
#define WEIGHTSTREAM_FILE_HASHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpp/weightstream/sha256.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

class FileHasher {
 public:
  // `pieces`: the (offset, length) ranges that will be delivered with Add();
  // they must not overlap. Everything else is read from `source`.
  FileHasher(std::shared_ptr<Source> source,
             std::vector<std::pair<uint64_t, uint64_t>> pieces);

  // Delivers the bytes of the piece [offset, offset + length). `data` must
  // stay valid until hashed_until() has passed the piece (at the latest, until
  // Finish()). Empty pieces are ignored. Errors: kInvalidArgument for a piece
  // not announced or delivered twice, kIo from gap reads.
  Status Add(uint64_t offset, uint64_t length, const void* data);

  // Everything before this offset has been hashed.
  uint64_t hashed_until() const { return position_; }

  // Hashes the rest (only gaps may remain) and returns the hex digest.
  // Errors: kInternal if a piece was never delivered, kIo from gap reads.
  StatusOr<std::string> Finish();

 private:
  // Hashes forward from position_ as far as the delivered pieces allow.
  Status Advance();
  Status HashGap(uint64_t end);

  std::shared_ptr<Source> source_;
  // Sorted by offset: offset -> length.
  std::vector<std::pair<uint64_t, uint64_t>> pieces_;
  size_t next_piece_ = 0;
  // Delivered, not yet hashed: offset -> data.
  std::map<uint64_t, const void*> arrived_;
  uint64_t position_ = 0;
  Sha256 sha_;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_FILE_HASHER_H_
