// Tests for the reader thread pool.
#include "cpp/weightstream/read_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpp/weightstream/local_file.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;
using ::weightstream::testing::WriteTempFile;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// An in-memory source that records every read and hint, can hold reads at a
// gate until the test opens it, and can be slowed down.
class ProbeSource : public Source {
 public:
  struct Range {
    uint64_t offset;
    uint64_t length;
  };

  explicit ProbeSource(std::string bytes, bool gated = false)
      : bytes_(std::move(bytes)), open_(!gated) {}

  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }

  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    std::unique_lock<std::mutex> lock(mu_);
    reads_.push_back(Range{offset, length});
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    lock.unlock();
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    if (!RangeWithin(offset, length, bytes_.size())) {
      return InvalidArgumentError(name_ + ": read outside the source");
    }
    std::memcpy(dst, bytes_.data() + offset, length);
    return Status::Ok();
  }

  void WillRead(uint64_t offset, uint64_t length) override {
    std::lock_guard<std::mutex> lock(mu_);
    hints_.push_back(Range{offset, length});
  }

  void OpenGate() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void set_delay(std::chrono::microseconds d) { delay_ = d; }
  // Blocks until `n` reads have started.
  void WaitForReads(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return reads_.size() >= n; });
  }
  std::vector<Range> reads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  std::vector<Range> hints() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hints_;
  }

 private:
  const std::string name_ = "probe";
  const std::string bytes_;
  std::chrono::microseconds delay_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_;
  std::vector<Range> reads_;
  std::vector<Range> hints_;
};

ReadEngineOptions Options(int threads, uint64_t chunk_bytes) {
  ReadEngineOptions options;
  options.threads = threads;
  options.chunk_bytes = chunk_bytes;
  return options;
}

// Waits for every completion; returns them by tag (a tag seen twice fails).
std::map<uint64_t, Status> DrainByTag(ReadEngine& engine) {
  std::map<uint64_t, Status> out;
  while (std::optional<ReadCompletion> c = engine.WaitNext()) {
    EXPECT_TRUE(out.emplace(c->tag, c->status).second)
        << "tag " << c->tag << " completed twice";
  }
  return out;
}

// Runs `fn` on a thread; returns false if it has not finished in `seconds`
// (the thread is then left running so that the test can report, not hang).
template <typename Fn>
bool FinishesWithin(Fn fn, int seconds) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> future = done->get_future();
  std::thread([fn = std::move(fn), done]() mutable {
    fn();
    done->set_value();
  }).detach();
  return future.wait_for(std::chrono::seconds(seconds)) ==
         std::future_status::ready;
}

TEST(ReadEngineTest, NothingSubmittedMeansWaitNextReturnsNullopt) {
  ReadEngine engine(Options(4, 4096));
  EXPECT_EQ(engine.outstanding(), 0u);
  EXPECT_FALSE(engine.WaitNext().has_value());
}

TEST(ReadEngineTest, SingleRequestReadsExactBytes) {
  const std::string bytes = RandomBytes(10000, 1);
  auto source = std::make_shared<MemorySource>("mem", bytes);
  ReadEngine engine(Options(2, 4096));
  std::string dst(3000, '\0');
  engine.Submit(ReadRequest{source, 1234, 3000, dst.data(), 42});
  EXPECT_EQ(engine.outstanding(), 1u);
  std::optional<ReadCompletion> c = engine.WaitNext();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->tag, 42u);
  EXPECT_TRUE(c->status.ok()) << c->status.message();
  EXPECT_TRUE(dst == bytes.substr(1234, 3000));
  EXPECT_EQ(engine.outstanding(), 0u);
  EXPECT_FALSE(engine.WaitNext().has_value());
}

TEST(ReadEngineTest, ManyRequestsManyThreadsSmallChunks) {
  constexpr int kRequests = 400;
  std::vector<std::string> contents;
  std::vector<std::shared_ptr<Source>> sources;
  for (int i = 0; i < 3; ++i) {
    contents.push_back(RandomBytes((1 << 20) + 17 * i, 100 + i));
    sources.push_back(std::make_shared<MemorySource>("mem" + std::to_string(i),
                                                     contents.back()));
  }
  ReadEngine engine(Options(16, 4096));
  std::mt19937_64 rng(7);
  struct Expected {
    int source;
    uint64_t offset;
    std::string bytes;
  };
  std::vector<Expected> expected(kRequests);
  std::vector<std::string> dst(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    const int s = static_cast<int>(rng() % sources.size());
    const uint64_t size = contents[s].size();
    uint64_t length = rng() % 50000;
    if (i % 50 == 0) length = 0;
    if (i % 7 == 0) length = 4096 * (1 + rng() % 5);  // Whole chunks.
    // Some requests end exactly at the end of the source.
    const uint64_t offset =
        i % 11 == 0 ? size - length : rng() % (size - length + 1);
    expected[i] = Expected{s, offset, contents[s].substr(offset, length)};
    dst[i].assign(length, '\0');
    engine.Submit(ReadRequest{sources[s], offset, length, dst[i].data(),
                              static_cast<uint64_t>(1000 + i)});
  }
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    auto it = done.find(1000 + i);
    ASSERT_NE(it, done.end());
    EXPECT_TRUE(it->second.ok()) << it->second.message();
    EXPECT_TRUE(dst[i] == expected[i].bytes);
  }
  EXPECT_EQ(engine.outstanding(), 0u);
}

TEST(ReadEngineTest, WorksFromALocalFile) {
  const std::string bytes = RandomBytes(300000, 2);
  auto source = OpenLocalFile(WriteTempFile(bytes));
  ASSERT_TRUE(source.ok()) << source.status().message();
  ReadEngine engine(Options(4, 8192));
  std::string a(100000, '\0'), b(200000, '\0');
  engine.Submit(ReadRequest{*source, 0, a.size(), a.data(), 1});
  engine.Submit(ReadRequest{*source, 100000, b.size(), b.data(), 2});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[1].ok() && done[2].ok());
  EXPECT_TRUE(a + b == bytes);
}

TEST(ReadEngineTest, ZeroLengthRequestCompletesOk) {
  auto source = std::make_shared<MemorySource>("mem", "abc");
  ReadEngine engine(Options(2, 4096));
  engine.Submit(ReadRequest{source, 0, 0, nullptr, 5});
  engine.Submit(ReadRequest{source, 3, 0, nullptr, 6});  // At the end.
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[5].ok()) << done[5].message();
  EXPECT_TRUE(done[6].ok()) << done[6].message();
}

TEST(ReadEngineTest, ChunkBytesBoundsEveryRead) {
  const std::string bytes = RandomBytes(100000, 3);
  auto source = std::make_shared<ProbeSource>(bytes);
  ReadEngine engine(Options(1, 8192));
  ASSERT_EQ(engine.options().chunk_bytes, 8192u);
  const uint64_t length = 10 * 8192 + 100;
  std::string dst(length, '\0');
  engine.Submit(ReadRequest{source, 500, length, dst.data(), 1});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_TRUE(done[1].ok()) << done[1].message();
  EXPECT_TRUE(dst == bytes.substr(500, length));

  std::vector<ProbeSource::Range> reads = source->reads();
  ASSERT_EQ(reads.size(), 11u);
  std::sort(reads.begin(), reads.end(),
            [](const auto& x, const auto& y) { return x.offset < y.offset; });
  uint64_t next = 500;
  for (const auto& r : reads) {
    EXPECT_LE(r.length, 8192u);
    EXPECT_EQ(r.offset, next);  // Contiguous, no overlaps.
    next = r.offset + r.length;
  }
  EXPECT_EQ(next, 500 + length);
}

TEST(ReadEngineTest, ReadCountMatchesChunkBytes) {
  const std::string bytes = RandomBytes(1 << 20, 4);
  auto source = std::make_shared<MemorySource>("mem", bytes);
  ReadEngine engine(Options(4, 4096));
  const uint64_t chunk = engine.options().chunk_bytes;
  std::string a(5 * chunk, '\0'), b(chunk + 1, '\0'), c(chunk - 1, '\0');
  engine.Submit(ReadRequest{source, 0, a.size(), a.data(), 1});
  engine.Submit(ReadRequest{source, 7, b.size(), b.data(), 2});
  engine.Submit(ReadRequest{source, 9, c.size(), c.data(), 3});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 3u);
  for (auto& [tag, status] : done) EXPECT_TRUE(status.ok()) << tag;
  EXPECT_EQ(source->reads(), 5 + 2 + 1);
  EXPECT_TRUE(a == bytes.substr(0, a.size()));
  EXPECT_TRUE(b == bytes.substr(7, b.size()));
  EXPECT_TRUE(c == bytes.substr(9, c.size()));
}

TEST(ReadEngineTest, InjectedFailureFailsOnlyThatRequest) {
  const std::string bytes = RandomBytes(30000, 5);
  auto source = std::make_shared<MemorySource>("disk0", bytes);
  source->FailFrom(25000);  // Only reads ending past 25000 fail.
  ReadEngine engine(Options(4, 4096));
  std::string a(10000, '\0'), b(10000, '\0'), c(10000, '\0');
  engine.Submit(ReadRequest{source, 0, 10000, a.data(), 1});
  engine.Submit(ReadRequest{source, 20000, 10000, c.data(), 3});
  engine.Submit(ReadRequest{source, 10000, 10000, b.data(), 2});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_TRUE(done[1].ok()) << done[1].message();
  EXPECT_TRUE(done[2].ok()) << done[2].message();
  EXPECT_EQ(done[3].code(), StatusCode::kIo);
  EXPECT_THAT(done[3].message(), HasSubstr("disk0"));
  EXPECT_THAT(done[3].message(), HasSubstr("injected failure"));
  EXPECT_TRUE(a == bytes.substr(0, 10000));
  EXPECT_TRUE(b == bytes.substr(10000, 10000));
}

TEST(ReadEngineTest, ShortReadFailsTheRequest) {
  auto source = std::make_shared<MemorySource>("mem", RandomBytes(20000, 6));
  source->ShrinkTo(15000);
  ReadEngine engine(Options(2, 4096));
  std::string dst(20000, '\0');
  engine.Submit(ReadRequest{source, 0, 20000, dst.data(), 9});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[9].code(), StatusCode::kIo);
}

TEST(ReadEngineTest, RequestOutsideTheSourceFails) {
  auto source = std::make_shared<MemorySource>("mem", RandomBytes(100, 7));
  ReadEngine engine(Options(2, 4096));
  std::string dst(200, '\0');
  engine.Submit(ReadRequest{source, 50, 100, dst.data(), 1});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[1].code(), StatusCode::kInvalidArgument);
}

TEST(ReadEngineTest, FailureInEveryChunkStillCompletesOnce) {
  auto source = std::make_shared<MemorySource>("mem", RandomBytes(100000, 8));
  source->FailFrom(0);
  ReadEngine engine(Options(8, 4096));
  std::string dst(100000, '\0');
  engine.Submit(ReadRequest{source, 0, 100000, dst.data(), 1});
  std::map<uint64_t, Status> done = DrainByTag(engine);  // Checks once-only.
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[1].code(), StatusCode::kIo);
}

TEST(ReadEngineTest, CancelCompletesQueuedRequestsAsCancelled) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(100000, 9),
                                              /*gated=*/true);
  ReadEngine engine(Options(1, 4096));
  std::vector<std::string> dst(5, std::string(1000, '\0'));
  for (int i = 0; i < 5; ++i) {
    engine.Submit(ReadRequest{source, 1000u * i, 1000, dst[i].data(),
                              static_cast<uint64_t>(i)});
  }
  source->WaitForReads(1);  // Request 0 is running, 1..4 are queued.
  engine.Cancel();
  // The queued requests complete now, before the running read finishes.
  for (int i = 0; i < 4; ++i) {
    std::optional<ReadCompletion> c = engine.WaitNext();
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(c->tag, 0u);
    EXPECT_EQ(c->status.code(), StatusCode::kCancelled);
  }
  EXPECT_EQ(engine.outstanding(), 1u);
  source->OpenGate();
  std::optional<ReadCompletion> first = engine.WaitNext();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->tag, 0u);
  EXPECT_TRUE(first->status.ok()) << first->status.message();
  EXPECT_FALSE(engine.WaitNext().has_value());
  EXPECT_EQ(engine.outstanding(), 0u);
  EXPECT_EQ(source->reads().size(), 1u);  // Cancelled chunks were not read.
}

TEST(ReadEngineTest, CancelDuringAMultiChunkRequestWaitsForItsRunningChunk) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(100000, 10),
                                              /*gated=*/true);
  ReadEngine engine(Options(1, 4096));
  std::string dst(3 * 4096, '\0');
  engine.Submit(ReadRequest{source, 0, dst.size(), dst.data(), 77});
  source->WaitForReads(1);
  engine.Cancel();
  EXPECT_EQ(engine.outstanding(), 1u);
  source->OpenGate();
  std::optional<ReadCompletion> c = engine.WaitNext();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->tag, 77u);
  EXPECT_EQ(c->status.code(), StatusCode::kCancelled);
  EXPECT_FALSE(engine.WaitNext().has_value());
}

TEST(ReadEngineTest, EngineIsUsableAfterCancel) {
  const std::string bytes = RandomBytes(10000, 11);
  auto source = std::make_shared<MemorySource>("mem", bytes);
  ReadEngine engine(Options(2, 4096));
  engine.Cancel();  // Nothing queued: a no-op.
  std::string dst(5000, '\0');
  engine.Submit(ReadRequest{source, 100, 5000, dst.data(), 1});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[1].ok());
  EXPECT_TRUE(dst == bytes.substr(100, 5000));
}

TEST(ReadEngineTest, DestructorWithOutstandingRequestsDoesNotHang) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(1 << 20, 12));
  source->set_delay(std::chrono::microseconds(200));
  // Destinations outlive the engine, as the contract requires.
  std::vector<std::string> dst(200, std::string(20000, '\0'));
  bool finished = FinishesWithin(
      [&] {
        ReadEngine engine(Options(4, 4096));
        for (int i = 0; i < 200; ++i) {
          engine.Submit(ReadRequest{source, 5000u * i, 20000, dst[i].data(),
                                    static_cast<uint64_t>(i)});
        }
        // Destroyed with nearly everything still queued or running.
      },
      30);
  ASSERT_TRUE(finished) << "~ReadEngine hung";
  // Cancelled work was dropped instead of read: far fewer than 200 * 5 reads.
  EXPECT_LT(source->reads().size(), 1000u);
}

TEST(ReadEngineTest, DestructorWaitsForARunningRead) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(10000, 13),
                                              /*gated=*/true);
  std::string dst(4096, '\0');
  auto engine = std::make_unique<ReadEngine>(Options(2, 4096));
  engine->Submit(ReadRequest{source, 0, 4096, dst.data(), 1});
  source->WaitForReads(1);
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    source->OpenGate();
  });
  bool finished = FinishesWithin([&] { engine.reset(); }, 30);
  opener.join();
  ASSERT_TRUE(finished) << "~ReadEngine hung";
}

TEST(ReadEngineTest, DestructorAfterPartialDrain) {
  auto source = std::make_shared<MemorySource>("mem", RandomBytes(100000, 14));
  std::vector<std::string> dst(20, std::string(5000, '\0'));
  {
    ReadEngine engine(Options(3, 4096));
    for (int i = 0; i < 20; ++i) {
      engine.Submit(ReadRequest{source, 5000u * i, 5000, dst[i].data(),
                                static_cast<uint64_t>(i)});
    }
    ASSERT_TRUE(engine.WaitNext().has_value());
    ASSERT_TRUE(engine.WaitNext().has_value());
  }
  SUCCEED();  // Reaching here without a crash or leak (under ASan) is the test.
}

TEST(ReadEngineTest, ZeroThreadsStillReads) {
  const std::string bytes = RandomBytes(10000, 15);
  auto source = std::make_shared<MemorySource>("mem", bytes);
  bool finished = FinishesWithin(
      [&] {
        ReadEngine engine(Options(0, 4096));
        std::string dst(10000, '\0');
        engine.Submit(ReadRequest{source, 0, 10000, dst.data(), 1});
        std::optional<ReadCompletion> c = engine.WaitNext();
        EXPECT_TRUE(c.has_value() && c->status.ok());
        EXPECT_TRUE(dst == bytes);
      },
      30);
  EXPECT_TRUE(finished) << "an engine with threads = 0 never read";
}

TEST(ReadEngineTest, PrefetchHintsOnlyCoverSubmittedRanges) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(1 << 20, 16));
  ReadEngineOptions options = Options(2, 4096);
  options.prefetch_bytes = 64 << 10;
  ReadEngine engine(options);
  std::string a(100000, '\0'), b(50000, '\0');
  engine.Submit(ReadRequest{source, 1000, a.size(), a.data(), 1});
  engine.Submit(ReadRequest{source, 500000, b.size(), b.data(), 2});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 2u);
  auto inside = [](const ProbeSource::Range& r, uint64_t begin, uint64_t end) {
    return r.offset >= begin && r.offset + r.length <= end;
  };
  for (const ProbeSource::Range& h : source->hints()) {
    EXPECT_TRUE(inside(h, 1000, 101000) || inside(h, 500000, 550000))
        << "hint [" << h.offset << ", +" << h.length << ")";
  }
}

TEST(ReadEngineTest, PrefetchDisabledGivesNoHints) {
  auto source = std::make_shared<ProbeSource>(RandomBytes(1 << 20, 17));
  ReadEngineOptions options = Options(2, 4096);
  options.prefetch_bytes = 0;
  ReadEngine engine(options);
  std::string a(200000, '\0');
  engine.Submit(ReadRequest{source, 0, a.size(), a.data(), 1});
  std::map<uint64_t, Status> done = DrainByTag(engine);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(source->hints().empty());
}

}  // namespace
}  // namespace weightstream
