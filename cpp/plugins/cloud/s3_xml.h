// The two S3 XML documents the plugin reads: a ListObjectsV2 page and an
// error document. Every byte is treated as hostile: the parser (expat)
// refuses DOCTYPEs and entity declarations, documents and strings are size
// bounded, and anything unexpected is a kFormat error, never a crash or an
// unbounded allocation.
#ifndef WEIGHTSTREAM_PLUGINS_CLOUD_S3_XML_H_
#define WEIGHTSTREAM_PLUGINS_CLOUD_S3_XML_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cpp/weightstream/status.h"

namespace weightstream::cloud {

inline constexpr size_t kMaxXmlBytes = 8 << 20;
inline constexpr size_t kMaxXmlText = 4096;  // Per element.
inline constexpr size_t kMaxListPageEntries = 10000;

struct S3ListEntry {
  std::string key;
  uint64_t size = 0;
};

struct S3ListPage {
  std::vector<S3ListEntry> entries;
  bool truncated = false;
  std::string next_continuation_token;  // Set when truncated.
};

// Parses <ListBucketResult> (ListObjectsV2). Errors (kFormat): not XML, a
// DOCTYPE, another root element, a <Contents> without <Key> or with a
// <Size> that is not a decimal uint64, IsTruncated true without a token,
// over the size/count bounds.
StatusOr<S3ListPage> ParseListObjectsV2(std::string_view xml);

struct S3ErrorDocument {
  std::string code;     // e.g. "NoSuchKey"; empty if absent.
  std::string message;  // Empty if absent.
};

// Parses <Error><Code/><Message/></Error>; anything else (or garbage) gives
// empty fields: an error answer is explained by its status then.
S3ErrorDocument ParseS3Error(std::string_view xml);

}  // namespace weightstream::cloud

#endif  // WEIGHTSTREAM_PLUGINS_CLOUD_S3_XML_H_
