#include "cpp/plugins/cloud/content_range.h"

#include "cpp/plugins/cloud/ascii.h"
#include "cpp/plugins/cloud/decimal.h"

namespace weightstream::cloud {
namespace {

// Consumes a run of decimal digits from the front of `s`.
std::optional<uint64_t> TakeNumber(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  auto v = ParseDecimalU64(s.substr(0, n));
  if (v) s.remove_prefix(n);
  return v;
}

bool TakeChar(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  std::string_view s = TrimOws(value);
  constexpr std::string_view kUnit = "bytes ";
  if (AsciiLower(s.substr(0, kUnit.size())) != kUnit) return std::nullopt;
  s.remove_prefix(kUnit.size());
  s = TrimOws(s);
  ContentRange r;
  auto first = TakeNumber(s);
  if (!first || !TakeChar(s, '-')) return std::nullopt;
  auto last = TakeNumber(s);
  if (!last || !TakeChar(s, '/')) return std::nullopt;
  r.first = *first;
  r.last = *last;
  if (r.last < r.first) return std::nullopt;
  if (TakeChar(s, '*')) {
    if (!s.empty()) return std::nullopt;
    return r;
  }
  auto complete = TakeNumber(s);
  if (!complete || !s.empty() || r.last >= *complete) return std::nullopt;
  r.complete = *complete;
  return r;
}

RangeCheck CheckContentRange(const ContentRange& range, uint64_t offset,
                             uint64_t length, uint64_t object_size) {
  if (range.complete && *range.complete != object_size) {
    return RangeCheck::kChanged;
  }
  if (length == 0 || range.first != offset ||
      range.last != offset + length - 1) {
    return RangeCheck::kMismatch;
  }
  return RangeCheck::kOk;
}

}  // namespace weightstream::cloud
