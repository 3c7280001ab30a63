// Decimal sizes as servers send them: Content-Length, S3's <Size>, Azure's
// <Content-Length>, GCS's "size" string, the numbers of a Content-Range.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_DECIMAL_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_DECIMAL_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace weightstream::cloud {

// One or more ASCII digits (RFC 9110's 1*DIGIT) and nothing else: no sign,
// no whitespace, no "0x". Leading zeros are allowed. nullopt when `s` is
// empty, holds any other byte, or the value exceeds UINT64_MAX.
std::optional<uint64_t> ParseDecimalU64(std::string_view s);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_DECIMAL_H_
