// Tests for the local-file Source.
#include "cpp/weightstream/local_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::WriteTempFile;

// Bytes where every position has a distinct-looking value.
std::string PatternBytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>((i * 131 + (i >> 8) * 7 + 3) & 0xff);
  }
  return out;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir ? dir : "/tmp";
}

// A fresh path under the temp dir that does not exist yet.
std::string FreshPath(const std::string& stem) {
  static int counter = 0;
  return TempDir() + "/" + stem + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter++);
}

std::shared_ptr<Source> OpenOrDie(const std::string& path) {
  auto source = OpenLocalFile(path);
  EXPECT_TRUE(source.ok()) << source.status().message();
  return source.ok() ? *source : nullptr;
}

// Reads [offset, offset + length) and returns the bytes, or the error message.
std::string ReadRange(Source& source, uint64_t offset, size_t length) {
  std::string out(length, '\0');
  Status s = source.ReadAt(offset, out.data(), length);
  return s.ok() ? out : "error: " + s.message();
}

TEST(LocalFileTest, MissingFileIsNotFound) {
  const std::string path = TempDir() + "/definitely/not/here.safetensors";
  auto result = OpenLocalFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(result.status().os_errno(), ENOENT);
  EXPECT_THAT(result.status().message(), HasSubstr(path));
}

TEST(LocalFileTest, PathThroughARegularFileIsNotFound) {
  const std::string file = WriteTempFile("x");
  auto result = OpenLocalFile(file + "/child");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(result.status().os_errno(), ENOTDIR);
}

TEST(LocalFileTest, DirectoryIsInvalidArgument) {
  auto result = OpenLocalFile(TempDir());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("directory"));
  EXPECT_THAT(result.status().message(), HasSubstr(TempDir()));
}

TEST(LocalFileTest, CharacterDeviceIsInvalidArgument) {
  auto result = OpenLocalFile("/dev/null");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("not a regular file"));
}

TEST(LocalFileTest, FifoIsInvalidArgumentWithoutBlocking) {
  // open(O_RDONLY) on a FIFO would block until a writer appears; OpenLocalFile
  // must reject it at once. Should it hang, the test unblocks it itself.
  const std::string path = FreshPath("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  std::promise<Status> promise;
  std::future<Status> future = promise.get_future();
  std::thread opener([&] {
    auto result = OpenLocalFile(path);
    promise.set_value(result.ok() ? Status::Ok() : result.status());
  });
  bool blocked =
      future.wait_for(std::chrono::seconds(5)) != std::future_status::ready;
  if (blocked) {
    // Give the blocked open() a writer so that the thread can finish.
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    future.wait();
    if (fd >= 0) ::close(fd);
  }
  opener.join();
  EXPECT_FALSE(blocked) << "OpenLocalFile blocked on a FIFO";
  Status status = future.get();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a regular file"));
  ::unlink(path.c_str());
}

TEST(LocalFileTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: file permissions are not enforced";
  }
  const std::string path = WriteTempFile("secret");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  auto result = OpenLocalFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(result.status().os_errno(), EACCES);
  EXPECT_THAT(result.status().message(), HasSubstr(path));
}

TEST(LocalFileTest, NameAndSize) {
  const std::string path = WriteTempFile(PatternBytes(12345));
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->name(), path);
  EXPECT_EQ(source->size(), 12345u);
}

TEST(LocalFileTest, EmptyFile) {
  auto source = OpenOrDie(WriteTempFile(""));
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->size(), 0u);
  char byte = 0;
  EXPECT_TRUE(source->ReadAt(0, &byte, 0).ok());
  Status s = source->ReadAt(0, &byte, 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(LocalFileTest, ReadAtReturnsExactBytes) {
  const std::string contents = PatternBytes(3 << 20);  // 3 MiB.
  auto source = OpenOrDie(WriteTempFile(contents));
  ASSERT_NE(source, nullptr);
  struct Range {
    uint64_t offset;
    size_t length;
  };
  const Range kRanges[] = {{0, 1},
                           {0, contents.size()},
                           {1, 4095},
                           {4095, 2},
                           {1 << 20, 1 << 20},
                           {contents.size() - 1, 1},
                           {contents.size() - 100, 100},
                           {777, 0},
                           {contents.size(), 0}};
  for (const Range& r : kRanges) {
    SCOPED_TRACE("offset " + std::to_string(r.offset) + " length " +
                 std::to_string(r.length));
    EXPECT_TRUE(ReadRange(*source, r.offset, r.length) ==
                contents.substr(r.offset, r.length));
  }
}

TEST(LocalFileTest, ReadAtDoesNotWritePastTheRange) {
  const std::string contents = PatternBytes(100);
  auto source = OpenOrDie(WriteTempFile(contents));
  ASSERT_NE(source, nullptr);
  std::string buffer(20, '#');
  ASSERT_TRUE(source->ReadAt(10, buffer.data() + 5, 10).ok());
  EXPECT_EQ(buffer.substr(0, 5), "#####");
  EXPECT_EQ(buffer.substr(5, 10), contents.substr(10, 10));
  EXPECT_EQ(buffer.substr(15), "#####");
}

TEST(LocalFileTest, OutOfRangeReadIsInvalidArgument) {
  const std::string path = WriteTempFile(PatternBytes(100));
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  std::vector<char> buffer(200);
  struct Range {
    uint64_t offset;
    size_t length;
  };
  const Range kRanges[] = {{0, 101},
                           {99, 2},
                           {100, 1},
                           {101, 0},
                           {1000, 1},
                           {~uint64_t{0}, 1},
                           {~uint64_t{0} - 10, 20},
                           {50, ~size_t{0}}};
  for (const Range& r : kRanges) {
    SCOPED_TRACE("offset " + std::to_string(r.offset) + " length " +
                 std::to_string(r.length));
    Status s = source->ReadAt(r.offset, buffer.data(), r.length);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(path));
    EXPECT_THAT(s.message(), HasSubstr(std::to_string(r.offset)));
  }
}

TEST(LocalFileTest, FileTruncatedAfterOpeningIsAnIoError) {
  const std::string contents = PatternBytes(10000);
  const std::string path = WriteTempFile(contents);
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(::truncate(path.c_str(), 4000), 0);
  EXPECT_EQ(source->size(), 10000u);  // As of opening.

  // Bytes still there read fine.
  EXPECT_TRUE(ReadRange(*source, 1000, 3000) == contents.substr(1000, 3000));

  std::vector<char> buffer(10000);
  Status crossing = source->ReadAt(3000, buffer.data(), 2000);
  EXPECT_EQ(crossing.code(), StatusCode::kIo);
  EXPECT_THAT(crossing.message(), HasSubstr("shrank"));
  EXPECT_THAT(crossing.message(), HasSubstr(path));
  EXPECT_THAT(crossing.message(), HasSubstr("4000"));  // Where it ended.

  Status past = source->ReadAt(6000, buffer.data(), 100);
  EXPECT_EQ(past.code(), StatusCode::kIo);
  EXPECT_THAT(past.message(), HasSubstr("shrank"));
}

TEST(LocalFileTest, FileReplacedAfterOpeningKeepsReadingTheOpenedFile) {
  const std::string contents = PatternBytes(1000);
  const std::string path = WriteTempFile(contents);
  auto source = OpenOrDie(path);
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_TRUE(ReadRange(*source, 0, 1000) == contents);
}

TEST(LocalFileTest, ConcurrentReadsReturnExactBytes) {
  const std::string contents = PatternBytes(1 << 20);
  auto source = OpenOrDie(WriteTempFile(contents));
  ASSERT_NE(source, nullptr);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 200; ++i) {
        uint64_t offset = rng() % contents.size();
        size_t length = rng() % (contents.size() - offset + 1);
        length = std::min<size_t>(length, 65536);
        if (ReadRange(*source, offset, length) !=
            contents.substr(offset, length)) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(LocalFileTest, WillReadIsHarmless) {
  const std::string contents = PatternBytes(5000);
  auto source = OpenOrDie(WriteTempFile(contents));
  ASSERT_NE(source, nullptr);
  source->WillRead(0, 5000);
  source->WillRead(4000, 1 << 30);  // Past the end: only a hint.
  EXPECT_TRUE(ReadRange(*source, 0, 5000) == contents);
}

}  // namespace
}  // namespace weightstream
