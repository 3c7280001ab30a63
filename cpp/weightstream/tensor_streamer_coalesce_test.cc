// Tests for coalescing small neighbouring tensors into one read, for sources
// that prefer large reads (remote objects).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cpp/weightstream/tensor_streamer.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;

// A MemorySource that asks for reads of `preferred` bytes, like a remote one.
class RemoteLikeSource : public MemorySource {
 public:
  RemoteLikeSource(std::string bytes, uint64_t preferred)
      : MemorySource("mem://object", std::move(bytes)), preferred_(preferred) {}
  uint64_t PreferredReadBytes() const override { return preferred_; }

 private:
  const uint64_t preferred_;
};

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(n);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Items of `sizes` laid out from offset 0 with `gaps[i]` bytes before item i.
std::vector<StreamItem> Layout(const std::vector<uint64_t>& sizes,
                               const std::vector<uint64_t>& gaps) {
  std::vector<StreamItem> items;
  uint64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    at += gaps.empty() ? 0 : gaps[i % gaps.size()];
    items.push_back(StreamItem{at, sizes[i], i, "t" + std::to_string(i)});
    at += sizes[i];
  }
  return items;
}

TensorStreamerOptions Options(uint64_t memory_limit = 0) {
  TensorStreamerOptions o;
  o.engine.threads = 4;
  o.engine.chunk_bytes = 1 << 20;
  o.memory_limit = memory_limit;
  return o;
}

// Streams everything and checks every item's bytes against the source.
void StreamAndCheck(TensorStreamer& streamer, const std::string& bytes,
                    const std::vector<StreamItem>& items) {
  std::map<size_t, std::string> got;
  for (;;) {
    auto next = streamer.Next();
    ASSERT_TRUE(next.ok()) << next.status().message();
    if (!next->has_value()) break;
    const StreamedTensor& t = **next;
    EXPECT_EQ(t.offset, items[t.tensor_index].offset);
    EXPECT_TRUE(
        got.emplace(t.tensor_index,
                    std::string(static_cast<const char*>(t.buffer.data()),
                                t.buffer.size()))
            .second);
  }
  ASSERT_EQ(got.size(), items.size());
  for (const StreamItem& item : items) {
    EXPECT_EQ(got[item.id], bytes.substr(item.offset, item.length))
        << item.name;
  }
}

TEST(CoalesceTest, ThousandsOfSmallTensorsBecomeAFewReads) {
  const std::vector<StreamItem> items =
      Layout(std::vector<uint64_t>(3000, 100), {});
  const std::string bytes = RandomBytes(300000);
  auto source = std::make_shared<RemoteLikeSource>(bytes, 64 << 10);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  // 300000 bytes in reads of at most 64 KiB (whole tensors): 5 reads.
  EXPECT_EQ(streamer.reads_submitted(), 5u);
  EXPECT_EQ(source->reads(), 5);
}

TEST(CoalesceTest, SmallGapsAreSpannedLargeGapsAreNot) {
  // Gaps alternate between the largest spanned one and one byte more.
  const std::vector<StreamItem> items =
      Layout(std::vector<uint64_t>(6, 10),
             {kMaxCoalesceGapBytes, kMaxCoalesceGapBytes + 1});
  const std::string bytes = RandomBytes(items.back().offset + 10);
  auto source = std::make_shared<RemoteLikeSource>(bytes, 1 << 20);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  // {t0}, {t1,t2}, {t3,t4}, {t5}.
  EXPECT_EQ(streamer.reads_submitted(), 4u);
}

TEST(CoalesceTest, TensorsLargerThanThePreferredSizeAreReadAlone) {
  const std::vector<StreamItem> items = Layout({10, 5000, 10, 10, 5000}, {});
  const std::string bytes = RandomBytes(10040);
  auto source = std::make_shared<RemoteLikeSource>(bytes, 4096);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  // {t0}, {t1}, {t2,t3}, {t4}.
  EXPECT_EQ(streamer.reads_submitted(), 4u);
}

TEST(CoalesceTest, SourcesWithoutPreferenceReadEveryTensorAlone) {
  const std::vector<StreamItem> items =
      Layout(std::vector<uint64_t>(50, 100), {});
  const std::string bytes = RandomBytes(5000);
  auto source = std::make_shared<MemorySource>("local", bytes);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  EXPECT_EQ(streamer.reads_submitted(), 50u);
}

TEST(CoalesceTest, OverlappingItemsAreNotMerged) {
  std::vector<StreamItem> items = {{0, 100, 0, "a"}, {50, 100, 1, "b"}};
  const std::string bytes = RandomBytes(150);
  auto source = std::make_shared<RemoteLikeSource>(bytes, 1 << 20);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  EXPECT_EQ(streamer.reads_submitted(), 2u);
}

TEST(CoalesceTest, MemoryLimitBoundsCoalescedReads) {
  const std::vector<StreamItem> items =
      Layout(std::vector<uint64_t>(400, 100), {});
  const std::string bytes = RandomBytes(40000);
  auto source = std::make_shared<RemoteLikeSource>(bytes, 1 << 20);
  TensorStreamer streamer(Options(/*memory_limit=*/4000));
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  StreamAndCheck(streamer, bytes, items);
  EXPECT_LE(streamer.peak_held_bytes(), 4000u);
  // Reads of 2000 bytes (half the budget): 20 of them.
  EXPECT_EQ(streamer.reads_submitted(), 20u);
}

TEST(CoalesceTest, FailureNamesTheFirstTensorOfTheRead) {
  const std::vector<StreamItem> items =
      Layout(std::vector<uint64_t>(10, 100), {});
  auto source = std::make_shared<RemoteLikeSource>(RandomBytes(1000), 1 << 20);
  source->FailFrom(500);
  TensorStreamer streamer(Options());
  ASSERT_TRUE(streamer.AddSource(source, items).ok());
  auto next = streamer.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kIo);
  EXPECT_THAT(next.status().message(),
              HasSubstr("tensor 't0' and 9 neighbouring tensors"));
}

}  // namespace
}  // namespace weightstream
