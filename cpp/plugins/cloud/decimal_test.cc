#include "cpp/plugins/cloud/decimal.h"

#include <gtest/gtest.h>

namespace weightstream::cloud {
namespace {

TEST(ParseDecimalU64, Accepts) {
  EXPECT_EQ(ParseDecimalU64("0"), 0u);
  EXPECT_EQ(ParseDecimalU64("1234"), 1234u);
  EXPECT_EQ(ParseDecimalU64("0007"), 7u);
  // Zero padding past 20 characters is still 1*DIGIT and still fits.
  EXPECT_EQ(ParseDecimalU64("0000000000000000000000042"), 42u);
  EXPECT_EQ(ParseDecimalU64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseDecimalU64("9999999999999999999"), 9999999999999999999u);
}

TEST(ParseDecimalU64, RejectsNonDigits) {
  EXPECT_FALSE(ParseDecimalU64(""));
  EXPECT_FALSE(ParseDecimalU64("+1"));
  EXPECT_FALSE(ParseDecimalU64("-1"));
  EXPECT_FALSE(ParseDecimalU64("-0"));
  EXPECT_FALSE(ParseDecimalU64(" 1"));
  EXPECT_FALSE(ParseDecimalU64("1 "));
  EXPECT_FALSE(ParseDecimalU64("0x10"));
  EXPECT_FALSE(ParseDecimalU64("1.5"));
  EXPECT_FALSE(ParseDecimalU64(std::string_view("1\0", 2)));
}

TEST(ParseDecimalU64, RejectsOverflow) {
  EXPECT_FALSE(ParseDecimalU64("18446744073709551616"));  // UINT64_MAX + 1.
  EXPECT_FALSE(ParseDecimalU64("18446744073709551620"));
  EXPECT_FALSE(ParseDecimalU64("99999999999999999999"));      // 20 digits.
  EXPECT_FALSE(ParseDecimalU64("184467440737095516150"));     // 21 digits.
  EXPECT_FALSE(ParseDecimalU64("100000000000000000000000"));  // 24 digits.
}

}  // namespace
}  // namespace weightstream::cloud
