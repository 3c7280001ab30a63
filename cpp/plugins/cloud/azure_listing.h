// Parsers for the Blob service's XML answers: a "List Blobs" page and an
// error body. Every byte is untrusted: documents with a DOCTYPE (entities)
// are refused, nesting and text are bounded, and every message quotes
// server bytes through QueueUntrusted-style bounding.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_LISTING_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_LISTING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

struct AzureBlobEntry {
  std::string name;  // Decoded (Name Encoded="true" is percent-decoded).
  uint64_t size = 0;
};

struct AzureBlobPage {
  std::vector<AzureBlobEntry> blobs;
  std::string next_marker;  // Empty on the last page.
};

// Parses an EnumerationResults document. kFormat (naming what is wrong) for
// malformed XML, a DOCTYPE, depth > 32, an element's text over 4 KiB, more
// than 100000 blobs, or a Blob without a decimal Content-Length.
StatusOr<AzureBlobPage> ParseAzureBlobList(std::string_view xml);

struct AzureErrorBody {
  std::string code;     // <Error><Code>, raw (quote before printing).
  std::string message;  // <Error><Message>, raw.
};

// Best effort: empty fields when `xml` is not an Azure error document.
AzureErrorBody ParseAzureError(std::string_view xml);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_AZURE_LISTING_H_
