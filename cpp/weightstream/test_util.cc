#include "cpp/weightstream/test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

namespace weightstream::testing {

std::string WriteTempFile(std::string_view contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string templ = std::string(dir ? dir : "/tmp") + "/ws_test_XXXXXX";
  int fd = ::mkstemp(templ.data());
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return templ;
}

std::string SafetensorsBytes(std::string_view header_json,
                             std::string_view data) {
  std::string header(header_json);
  while (header.size() % 8 != 0) header += ' ';
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += header;
  out += data;
  return out;
}

Status MemorySource::ReadAt(uint64_t offset, void* dst, size_t length) {
  ++reads_;
  if (!RangeWithin(offset, length, bytes_.size())) {
    return InvalidArgumentError(name_ + ": read outside the source");
  }
  if (offset + length > fail_from_.load()) {
    return IoError(name_ + ": injected failure at offset " +
                   std::to_string(offset));
  }
  if (offset + length > shrunk_to_.load()) {
    return IoError(name_ + ": unexpected end of file at offset " +
                   std::to_string(shrunk_to_.load()));
  }
  std::memcpy(dst, bytes_.data() + offset, length);
  return Status::Ok();
}

}  // namespace weightstream::testing
