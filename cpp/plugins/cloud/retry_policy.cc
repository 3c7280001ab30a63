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

double RandomUnit() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace weightstream::cloud
