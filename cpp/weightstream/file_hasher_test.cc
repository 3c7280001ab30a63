#include "cpp/weightstream/file_hasher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cpp/weightstream/integrity.h"
#include "cpp/weightstream/sha256.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::HasSubstr;
using testing::MemorySource;

std::string Sha(const std::string& s) {
  Sha256 sha;
  sha.Update(s.data(), s.size());
  return Sha256::Hex(sha.Finish());
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + 7);
  return s;
}

TEST(FileHasherTest, OutOfOrderPiecesWithGapsEqualsWholeFileHash) {
  const std::string data = Bytes(3 << 20);
  auto source = std::make_shared<MemorySource>("f", data);
  // Gaps: [0, 100), [1000, 1500), [2500000, end).
  FileHasher hasher(source, {{100, 900}, {1500, 1000000}, {1001500, 1498500}});
  ASSERT_TRUE(hasher.Add(1001500, 1498500, data.data() + 1001500).ok());
  EXPECT_EQ(hasher.hashed_until(), 0u);
  ASSERT_TRUE(hasher.Add(100, 900, data.data() + 100).ok());
  EXPECT_EQ(hasher.hashed_until(), 1000u);
  ASSERT_TRUE(hasher.Add(1500, 1000000, data.data() + 1500).ok());
  EXPECT_EQ(hasher.hashed_until(), 2500000u);
  auto digest = hasher.Finish();
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(*digest, Sha(data));
}

TEST(FileHasherTest, PiecesAreHashedFromTheirBuffersNotReadAgain) {
  const std::string data = Bytes(1 << 16);
  auto source = std::make_shared<MemorySource>("f", data);
  FileHasher hasher(source, {{0, data.size()}});
  // The delivered bytes differ from the file: the hash must be of these.
  std::string delivered = data;
  delivered[5] ^= 1;
  ASSERT_TRUE(hasher.Add(0, delivered.size(), delivered.data()).ok());
  auto digest = hasher.Finish();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, Sha(delivered));
  EXPECT_EQ(source->reads(), 0);
}

TEST(FileHasherTest, EmptyPiecesAreIgnored) {
  const std::string data = Bytes(64);
  auto source = std::make_shared<MemorySource>("f", data);
  FileHasher hasher(source, {{8, 0}, {8, 56}});
  ASSERT_TRUE(hasher.Add(8, 0, nullptr).ok());
  ASSERT_TRUE(hasher.Add(8, 56, data.data() + 8).ok());
  auto digest = hasher.Finish();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, Sha(data));
}

TEST(FileHasherTest, UnexpectedOrRepeatedPieceIsAnError) {
  const std::string data = Bytes(64);
  auto source = std::make_shared<MemorySource>("f", data);
  FileHasher hasher(source, {{0, 32}, {32, 32}});
  EXPECT_EQ(hasher.Add(1, 31, data.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.Add(0, 31, data.data()).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(hasher.Add(32, 32, data.data() + 32).ok());
  EXPECT_EQ(hasher.Add(32, 32, data.data() + 32).code(),
            StatusCode::kInvalidArgument);
}

TEST(FileHasherTest, MissingPieceFailsFinish) {
  const std::string data = Bytes(64);
  auto source = std::make_shared<MemorySource>("f", data);
  FileHasher hasher(source, {{0, 32}, {32, 32}});
  ASSERT_TRUE(hasher.Add(32, 32, data.data() + 32).ok());
  auto digest = hasher.Finish();
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), StatusCode::kInternal);
  EXPECT_THAT(digest.status().message(), HasSubstr("offset 0"));
}

TEST(FileHasherTest, GapReadFailureIsReported) {
  const std::string data = Bytes(4096);
  auto source = std::make_shared<MemorySource>("f", data);
  source->FailFrom(0);
  FileHasher hasher(source, {{100, 100}});
  Status s = hasher.Add(100, 100, data.data() + 100);
  EXPECT_EQ(s.code(), StatusCode::kIo);
}

}  // namespace
}  // namespace weightstream

namespace weightstream {
namespace {

TEST(Sha256OfSourceTest, EqualsOneShotHashAcrossChunkAndBudgetSizes) {
  for (size_t size : {0, 1, 4095, 4096, 100000, 1 << 20}) {
    const std::string data = Bytes(size);
    auto source = std::make_shared<MemorySource>("f", data);
    ReadEngineOptions options;
    options.threads = 3;
    options.chunk_bytes = 4096;
    auto digest = Sha256OfSource(source, options, /*memory_limit=*/16384);
    ASSERT_TRUE(digest.ok()) << digest.status().message();
    EXPECT_EQ(*digest, Sha(data)) << size;
  }
}

TEST(Sha256OfSourceTest, ReadFailureIsReported) {
  const std::string data = Bytes(1 << 16);
  auto source = std::make_shared<MemorySource>("f", data);
  source->FailFrom(30000);
  ReadEngineOptions options;
  options.chunk_bytes = 4096;
  auto digest = Sha256OfSource(source, options);
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), StatusCode::kIo);
}

}  // namespace
}  // namespace weightstream
