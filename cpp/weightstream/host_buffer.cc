#include "cpp/weightstream/host_buffer.h"

#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

namespace weightstream {

HostBuffer::~HostBuffer() { Free(data_); }

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    Free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

StatusOr<HostBuffer> HostBuffer::Allocate(uint64_t size) {
  // aligned_alloc wants a multiple of the alignment; round up without overflow.
  if (size > std::numeric_limits<size_t>::max() - kAlignment) {
    return ResourceExhaustedError("cannot allocate " + std::to_string(size) +
                                  " bytes");
  }
  size_t rounded =
      (static_cast<size_t>(size) + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr) {
    return ResourceExhaustedError("out of memory allocating " +
                                  std::to_string(size) + " bytes");
  }
  HostBuffer b;
  b.data_ = p;
  b.size_ = size;
  return b;
}

void* HostBuffer::Release() {
  size_ = 0;
  return std::exchange(data_, nullptr);
}

void HostBuffer::Free(void* data) { std::free(data); }

}  // namespace weightstream
