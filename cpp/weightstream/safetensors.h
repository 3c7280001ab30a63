// The safetensors format: parsing and validating the header.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the
// tensor data. The JSON maps tensor names to {dtype, shape, data_offsets} and
// may hold "__metadata__", a map of strings. Offsets are relative to 8 + N.
//
// Validation is as strict as the reference implementation and happens before
// anything is allocated for tensor data: every tensor's byte range must equal
// its shape times its dtype width, ranges must tile the data section exactly
// (sorted, starting at 0, no gaps, no overlaps) and end at the end of the file.
#ifndef WEIGHTSTREAM_SAFETENSORS_H_
#define WEIGHTSTREAM_SAFETENSORS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cpp/weightstream/dtype.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

// Header lengths above this are rejected, as the reference does.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
// JSON nesting deeper than this is rejected (serde_json's limit).
inline constexpr int kMaxJsonDepth = 128;

struct TensorInfo {
  std::string name;
  Dtype dtype;
  std::vector<uint64_t> shape;
  // Byte range relative to the start of the data section.
  uint64_t begin = 0;
  uint64_t end = 0;

  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  // Where tensor data starts in the file: 8 + header length.
  uint64_t data_start = 0;
  // Sorted by `begin`, then `end`.
  std::vector<TensorInfo> tensors;
  // "__metadata__", in file order; empty if absent or null.
  bool has_metadata = false;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// Parses and validates header JSON `json` of a file of `file_size` bytes.
// `file_name` only labels error messages. Errors: kFormat.
StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view json,
                                                   uint64_t file_size,
                                                   std::string_view file_name);

// Reads the length prefix and header from `source` and parses them.
// Errors: kFormat for invalid files, kIo for failed reads.
StatusOr<SafetensorsHeader> ReadSafetensorsHeader(Source& source);

// A parsed file: its source and header, shared by whoever reads it.
struct SafetensorsFile {
  std::shared_ptr<Source> source;
  SafetensorsHeader header;
};

// Reads and parses the header of `source`.
StatusOr<std::shared_ptr<const SafetensorsFile>> OpenSafetensors(
    std::shared_ptr<Source> source);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_SAFETENSORS_H_
