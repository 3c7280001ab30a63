// Replays committed fuzz inputs through a fuzz target's entry point, so that
// `bazel test //...` re-runs the seed corpus and every regression input with
// the same contract checks as the fuzzer (built by gcc, without libFuzzer).
//
// Usage: <test> CORPUS_DIR [PENDING_DIR]. Files named valid-* must be
// accepted and invalid-* rejected by the parser. PENDING_DIR holds inputs
// that crash a parser whose fix has not landed yet; they are replayed only by
// the disabled test (--gtest_also_run_disabled_tests), so that a known,
// reported bug does not fail every build.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace weightstream::fuzz {
namespace {

std::string g_corpus_dir;
std::string g_pending_dir;

std::vector<std::filesystem::path> FilesUnder(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::follow_directory_symlink)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// Runs the fuzz target on `path`; a contract violation aborts the test
// binary, after naming the file.
void Replay(const std::filesystem::path& path) {
  const std::string bytes = ReadFile(path);
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(),
               bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
}

TEST(Replay, Corpus) {
  const auto files = FilesUnder(g_corpus_dir);
  ASSERT_FALSE(files.empty()) << "no files under '" << g_corpus_dir << "'";
  int valid = 0, invalid = 0;
  for (const auto& path : files) {
    Replay(path);
    const std::string name = path.filename().string();
    if (name.rfind("valid-", 0) == 0) {
      ++valid;
      EXPECT_TRUE(ParserAccepts(ReadFile(path))) << path << " is rejected";
    } else if (name.rfind("invalid-", 0) == 0) {
      ++invalid;
      EXPECT_FALSE(ParserAccepts(ReadFile(path))) << path << " is accepted";
    }
  }
  std::fprintf(stderr, "replayed %zu files (%d valid-*, %d invalid-*)\n",
               files.size(), valid, invalid);
  EXPECT_GT(valid, 0);
  EXPECT_GT(invalid, 0);
}

TEST(Replay, DISABLED_Pending) {
  for (const auto& path : FilesUnder(g_pending_dir)) Replay(path);
}

}  // namespace
}  // namespace weightstream::fuzz

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [PENDING_DIR]\n", argv[0]);
    return 2;
  }
  weightstream::fuzz::g_corpus_dir = argv[1];
  if (argc > 2) weightstream::fuzz::g_pending_dir = argv[2];
  return RUN_ALL_TESTS();
}
