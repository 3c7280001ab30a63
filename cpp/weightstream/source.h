// Where bytes come from: a random-access, fixed-size byte source.
//
// The engine reads every format through this interface. The local file is the
// first implementation; remote stores (S3, GCS, Azure, HTTP) plug in behind it
// later, each loaded at run time, so the contract is deliberately small:
// open once, know the size, read exact ranges concurrently.
#ifndef WEIGHTSTREAM_SOURCE_H_
#define WEIGHTSTREAM_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cpp/weightstream/status.h"

namespace weightstream {

class Source {
 public:
  virtual ~Source() = default;

  // The path or URL, for messages. Never contains credentials.
  virtual const std::string& name() const = 0;

  // Size in bytes as of opening. Formats validate against this size; a source
  // that later returns fewer bytes fails the read instead of returning less.
  virtual uint64_t size() const = 0;

  // Reads exactly `length` bytes starting at `offset` into `dst`.
  // Thread-safe: the engine calls it from many threads at once.
  // Errors: kIo naming the offset if fewer bytes exist (e.g. the file shrank),
  // kInvalidArgument if the range is outside [0, size()).
  virtual Status ReadAt(uint64_t offset, void* dst, size_t length) = 0;

  // A hint that [offset, offset + length) will be read soon. Optional.
  virtual void WillRead(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
  }

  // The request size this source reads efficiently, or 0 for "any": a
  // remote source (one HTTP request per read) prefers few large reads, so
  // readers size their chunks by it and coalesce small neighbouring ranges.
  virtual uint64_t PreferredReadBytes() const { return 0; }
  // Reads in flight the source is tuned for, or 0 for "no preference".
  virtual uint32_t PreferredConcurrency() const { return 0; }
};

// Checks that [offset, offset + length) lies within a source of `size` bytes,
// without overflowing.
inline bool RangeWithin(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

}  // namespace weightstream

#endif  // WEIGHTSTREAM_SOURCE_H_
