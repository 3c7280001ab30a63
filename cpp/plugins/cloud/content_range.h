// Content-Range (RFC 9110 section 14.4) of a 206 answer, checked against the
// range that was asked for and the object size seen at open.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_CONTENT_RANGE_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_CONTENT_RANGE_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace weightstream::cloud {

struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;                 // Inclusive.
  std::optional<uint64_t> complete;  // The total size; nullopt for "*".
};

// Parses "bytes FIRST-LAST/TOTAL" or "bytes FIRST-LAST/*" (case-insensitive
// unit, optional surrounding whitespace). nullopt for anything else,
// including "bytes */TOTAL" (an unsatisfied range), last < first, last >=
// total, and numbers that overflow 64 bits.
std::optional<ContentRange> ParseContentRange(std::string_view value);

enum class RangeCheck {
  kOk,
  kMismatch,  // Not the bytes asked for: a broken server or proxy.
  kChanged,   // The total differs from the size at open: a new object.
};

// Whether `range` covers exactly [offset, offset + length) of an object of
// `object_size` bytes.
RangeCheck CheckContentRange(const ContentRange& range, uint64_t offset,
                             uint64_t length, uint64_t object_size);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_CONTENT_RANGE_H_
