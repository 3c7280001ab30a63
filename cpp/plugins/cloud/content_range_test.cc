#include "cpp/plugins/cloud/content_range.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(ContentRange, Parses) {
  auto r = ParseContentRange("bytes 1000-2000/67108864");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 1000u);
  EXPECT_EQ(r->last, 2000u);
  EXPECT_EQ(*r->complete, 67108864u);
  r = ParseContentRange("  Bytes 0-0/*  ");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->complete);
  r = ParseContentRange("bytes 0-18446744073709551614/18446744073709551615");
  ASSERT_TRUE(r);
}

TEST(ContentRange, RejectsMalformed) {
  for (const char* bad :
       {"", "bytes", "bytes ", "bytes */100", "bytes 5-4/100",
        "bytes 0-100/100", "bytes 0-9/", "bytes 0-9/10x", "bytes -9/10",
        "bytes 0-/10", "items 0-9/10", "bytes 0-9,20-29/100",
        "bytes 0-99999999999999999999/1", "bytes 0-9/18446744073709551616",
        "bytes 0x0-9/10", "bytes 0 - 9/10"}) {
    EXPECT_FALSE(ParseContentRange(bad)) << bad;
  }
}

TEST(ContentRange, Check) {
  const ContentRange r{100, 199, 1000};
  EXPECT_EQ(CheckContentRange(r, 100, 100, 1000), RangeCheck::kOk);
  EXPECT_EQ(CheckContentRange(r, 100, 101, 1000), RangeCheck::kMismatch);
  EXPECT_EQ(CheckContentRange(r, 99, 101, 1000), RangeCheck::kMismatch);
  EXPECT_EQ(CheckContentRange(r, 100, 100, 999), RangeCheck::kChanged);
  const ContentRange unknown_total{100, 199, std::nullopt};
  EXPECT_EQ(CheckContentRange(unknown_total, 100, 100, 5), RangeCheck::kOk);
  EXPECT_EQ(CheckContentRange(r, 100, 0, 1000), RangeCheck::kMismatch);
}

}  // namespace
}  // namespace weightstream::cloud
