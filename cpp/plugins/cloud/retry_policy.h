// When to retry a request and how long to wait first.
//
// Retried: throttling (429, S3's 503 SlowDown), 500/502/503/504, 408
// (request timeout), and transport failures the caller classifies as
// transient (connection reset/refused, timeouts, short bodies). Never
// retried: other 4xx (they will not change by asking again). Waits are
// "full jitter" exponential backoff: uniform in [0, min(cap, base * 2^n)],
// which spreads many clients' retries instead of synchronizing them.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_RETRY_POLICY_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_RETRY_POLICY_H_

#include <chrono>
#include <cstdint>
#include <string_view>

namespace weightstream::cloud {

bool IsRetryableHttpStatus(long status);

struct Backoff {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{10000};
};

// The wait before retry number `attempt` (0 for the first retry). `random01`
// is a uniform draw in [0, 1); passing it in keeps this deterministic to
// test.
std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int attempt,
                                       double random01);

// The wait before retry `attempt` when the server said Retry-After
// (`retry_after`, the header's value, or empty): the backoff, but at least
// the delay-seconds the server asked for, up to `max_honoured` (a server
// asking for an hour is not waited on). HTTP-dates are ignored.
std::chrono::milliseconds RetryWait(
    const Backoff& backoff, int attempt, double random01,
    std::string_view retry_after,
    std::chrono::milliseconds max_honoured = std::chrono::milliseconds(30000));

// A uniform draw in [0, 1) from a per-thread generator.
double RandomUnit();

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_RETRY_POLICY_H_
