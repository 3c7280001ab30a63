// Parsers for the GCS JSON API's answers: an object resource (objects.get),
// a listing page (objects.list) and an error body. Every byte is untrusted:
// sizes and generations must be decimal (string or number), names are
// bounded, and messages quote server bytes through QuoteUntrusted.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JSON_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

struct GcsObject {
  std::string name;
  uint64_t size = 0;
  std::string generation;  // Decimal digits; empty when the server gave none.
};

// objects.get: {"name", "size", "generation", ...}. kFormat when size is
// missing or not a decimal that fits 64 bits.
StatusOr<GcsObject> ParseGcsObject(std::string_view body);

struct GcsListPage {
  std::vector<GcsObject> items;
  std::string next_page_token;  // Empty on the last page.
};

// objects.list: {"items": [...], "nextPageToken": "..."}; "items" may be
// absent (no objects). kFormat for anything else, names over 1024 bytes
// (the GCS limit), or more than 100000 items in a page.
StatusOr<GcsListPage> ParseGcsListPage(std::string_view body);

struct GcsErrorBody {
  std::string reason;   // error.errors[0].reason or error.status, raw.
  std::string message;  // error.message, raw.
};

// Best effort: empty fields when `body` is not a GCS error document.
GcsErrorBody ParseGcsError(std::string_view body);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_GCS_JSON_H_
