#include "cpp/weightstream/local_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace weightstream {
namespace {

class LocalFile final : public Source {
 public:
  LocalFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~LocalFile() override { ::close(fd_); }
  LocalFile(const LocalFile&) = delete;
  LocalFile& operator=(const LocalFile&) = delete;

  const std::string& name() const override { return path_; }
  uint64_t size() const override { return size_; }

  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    if (!RangeWithin(offset, length, size_)) {
      return InvalidArgumentError(
          path_ + ": read of " + std::to_string(length) + " bytes at offset " +
          std::to_string(offset) + " is outside the file (" +
          std::to_string(size_) + " bytes)");
    }
    char* out = static_cast<char*>(dst);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd_, out + done, length - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return OsError(errno, path_ + ": read at offset " +
                                  std::to_string(offset + done) + " failed");
      }
      if (n == 0) {
        return IoError(path_ + ": unexpected end of file at offset " +
                       std::to_string(offset + done) + " (expected " +
                       std::to_string(size_) +
                       " bytes): the file shrank while it was being read");
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  void WillRead(uint64_t offset, uint64_t length) override {
#ifdef POSIX_FADV_WILLNEED
    ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                    POSIX_FADV_WILLNEED);
#else
    (void)offset;
    (void)length;
#endif
  }

 private:
  const std::string path_;
  const int fd_;
  const uint64_t size_;
};

}  // namespace

StatusOr<std::shared_ptr<Source>> OpenLocalFile(const std::string& path) {
  int fd;
  do {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
    // rejected as not a regular file); it changes nothing for regular files.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return OsError(errno, path + ": cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return OsError(err, path + ": cannot stat");
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path + ": is a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path + ": not a regular file");
  }
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  return std::shared_ptr<Source>(
      new LocalFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

}  // namespace weightstream
