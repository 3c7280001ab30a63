#include "cpp/plugins/cloud/ascii.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(Ascii, LowerMapsOnlyAsciiLetters) {
  EXPECT_EQ(AsciiLower("X-Ms-Date: ABC-xyz_09"), "x-ms-date: abc-xyz_09");
  // Latin-1 'À' and UTF-8 'É' bytes stay as they are whatever the locale.
  EXPECT_EQ(AsciiLower("\xc0\xc3\x89"), "\xc0\xc3\x89");
  EXPECT_EQ(AsciiLower(""), "");
}

TEST(Ascii, TrimOwsSpacesAndTabsOnly) {
  EXPECT_EQ(TrimOws(" \t a b \t "), "a b");
  EXPECT_EQ(TrimOws("\r\na\n"), "\r\na\n");
  EXPECT_EQ(TrimOws(" \t "), "");
}

}  // namespace
}  // namespace weightstream::cloud
