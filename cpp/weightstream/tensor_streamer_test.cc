// Tests for the tensor streamer: completeness, memory budget, errors.
#include "cpp/weightstream/tensor_streamer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;
using ::weightstream::testing::SafetensorsBytes;

struct TensorSpec {
  std::string name;
  std::string dtype = "U8";
  std::string shape;  // JSON list contents; empty for a scalar.
  uint64_t nbytes = 0;
};

// A U8 tensor of `n` bytes.
TensorSpec Bytes(std::string name, uint64_t n) {
  return TensorSpec{std::move(name), "U8", std::to_string(n), n};
}

// A MemorySource that sleeps before every read, to keep reads in flight.
class SlowSource : public MemorySource {
 public:
  SlowSource(std::string name, std::string bytes, std::chrono::milliseconds d)
      : MemorySource(std::move(name), std::move(bytes)), delay_(d) {}
  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    std::this_thread::sleep_for(delay_);
    return MemorySource::ReadAt(offset, dst, length);
  }

 private:
  const std::chrono::milliseconds delay_;
};

// A safetensors file in memory, with the bytes each tensor should stream as.
struct TestFile {
  std::shared_ptr<MemorySource> source;
  std::shared_ptr<const SafetensorsFile> file;
  std::map<std::string, std::string> expected;  // Tensor name -> bytes.
  std::map<std::string, uint64_t> file_offset;  // Tensor name -> offset.
};

// Lays the tensors out in the given order; the JSON lists them in reverse so
// that the parser's sorting is exercised too.
TestFile MakeFile(
    const std::string& name, const std::vector<TensorSpec>& specs,
    uint64_t seed = 1,
    std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  std::mt19937_64 rng(seed);
  TestFile out;
  std::vector<std::string> entries;
  std::string data;
  for (const TensorSpec& t : specs) {
    std::string bytes(t.nbytes, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    entries.push_back("\"" + t.name + "\":{\"dtype\":\"" + t.dtype +
                      "\",\"shape\":[" + t.shape + "],\"data_offsets\":[" +
                      std::to_string(data.size()) + "," +
                      std::to_string(data.size() + t.nbytes) + "]}");
    out.expected[t.name] = bytes;
    out.file_offset[t.name] = data.size();
    data += bytes;
  }
  std::string json = "{";
  for (size_t i = entries.size(); i-- > 0;) {
    json += entries[i];
    if (i > 0) json += ",";
  }
  json += "}";
  std::string file_bytes = SafetensorsBytes(json, data);
  const uint64_t data_start = file_bytes.size() - data.size();
  for (auto& [tensor, offset] : out.file_offset) offset += data_start;
  out.source = delay.count() > 0
                   ? std::make_shared<SlowSource>(name, file_bytes, delay)
                   : std::make_shared<MemorySource>(name, file_bytes);
  auto file = OpenSafetensors(out.source);
  EXPECT_TRUE(file.ok()) << file.status().message();
  if (file.ok()) out.file = *file;
  return out;
}

// `count` U8 tensors "t0".. with sizes from `sizes` in turn.
std::vector<TensorSpec> ManyTensors(int count, std::vector<uint64_t> sizes) {
  std::vector<TensorSpec> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(Bytes("t" + std::to_string(i), sizes[i % sizes.size()]));
  }
  return out;
}

TensorStreamerOptions Options(uint64_t memory_limit, int threads = 4,
                              uint64_t chunk_bytes = 4096) {
  TensorStreamerOptions options;
  options.memory_limit = memory_limit;
  options.engine.threads = threads;
  options.engine.chunk_bytes = chunk_bytes;
  return options;
}

// Streams until the end; fails the test on an error.
std::vector<StreamedTensor> StreamAll(TensorStreamer& streamer) {
  std::vector<StreamedTensor> out;
  for (;;) {
    auto next = streamer.Next();
    EXPECT_TRUE(next.ok()) << next.status().message();
    if (!next.ok() || !next->has_value()) return out;
    out.push_back(std::move(**next));
  }
}

const std::string& NameOf(const StreamedTensor& t,
                          const std::vector<const TestFile*>& files) {
  return files[t.file_index]->file->header.tensors[t.tensor_index].name;
}

// Checks each tensor's bytes and that (file, name) pairs are exactly `want`.
void ExpectStreamed(const std::vector<StreamedTensor>& got,
                    const std::vector<const TestFile*>& files,
                    const std::set<std::pair<size_t, std::string>>& want) {
  std::set<std::pair<size_t, std::string>> seen;
  for (const StreamedTensor& t : got) {
    ASSERT_LT(t.file_index, files.size());
    ASSERT_LT(t.tensor_index, files[t.file_index]->file->header.tensors.size());
    const std::string& name = NameOf(t, files);
    SCOPED_TRACE("file " + std::to_string(t.file_index) + " tensor " + name);
    EXPECT_TRUE(seen.emplace(t.file_index, name).second) << "streamed twice";
    const std::string& expected = files[t.file_index]->expected.at(name);
    ASSERT_EQ(t.buffer.size(), expected.size());
    ASSERT_NE(t.buffer.data(), nullptr);
    EXPECT_EQ(
        reinterpret_cast<uintptr_t>(t.buffer.data()) % HostBuffer::kAlignment,
        0u);
    EXPECT_EQ(std::memcmp(t.buffer.data(), expected.data(), expected.size()),
              0);
  }
  EXPECT_EQ(seen, want);
}

// Every tensor of `file` as file index `index`.
std::set<std::pair<size_t, std::string>> AllOf(size_t index,
                                               const TestFile& file) {
  std::set<std::pair<size_t, std::string>> out;
  for (const auto& [name, bytes] : file.expected) out.emplace(index, name);
  return out;
}

uint64_t TotalBytes(const TestFile& file) {
  uint64_t total = 0;
  for (const auto& [name, bytes] : file.expected) total += bytes.size();
  return total;
}

TEST(OpenSafetensorsTest, ParsesTheHeader) {
  TestFile f = MakeFile("a.safetensors", {Bytes("x", 3), Bytes("y", 5)});
  ASSERT_NE(f.file, nullptr);
  EXPECT_EQ(f.file->source, f.source);
  ASSERT_EQ(f.file->header.tensors.size(), 2u);
  EXPECT_EQ(f.file->header.tensors[0].name, "x");
  EXPECT_EQ(f.file->header.data_start + 0, f.file_offset["x"]);
}

TEST(OpenSafetensorsTest, InvalidFileIsAFormatErrorNamingTheSource) {
  auto source = std::make_shared<MemorySource>(
      "broken.safetensors", SafetensorsBytes("{\"t\":1}", ""));
  auto file = OpenSafetensors(source);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kFormat);
  EXPECT_THAT(file.status().message(), HasSubstr("broken.safetensors"));
}

TEST(TensorStreamerTest, EmptyStreamerYieldsNothing) {
  TensorStreamer streamer(Options(0));
  auto next = streamer.Next();
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(streamer.held_bytes(), 0u);
  EXPECT_EQ(streamer.peak_held_bytes(), 0u);
}

TEST(TensorStreamerTest, StreamsEveryTensorOfTwoFilesExactlyOnce) {
  TestFile a =
      MakeFile("a.safetensors", ManyTensors(20, {1, 4096, 10000, 77}), 1);
  TestFile b = MakeFile("b.safetensors",
                        {Bytes("w", 50000), Bytes("t3", 3), Bytes("z", 0)}, 2);
  TensorStreamer streamer(Options(0));
  auto ia = streamer.AddFile(a.file);
  auto ib = streamer.AddFile(b.file);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(*ia, 0u);
  EXPECT_EQ(*ib, 1u);
  std::vector<StreamedTensor> got = StreamAll(streamer);
  auto want = AllOf(0, a);
  for (const auto& p : AllOf(1, b)) want.insert(p);
  ExpectStreamed(got, {&a, &b}, want);
  EXPECT_EQ(streamer.held_bytes(), 0u);
  // The end stays the end.
  auto again = streamer.Next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST(TensorStreamerTest, MixedDtypesScalarsAndEmptyTensors) {
  TestFile f =
      MakeFile("mixed.safetensors", {TensorSpec{"scalar", "F64", "", 8},
                                     TensorSpec{"empty", "F32", "0,3", 0},
                                     TensorSpec{"packed", "F4", "5,2", 5},
                                     TensorSpec{"f6", "F6_E2M3", "4", 3},
                                     TensorSpec{"bf", "BF16", "3,7", 42}});
  ASSERT_NE(f.file, nullptr);
  TensorStreamer streamer(Options(0));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
}

TEST(TensorStreamerTest, TensorsLargerThanAChunkAreReadAcrossThreads) {
  TestFile f = MakeFile("big.safetensors",
                        {Bytes("a", 1 << 20), Bytes("b", (1 << 20) + 3)});
  TensorStreamer streamer(Options(0, 8, 4096));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
  EXPECT_GE(f.source->reads(), 2 * 256);  // Chunked, not one read each.
}

TEST(TensorStreamerTest, SingleThreadHandsTensorsOutInFileOrder) {
  TestFile a = MakeFile("a.safetensors", ManyTensors(6, {10, 20, 30}), 3);
  TestFile b = MakeFile("b.safetensors", ManyTensors(4, {5}), 4);
  TensorStreamer streamer(Options(0, /*threads=*/1));
  ASSERT_TRUE(streamer.AddFile(a.file).ok());
  ASSERT_TRUE(streamer.AddFile(b.file, {3, 0, 2, 1}).ok());
  std::vector<StreamedTensor> got = StreamAll(streamer);
  std::vector<std::pair<size_t, size_t>> order;
  for (const StreamedTensor& t : got)
    order.emplace_back(t.file_index, t.tensor_index);
  std::vector<std::pair<size_t, size_t>> want;
  for (size_t i = 0; i < 6; ++i) want.emplace_back(0, i);
  for (size_t i = 0; i < 4; ++i) want.emplace_back(1, i);
  EXPECT_EQ(order, want);
}

TEST(TensorStreamerTest, SelectingASubsetOfTensors) {
  TestFile f = MakeFile("a.safetensors", ManyTensors(6, {100, 200}));
  const int header_reads = f.source->reads();
  TensorStreamer streamer(Options(0));
  ASSERT_TRUE(streamer.AddFile(f.file, {4, 1}).ok());
  std::vector<StreamedTensor> got = StreamAll(streamer);
  const auto& tensors = f.file->header.tensors;
  ExpectStreamed(got, {&f}, {{0, tensors[1].name}, {0, tensors[4].name}});
  std::set<size_t> indices;
  for (const StreamedTensor& t : got) indices.insert(t.tensor_index);
  EXPECT_EQ(indices, (std::set<size_t>{1, 4}));
  // Only the selected tensors were read.
  EXPECT_EQ(f.source->reads() - header_reads, 2);
}

TEST(TensorStreamerTest, OutOfRangeTensorIndexIsInvalidArgument) {
  TestFile f = MakeFile("small.safetensors", ManyTensors(3, {10}));
  TensorStreamer streamer(Options(0));
  auto bad = streamer.AddFile(f.file, {0, 3});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("small.safetensors"));
  EXPECT_THAT(bad.status().message(), HasSubstr("3"));
  // Nothing from the rejected call is streamed, and the streamer still works.
  auto next = streamer.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  auto good = streamer.AddFile(f.file, {2});
  ASSERT_TRUE(good.ok()) << good.status().message();
  std::vector<StreamedTensor> got = StreamAll(streamer);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].file_index, *good);
  EXPECT_EQ(got[0].tensor_index, 2u);
}

TEST(TensorStreamerTest, HugeTensorIndexIsInvalidArgument) {
  TestFile f = MakeFile("small.safetensors", ManyTensors(1, {10}));
  TensorStreamer streamer(Options(0));
  auto bad = streamer.AddFile(f.file, {~size_t{0}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorStreamerTest, AddFileAfterTheEndStreamsAgain) {
  TestFile a = MakeFile("a.safetensors", ManyTensors(3, {10}), 5);
  TestFile b = MakeFile("b.safetensors", ManyTensors(2, {20}), 6);
  TensorStreamer streamer(Options(100));
  ASSERT_TRUE(streamer.AddFile(a.file).ok());
  EXPECT_EQ(StreamAll(streamer).size(), 3u);
  auto ib = streamer.AddFile(b.file);
  ASSERT_TRUE(ib.ok());
  std::vector<StreamedTensor> got = StreamAll(streamer);
  ASSERT_EQ(got.size(), 2u);
  for (const StreamedTensor& t : got) EXPECT_EQ(t.file_index, *ib);
}

// ---------------------------------------------------------------------------
// The memory budget.

TEST(TensorStreamerMemoryTest, PeakStaysWithinLimitWhenEveryTensorFits) {
  TestFile f = MakeFile("many.safetensors",
                        ManyTensors(100, {1, 3000, 4096, 777, 5000, 64}));
  const uint64_t kLimit = 12000;
  TensorStreamer streamer(Options(kLimit, 8, 4096));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  EXPECT_LE(streamer.held_bytes(), kLimit);
  EXPECT_GT(streamer.held_bytes(), 0u);  // Reading started right away.
  // The caller keeps every tensor: handed-out tensors do not count.
  std::vector<StreamedTensor> got;
  for (;;) {
    auto next = streamer.Next();
    ASSERT_TRUE(next.ok()) << next.status().message();
    if (!next->has_value()) break;
    EXPECT_LE(streamer.held_bytes(), kLimit);
    got.push_back(std::move(**next));
  }
  ExpectStreamed(got, {&f}, AllOf(0, f));
  EXPECT_LE(streamer.peak_held_bytes(), kLimit);
  EXPECT_GE(streamer.peak_held_bytes(), 5000u);  // The largest tensor.
  EXPECT_LT(streamer.peak_held_bytes(), TotalBytes(f));
  EXPECT_EQ(streamer.held_bytes(), 0u);
}

TEST(TensorStreamerMemoryTest, LimitAcrossFiles) {
  TestFile a = MakeFile("a.safetensors", ManyTensors(30, {1000, 2500}), 7);
  TestFile b = MakeFile("b.safetensors", ManyTensors(30, {3000, 10}), 8);
  const uint64_t kLimit = 6000;
  TensorStreamer streamer(Options(kLimit));
  ASSERT_TRUE(streamer.AddFile(a.file).ok());
  ASSERT_TRUE(streamer.AddFile(b.file).ok());
  auto want = AllOf(0, a);
  for (const auto& p : AllOf(1, b)) want.insert(p);
  ExpectStreamed(StreamAll(streamer), {&a, &b}, want);
  EXPECT_LE(streamer.peak_held_bytes(), kLimit);
}

TEST(TensorStreamerMemoryTest, LimitEqualToTheLargestTensorStreamsOneByOne) {
  TestFile f = MakeFile("eq.safetensors", ManyTensors(10, {1000}));
  TensorStreamer streamer(Options(1000));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  EXPECT_EQ(streamer.held_bytes(), 1000u);
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
  EXPECT_EQ(streamer.peak_held_bytes(), 1000u);
}

TEST(TensorStreamerMemoryTest, TensorLargerThanTheLimitStreamsAlone) {
  TestFile f =
      MakeFile("big.safetensors", {Bytes("small0", 100), Bytes("huge", 10000),
                                   Bytes("small1", 100), Bytes("small2", 50)});
  TensorStreamer streamer(Options(1000));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
  // Only the huge tensor was ever held at its peak, nothing beside it.
  EXPECT_EQ(streamer.peak_held_bytes(), 10000u);
}

TEST(TensorStreamerMemoryTest, OnlyTensorsLargerThanTheLimit) {
  TestFile f = MakeFile("big.safetensors",
                        {Bytes("a", 5000), Bytes("b", 7000), Bytes("c", 6000)});
  TensorStreamer streamer(Options(10));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  EXPECT_EQ(streamer.held_bytes(), 5000u);  // Just the first one.
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
  EXPECT_EQ(streamer.peak_held_bytes(), 7000u);
}

TEST(TensorStreamerMemoryTest, ZeroLimitIsUnlimited) {
  TestFile f = MakeFile("all.safetensors", ManyTensors(50, {1000, 9000}));
  TensorStreamer streamer(Options(0));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  // Everything is admitted at once.
  EXPECT_EQ(streamer.held_bytes(), TotalBytes(f));
  ExpectStreamed(StreamAll(streamer), {&f}, AllOf(0, f));
  EXPECT_EQ(streamer.peak_held_bytes(), TotalBytes(f));
  EXPECT_EQ(streamer.held_bytes(), 0u);
}

// ---------------------------------------------------------------------------
// Errors and teardown.

TEST(TensorStreamerErrorTest, ReadFailureNamesTheTensorAndStopsTheStream) {
  TestFile f = MakeFile("flaky.safetensors", ManyTensors(10, {1000}));
  // One tensor in flight at a time, so t0..t3 succeed and t4 fails first.
  f.source->FailFrom(f.file_offset.at("t4") + 1);
  TensorStreamer streamer(Options(1000));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  std::vector<StreamedTensor> got;
  Status error;
  for (int i = 0; i < 20 && error.ok(); ++i) {
    auto next = streamer.Next();
    if (!next.ok()) {
      error = next.status();
    } else {
      ASSERT_TRUE(next->has_value()) << "stream ended without the error";
      got.push_back(std::move(**next));
    }
  }
  ExpectStreamed(got, {&f}, {{0, "t0"}, {0, "t1"}, {0, "t2"}, {0, "t3"}});
  EXPECT_EQ(error.code(), StatusCode::kIo);
  EXPECT_THAT(error.message(), HasSubstr("'t4'"));
  EXPECT_THAT(error.message(), HasSubstr("flaky.safetensors"));
  EXPECT_EQ(streamer.held_bytes(), 0u);

  // The error sticks.
  for (int i = 0; i < 3; ++i) {
    auto next = streamer.Next();
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.status().code(), StatusCode::kIo);
    EXPECT_THAT(next.status().message(), HasSubstr("'t4'"));
  }
  auto add = streamer.AddFile(f.file);
  EXPECT_FALSE(add.ok());
}

TEST(TensorStreamerErrorTest, ReadFailureWithManyReadsInFlight) {
  TestFile f = MakeFile("flaky.safetensors", ManyTensors(40, {3000, 20000}));
  f.source->FailFrom(f.file_offset.at("t39") + 1);  // The last tensor.
  TensorStreamer streamer(Options(0, 8, 4096));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  Status error;
  size_t ok_count = 0;
  for (int i = 0; i < 100 && error.ok(); ++i) {
    auto next = streamer.Next();
    if (!next.ok()) {
      error = next.status();
    } else {
      ASSERT_TRUE(next->has_value()) << "stream ended without the error";
      ++ok_count;
    }
  }
  EXPECT_LT(ok_count, 40u);
  EXPECT_EQ(error.code(), StatusCode::kIo);
  EXPECT_THAT(error.message(), HasSubstr("'t39'"));
  EXPECT_FALSE(streamer.Next().ok());
}

TEST(TensorStreamerErrorTest, FileShrinkingAfterOpenIsAnError) {
  TestFile f = MakeFile("shrunk.safetensors", ManyTensors(5, {500}));
  f.source->ShrinkTo(f.file_offset.at("t2") + 10);
  TensorStreamer streamer(Options(0, 1));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  Status error;
  for (int i = 0; i < 10 && error.ok(); ++i) {
    auto next = streamer.Next();
    if (!next.ok()) {
      error = next.status();
    } else {
      ASSERT_TRUE(next->has_value());
    }
  }
  EXPECT_EQ(error.code(), StatusCode::kIo);
  EXPECT_THAT(error.message(), HasSubstr("'t2'"));
}

TEST(TensorStreamerTeardownTest, DestroyWithReadsInFlight) {
  TestFile f = MakeFile("slow.safetensors", ManyTensors(50, {20000}), 9,
                        std::chrono::milliseconds(2));
  {
    TensorStreamer streamer(Options(0, 4, 4096));
    ASSERT_TRUE(streamer.AddFile(f.file).ok());
    EXPECT_GT(streamer.held_bytes(), 0u);
  }
  // Queued reads were cancelled rather than all performed (50 * 5 chunks).
  EXPECT_LT(f.source->reads(), 200);
}

TEST(TensorStreamerTeardownTest, DestroyAfterSomeTensorsWereHandedOut) {
  TestFile f = MakeFile("slow.safetensors", ManyTensors(30, {10000}), 10,
                        std::chrono::milliseconds(1));
  std::vector<StreamedTensor> kept;
  {
    TensorStreamer streamer(Options(50000, 4, 4096));
    ASSERT_TRUE(streamer.AddFile(f.file).ok());
    for (int i = 0; i < 3; ++i) {
      auto next = streamer.Next();
      ASSERT_TRUE(next.ok() && next->has_value());
      kept.push_back(std::move(**next));
    }
  }
  // Handed-out tensors belong to the caller and outlive the streamer.
  ExpectStreamed(kept, {&f}, [&] {
    std::set<std::pair<size_t, std::string>> want;
    for (const StreamedTensor& t : kept) want.emplace(0, NameOf(t, {&f}));
    return want;
  }());
}

TEST(TensorStreamerTeardownTest, DestroyAfterAnError) {
  TestFile f = MakeFile("flaky.safetensors", ManyTensors(20, {5000}), 11,
                        std::chrono::milliseconds(1));
  f.source->FailFrom(f.file_offset.at("t0") + 1);
  TensorStreamer streamer(Options(0, 4, 4096));
  ASSERT_TRUE(streamer.AddFile(f.file).ok());
  auto next = streamer.Next();
  EXPECT_FALSE(next.ok());
}

}  // namespace
}  // namespace weightstream
