#include "cpp/plugins/cloud/retry_policy.h"

#include <algorithm>
#include <random>

namespace weightstream::cloud {

bool IsRetryableHttpStatus(long status) {
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int attempt,
                                       double random01) {
  const double base = static_cast<double>(backoff.base.count());
  const double cap = static_cast<double>(backoff.cap.count());
  // 2^attempt overflows nothing: it saturates at the cap long before.
  double ceiling = base;
  for (int i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  const double r = std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling * r));
}

std::chrono::milliseconds RetryWait(const Backoff& backoff, int attempt,
                                    double random01,
                                    std::string_view retry_after,
                                    std::chrono::milliseconds max_honoured) {
  const std::chrono::milliseconds wait =
      BackoffDelay(backoff, attempt, random01);
  while (!retry_after.empty() &&
         (retry_after.front() == ' ' || retry_after.front() == '\t')) {
    retry_after.remove_prefix(1);
  }
  while (!retry_after.empty() &&
         (retry_after.back() == ' ' || retry_after.back() == '\t')) {
    retry_after.remove_suffix(1);
  }
  if (retry_after.empty() || retry_after.size() > 9) return wait;
  int64_t seconds = 0;
  for (char c : retry_after) {
    if (c < '0' || c > '9') return wait;  // An HTTP-date, or garbage.
    seconds = seconds * 10 + (c - '0');
  }
  const std::chrono::milliseconds asked =
      std::min(std::chrono::milliseconds(seconds * 1000), max_honoured);
  return std::max(wait, asked);
}

double RandomUnit() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace weightstream::cloud
