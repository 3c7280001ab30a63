// Owned, aligned host memory that tensors are read into.
//
// Buffers are allocated untouched: the reads that fill them fault the pages in,
// in parallel on the reader threads, instead of a separate zeroing pass.
#ifndef WEIGHTSTREAM_HOST_BUFFER_H_
#define WEIGHTSTREAM_HOST_BUFFER_H_

#include <cstddef>
#include <cstdint>

#include "cpp/weightstream/status.h"

namespace weightstream {

class HostBuffer {
 public:
  // Alignment of every buffer: enough for any element type and for SIMD.
  static constexpr size_t kAlignment = 64;

  HostBuffer() = default;
  ~HostBuffer();
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  // Allocates `size` bytes (a zero size still yields a valid pointer).
  // Errors: kResourceExhausted naming the size.
  static StatusOr<HostBuffer> Allocate(uint64_t size);

  void* data() const { return data_; }
  uint64_t size() const { return size_; }

  // Gives up ownership; the caller must pass the pointer to Free().
  void* Release();
  static void Free(void* data);

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace weightstream

#endif  // WEIGHTSTREAM_HOST_BUFFER_H_
