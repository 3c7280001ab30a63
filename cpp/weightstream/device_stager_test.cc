// Tests for the device stager's ring with a fake copy engine: "device memory"
// is host memory, each stream is a worker thread that memcpys from the
// staging slot when the copy runs (as DMA would, so a slot reused too early
// corrupts the data), with per-stream delays that make copies complete out of
// the order they were queued.
#include "cpp/weightstream/device_stager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;

class FakeCopyEngine : public CopyEngine {
 public:
  // Stream i sleeps delays[i] before each copy.
  explicit FakeCopyEngine(std::vector<std::chrono::microseconds> delays)
      : delays_(std::move(delays)) {
    for (size_t i = 0; i < delays_.size(); ++i) {
      queues_.emplace_back();
      workers_.emplace_back([this, i] { Work(i); });
    }
  }
  ~FakeCopyEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  std::string device_name() const override { return "fake:0"; }
  int streams() const override { return static_cast<int>(delays_.size()); }

  StatusOr<void*> Prepare(int slots, uint64_t bytes) override {
    if (fail_prepare_) {
      return ResourceExhaustedError("cannot pin " + std::to_string(bytes) +
                                    " bytes");
    }
    std::lock_guard<std::mutex> lock(mu_);
    prepared_slots_ = slots;
    prepared_bytes_ = bytes;
    slot_state_.assign(slots, SlotState{});
    staging_ = std::malloc(bytes);
    return staging_;
  }
  void Release(void* staging) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(staging, staging_);
    EXPECT_EQ(pending_, 0) << "staging freed while copies were running";
    released_ = true;
    std::free(staging);
  }

  Status CopyAsync(int stream, int slot, uint64_t dst, const void* src,
                   uint64_t bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_GE(stream, 0);
    EXPECT_LT(stream, streams());
    SlotState& s = slot_state_.at(slot);
    if (s.queued != s.done) ++slot_reused_while_pending_;
    int n = ++copies_queued_;
    if (n == fail_queue_at_) return InternalError("queue full (injected)");
    ++s.queued;
    ++pending_;
    max_pending_ = std::max(max_pending_, pending_);
    queues_[stream].push_back(Op{slot, dst, src, bytes, n == fail_run_at_});
    cv_.notify_all();
    return Status::Ok();
  }

  Status Wait(int slot) override {
    std::unique_lock<std::mutex> lock(mu_);
    SlotState& s = slot_state_.at(slot);
    cv_.wait(lock, [&] { return s.done == s.queued; });
    Status st = s.error;
    s.error = Status::Ok();
    return st;
  }

  int pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_;
  }

  bool fail_prepare_ = false;
  int fail_queue_at_ = -1;  // the n-th CopyAsync fails to queue
  int fail_run_at_ = -1;    // the n-th copy fails when it runs
  int prepared_slots_ = 0;
  uint64_t prepared_bytes_ = 0;
  int max_pending_ = 0;
  int slot_reused_while_pending_ = 0;
  bool released_ = false;
  std::vector<int> completion_order_;  // slots, as copies finished

 private:
  struct Op {
    int slot;
    uint64_t dst;
    const void* src;
    uint64_t bytes;
    bool fail;
  };
  struct SlotState {
    int queued = 0;
    int done = 0;
    Status error;
  };

  void Work(size_t stream) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queues_[stream].empty(); });
      if (queues_[stream].empty()) return;
      Op op = queues_[stream].front();
      queues_[stream].pop_front();
      lock.unlock();
      std::this_thread::sleep_for(delays_[stream]);
      if (!op.fail) {
        std::memcpy(reinterpret_cast<void*>(op.dst), op.src, op.bytes);
      }
      lock.lock();
      SlotState& s = slot_state_[op.slot];
      if (op.fail) s.error = IoError("injected copy failure");
      ++s.done;
      --pending_;
      completion_order_.push_back(op.slot);
      cv_.notify_all();
    }
  }

  std::vector<std::chrono::microseconds> delays_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::deque<Op>> queues_;
  std::vector<SlotState> slot_state_;
  int copies_queued_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  void* staging_ = nullptr;
  std::vector<std::thread> workers_;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

struct Plan {
  std::shared_ptr<MemorySource> source;
  std::vector<DeviceCopy> copies;
  std::string device;  // the fake device memory
};

// Tensors of the given sizes laid out back to back in one source, each
// copied to the same offset of a fresh "device" buffer.
Plan MakePlan(const std::vector<uint64_t>& sizes, uint32_t seed = 1) {
  Plan p;
  uint64_t total = 0;
  for (uint64_t s : sizes) total += s;
  p.source = std::make_shared<MemorySource>("/models/m.safetensors",
                                            RandomBytes(total, seed));
  p.device.assign(total + 1, '\xEE');
  uint64_t off = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    p.copies.push_back(DeviceCopy{
        p.source, off, sizes[i],
        reinterpret_cast<uint64_t>(p.device.data()) + off, 100 + i,
        "t" + std::to_string(i)});
    off += sizes[i];
  }
  return p;
}

std::string SourceBytes(const Plan& p) {
  std::string all(p.source->size(), '\0');
  EXPECT_TRUE(p.source->ReadAt(0, all.data(), all.size()).ok());
  return all;
}

std::vector<size_t> Drain(DeviceStager& stager, Status* error) {
  std::vector<size_t> ids;
  for (;;) {
    StatusOr<std::optional<size_t>> next = stager.Next();
    if (!next.ok()) {
      *error = next.status();
      return ids;
    }
    if (!next->has_value()) return ids;
    ids.push_back(**next);
  }
}

TEST(DeviceStagerTest, CopiesEveryByteThroughASmallRing) {
  // Sizes around the slot size (64 KiB), including empty tensors.
  std::vector<uint64_t> sizes = {0,         1,         65536, 65537, 300000,
                                 4096 * 3,  0,         7,     65535, 1 << 20,
                                 123456,    131072,    5,     99999, 2};
  Plan p = MakePlan(sizes);
  // Stream 0 is slow, stream 1 fast: completions come back out of order.
  FakeCopyEngine engine({std::chrono::microseconds(300),
                         std::chrono::microseconds(10)});
  DeviceStager stager(&engine, DeviceStagerOptions{3, 65536, 4});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  std::vector<size_t> ids = Drain(stager, &error);
  ASSERT_TRUE(error.ok()) << error.ToString();

  std::multiset<size_t> got(ids.begin(), ids.end());
  std::multiset<size_t> want;
  for (const DeviceCopy& c : p.copies) want.insert(c.id);
  EXPECT_EQ(got, want);  // every tensor exactly once
  EXPECT_EQ(p.device.substr(0, p.source->size()), SourceBytes(p));
  EXPECT_EQ(p.device.back(), '\xEE');  // nothing written past the end

  // Host memory is the ring: 4 slots of 64 KiB, whatever the model size.
  EXPECT_EQ(engine.prepared_slots_, 4);
  EXPECT_EQ(engine.prepared_bytes_, 4u * 65536);
  EXPECT_EQ(stager.slots(), 4);
  EXPECT_LE(stager.peak_slots_in_use(), 4);
  EXPECT_EQ(engine.slot_reused_while_pending_, 0);
  EXPECT_EQ(engine.pending(), 0);
}

TEST(DeviceStagerTest, CompletionsReallyArriveOutOfOrder) {
  // Guard for the test above: the fake engine does reorder completions, so
  // the ring is exercised with slots freed out of queue order.
  Plan p = MakePlan(std::vector<uint64_t>(64, 4096));
  FakeCopyEngine engine({std::chrono::microseconds(2000),
                         std::chrono::microseconds(0)});
  DeviceStager stager(&engine, DeviceStagerOptions{2, 4096, 4});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  Drain(stager, &error);
  ASSERT_TRUE(error.ok()) << error.ToString();
  EXPECT_EQ(p.device.substr(0, p.source->size()), SourceBytes(p));
  std::vector<int> order = engine.completion_order_;
  bool out_of_order = false;
  // Slots 0 and 2 go to stream 0 (slow), 1 and 3 to stream 1.
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i] % 2 == 0 && order[i - 1] % 2 == 1) out_of_order = true;
  }
  EXPECT_TRUE(out_of_order);
  EXPECT_GT(engine.max_pending_, 1);  // copies overlapped
}

TEST(DeviceStagerTest, RingNeverLargerThanTheWork) {
  Plan p = MakePlan({1000});
  FakeCopyEngine engine({std::chrono::microseconds(0)});
  DeviceStager stager(&engine, DeviceStagerOptions{8, 16 << 20, 0});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  EXPECT_EQ(Drain(stager, &error).size(), 1u);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(engine.prepared_slots_, 1);
  EXPECT_EQ(engine.prepared_bytes_, 4096u);  // one page, not 16 MiB
}

TEST(DeviceStagerTest, OnlyEmptyTensorsNeedNoRing) {
  Plan p = MakePlan({0, 0});
  FakeCopyEngine engine({std::chrono::microseconds(0)});
  DeviceStager stager(&engine, DeviceStagerOptions{});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  EXPECT_EQ(Drain(stager, &error).size(), 2u);
  EXPECT_TRUE(error.ok());
  EXPECT_EQ(engine.prepared_slots_, 0);
}

TEST(DeviceStagerTest, ReadErrorStopsAfterInFlightCopiesDrain) {
  Plan p = MakePlan(std::vector<uint64_t>(40, 10000));
  p.source->FailFrom(250000);
  FakeCopyEngine engine({std::chrono::microseconds(200),
                         std::chrono::microseconds(50)});
  DeviceStager stager(&engine, DeviceStagerOptions{4, 8192, 6});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  std::vector<size_t> ids = Drain(stager, &error);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kIo);
  EXPECT_THAT(error.message(), HasSubstr("/models/m.safetensors"));
  // Nothing runs once the error is reported: device memory may be freed.
  EXPECT_EQ(engine.pending(), 0);
  EXPECT_LT(ids.size(), 40u);
  // The error sticks.
  StatusOr<std::optional<size_t>> again = stager.Next();
  EXPECT_FALSE(again.ok());
}

TEST(DeviceStagerTest, CopyThatFailsWhenRunningNamesTheTensor) {
  Plan p = MakePlan(std::vector<uint64_t>(20, 5000));
  FakeCopyEngine engine({std::chrono::microseconds(20)});
  engine.fail_run_at_ = 7;
  DeviceStager stager(&engine, DeviceStagerOptions{2, 4096, 3});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  Drain(stager, &error);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kIo);
  EXPECT_THAT(error.message(), HasSubstr("fake:0: copying tensor 't"));
  EXPECT_THAT(error.message(), HasSubstr("injected copy failure"));
  EXPECT_EQ(engine.pending(), 0);
}

TEST(DeviceStagerTest, CopyThatFailsToQueue) {
  Plan p = MakePlan(std::vector<uint64_t>(20, 5000));
  FakeCopyEngine engine({std::chrono::microseconds(20)});
  engine.fail_queue_at_ = 3;
  DeviceStager stager(&engine, DeviceStagerOptions{2, 4096, 3});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  Status error;
  Drain(stager, &error);
  EXPECT_EQ(error.code(), StatusCode::kInternal);
  EXPECT_THAT(error.message(), HasSubstr("queue full (injected)"));
  EXPECT_EQ(engine.pending(), 0);
}

TEST(DeviceStagerTest, PinnedAllocationFailure) {
  Plan p = MakePlan({100000});
  FakeCopyEngine engine({std::chrono::microseconds(0)});
  engine.fail_prepare_ = true;
  DeviceStager stager(&engine, DeviceStagerOptions{2, 65536, 2});
  Status st = stager.Start(p.copies);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(st.message(), HasSubstr("cannot pin 131072 bytes"));
  StatusOr<std::optional<size_t>> next = stager.Next();
  EXPECT_FALSE(next.ok());
}

TEST(DeviceStagerTest, RangeOutsideTheSource) {
  Plan p = MakePlan({100});
  p.copies[0].length = 101;
  FakeCopyEngine engine({std::chrono::microseconds(0)});
  DeviceStager stager(&engine, DeviceStagerOptions{});
  Status st = stager.Start(p.copies);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("tensor 't0' (101 bytes at offset 0)"));
}

TEST(DeviceStagerTest, CancelStopsAndDrains) {
  Plan p = MakePlan(std::vector<uint64_t>(200, 4096));
  FakeCopyEngine engine({std::chrono::microseconds(500)});
  DeviceStager stager(&engine, DeviceStagerOptions{2, 4096, 2});
  ASSERT_TRUE(stager.Start(p.copies).ok());
  StatusOr<std::optional<size_t>> first = stager.Next();
  ASSERT_TRUE(first.ok());
  stager.Cancel();
  Status error;
  Drain(stager, &error);
  EXPECT_EQ(error.code(), StatusCode::kCancelled);
  EXPECT_EQ(engine.pending(), 0);
}

TEST(DeviceStagerTest, DestroyingMidwayWaitsForCopies) {
  Plan p = MakePlan(std::vector<uint64_t>(100, 4096));
  FakeCopyEngine engine({std::chrono::microseconds(300),
                         std::chrono::microseconds(100)});
  {
    DeviceStager stager(&engine, DeviceStagerOptions{2, 4096, 4});
    ASSERT_TRUE(stager.Start(p.copies).ok());
    ASSERT_TRUE(stager.Next().ok());
  }
  // Release() checked that no copy was pending when the ring was freed.
  EXPECT_TRUE(engine.released_);
  EXPECT_EQ(engine.pending(), 0);
}

TEST(DeviceStagerTest, ManySourcesRandomSizes) {
  std::mt19937 rng(7);
  std::vector<std::shared_ptr<MemorySource>> sources;
  std::vector<DeviceCopy> copies;
  std::vector<std::string> expected;
  std::vector<std::string> device(60);
  for (int f = 0; f < 3; ++f) {
    sources.push_back(std::make_shared<MemorySource>(
        "file" + std::to_string(f), RandomBytes(1 << 20, 10 + f)));
  }
  for (size_t i = 0; i < device.size(); ++i) {
    auto& src = sources[i % 3];
    uint64_t len = rng() % 70000;
    uint64_t off = rng() % (src->size() - len);
    device[i].assign(len, '\0');
    std::string want(len, '\0');
    ASSERT_TRUE(src->ReadAt(off, want.data(), len).ok());
    expected.push_back(want);
    copies.push_back(DeviceCopy{src, off, len,
                                reinterpret_cast<uint64_t>(device[i].data()), i,
                                "x"});
  }
  FakeCopyEngine engine({std::chrono::microseconds(50),
                         std::chrono::microseconds(5),
                         std::chrono::microseconds(150)});
  DeviceStager stager(&engine, DeviceStagerOptions{4, 16384, 0});
  ASSERT_TRUE(stager.Start(copies).ok());
  Status error;
  std::vector<size_t> ids = Drain(stager, &error);
  ASSERT_TRUE(error.ok()) << error.ToString();
  EXPECT_EQ(ids.size(), device.size());
  // Default ring: threads + 2 x streams.
  EXPECT_EQ(engine.prepared_slots_, 4 + 2 * 3);
  for (size_t i = 0; i < device.size(); ++i) EXPECT_EQ(device[i], expected[i]);
}

}  // namespace
}  // namespace weightstream
