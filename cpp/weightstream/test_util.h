// Helpers for the core's tests: temporary files and an in-memory Source.
#ifndef WEIGHTSTREAM_TEST_UTIL_H_
#define WEIGHTSTREAM_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream::testing {

// Writes `contents` to a new file under $TEST_TMPDIR (or /tmp); returns its
// path.
std::string WriteTempFile(std::string_view contents);

// Builds safetensors bytes: header JSON as given (padded with spaces to a
// multiple of 8) followed by `data`.
std::string SafetensorsBytes(std::string_view header_json,
                             std::string_view data);

// An in-memory Source. Reads can be made to fail from a given offset on, to
// exercise error paths without a real faulty disk.
class MemorySource : public Source {
 public:
  MemorySource(std::string name, std::string bytes)
      : name_(std::move(name)), bytes_(std::move(bytes)) {}

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t length) override;

  // Every read touching [offset, end) fails with kIo from now on.
  void FailFrom(uint64_t offset) { fail_from_ = offset; }
  // Reads past `size` come back short, as if the file shrank after opening.
  void ShrinkTo(uint64_t size) { shrunk_to_ = size; }
  int reads() const { return reads_.load(); }

 private:
  std::string name_;
  std::string bytes_;
  std::atomic<uint64_t> fail_from_{~uint64_t{0}};
  std::atomic<uint64_t> shrunk_to_{~uint64_t{0}};
  std::atomic<int> reads_{0};
};

}  // namespace weightstream::testing

#endif  // WEIGHTSTREAM_TEST_UTIL_H_
