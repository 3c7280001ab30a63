#include "cpp/plugins/cloud/retry_policy.h"

#include <gtest/gtest.h>

#include "cpp/plugins/cloud/errors.h"

namespace weightstream::cloud {
namespace {

TEST(RetryPolicy, RetriesThrottlingAndServerErrorsOnly) {
  for (long s : {408, 429, 500, 502, 503, 504}) {
    EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  }
  for (long s : {200, 206, 301, 400, 401, 403, 404, 409, 412, 416, 501, 505}) {
    EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
  }
}

TEST(RetryPolicy, FullJitterWithinExponentialCeiling) {
  const Backoff b{std::chrono::milliseconds(100),
                  std::chrono::milliseconds(10000)};
  EXPECT_EQ(BackoffDelay(b, 0, 0.0).count(), 0);
  EXPECT_EQ(BackoffDelay(b, 0, 0.5).count(), 50);
  EXPECT_EQ(BackoffDelay(b, 3, 0.5).count(), 400);  // 100 * 2^3 / 2
  EXPECT_EQ(BackoffDelay(b, 6, 0.999).count(), 6393);
  EXPECT_EQ(BackoffDelay(b, 7, 0.5).count(), 5000);     // capped at 10 s
  EXPECT_EQ(BackoffDelay(b, 1000, 0.5).count(), 5000);  // no overflow
  for (int i = 0; i < 1000; ++i) {
    const double r = RandomUnit();
    ASSERT_GE(r, 0.0);
    ASSERT_LT(r, 1.0);
  }
}

TEST(RetryPolicy, RetryAfterIsHonouredUpToALimit) {
  const Backoff b{std::chrono::milliseconds(100),
                  std::chrono::milliseconds(10000)};
  EXPECT_EQ(RetryWait(b, 0, 0.5, "").count(), 50);
  EXPECT_EQ(RetryWait(b, 0, 0.5, "2").count(), 2000);
  EXPECT_EQ(RetryWait(b, 0, 0.5, " 3 ").count(), 3000);
  EXPECT_EQ(RetryWait(b, 6, 0.999, "1").count(), 6393);    // backoff is longer
  EXPECT_EQ(RetryWait(b, 0, 0.5, "3600").count(), 30000);  // capped
  EXPECT_EQ(RetryWait(b, 0, 0.5, "99999999999").count(), 50);
  EXPECT_EQ(RetryWait(b, 0, 0.5, "Wed, 21 Oct 2015 07:28:00 GMT").count(), 50);
  EXPECT_EQ(RetryWait(b, 0, 0.5, "-5").count(), 50);
}

TEST(Errors, HttpStatusCodes) {
  EXPECT_EQ(HttpStatusError(404, "m").code(), StatusCode::kNotFound);
  EXPECT_EQ(HttpStatusError(403, "m").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(HttpStatusError(401, "m").code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsChanged(HttpStatusError(412, "m")));
  EXPECT_EQ(HttpStatusError(416, "m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatusError(503, "m").code(), StatusCode::kIo);
  EXPECT_EQ(HttpStatusError(503, "m").http_status(), 503);
  EXPECT_FALSE(IsChanged(IoError("m")));
  EXPECT_EQ(RangeText(10, 5), "bytes 10-14");
}

}  // namespace
}  // namespace weightstream::cloud
