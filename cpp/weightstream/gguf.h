// The GGUF format (ggml / llama.cpp): parsing and validating the header.
//
// Layout, all little-endian: magic "GGUF", version u32 (2 or 3), tensor_count
// u64, metadata_kv_count u64, the metadata key/value pairs, the tensor infos,
// zero padding up to the alignment, then the tensor data. Strings are a u64
// length and that many bytes. A tensor info is a name, n_dims u32, n_dims u64
// dimensions in ggml order (dims[0] varies fastest: the numpy shape is the
// reverse), a ggml type u32 and an offset u64 relative to the data section.
// The alignment is the u32 metadata value "general.alignment" (default 32).
//
// Validation happens before anything is allocated for tensor data, and every
// count, length and offset is checked against the bytes the file actually has
// before it sizes anything: a hostile header cannot make the parser allocate
// much more than the file's size, recurse deeper than kMaxGgufArrayDepth or
// loop longer than the file is long. Beyond what the spec requires, the parser
// rejects what the reference readers reject (gguf-py, ggml): duplicate keys
// and tensor names, unknown types, rows that are not whole quantization
// blocks, misaligned offsets; and what would make two readers disagree:
// overlapping tensors, element counts that overflow, BOOL bytes other than
// 0 and 1, keys and tensor names that are not UTF-8. Big-endian GGUF (a
// byte-swapped version field) and GGUF v1 (32-bit counts) are rejected.
#ifndef WEIGHTSTREAM_GGUF_H_
#define WEIGHTSTREAM_GGUF_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"

namespace weightstream {

inline constexpr uint32_t kGgufDefaultAlignment = 32;
// Arrays of arrays nested deeper than this are rejected. Real files nest at
// most one level; the limit keeps a hostile file from exhausting the stack.
inline constexpr int kMaxGgufArrayDepth = 64;
// ggml uses at most 4 dimensions; more than this is certainly not a tensor.
inline constexpr uint32_t kMaxGgufDims = 8;
// How much of the header ReadGgufHeader reads at a time: headers hold
// tokenizer vocabularies of many MB, parsed field by field from memory.
inline constexpr uint64_t kGgufReadChunkBytes = 1 << 20;

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// The spec's name without prefix, e.g. "UINT32".
std::string_view GgufValueTypeName(GgufValueType type);

// Bytes of one value in the file for numbers and BOOL; 0 for STRING/ARRAY.
uint32_t GgufScalarWidth(GgufValueType type);

struct GgufValue;

// An array: `size` elements of one `element_type`, stored compactly so that a
// vocabulary of 200k scores costs 800 KB, not 200k GgufValues. Exactly one of
// the containers is used, by element type.
struct GgufArray {
  GgufValueType element_type = GgufValueType::kUint8;
  uint64_t size = 0;
  // Number and BOOL elements: their bytes as in the file (little-endian,
  // GgufScalarWidth each). Read them with ScalarAt().
  std::string scalars;
  std::vector<std::string> strings;  // STRING elements.
  std::vector<GgufArray> arrays;     // ARRAY elements (arrays of arrays).

  // Element `i` of an array of numbers or BOOL, decoded.
  GgufValue ScalarAt(uint64_t i) const;
};

// A scalar or string metadata value, or an array of values. Unsigned
// integers are held as uint64_t, signed ones as int64_t, FLOAT32 and FLOAT64
// as double (exact for both), BOOL as bool.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;
};

// A ggml tensor type: `type_size` bytes hold `block_size` elements.
struct GgmlType {
  uint32_t id = 0;
  std::string_view name;  // e.g. "Q4_K"
  uint32_t block_size = 1;
  uint32_t type_size = 0;
};

// The type with ggml id `id`, or nullopt for ids no ggml release defines (or
// that were removed from GGUF, such as Q4_0_4_4).
std::optional<GgmlType> FindGgmlType(uint32_t id);

// Every type FindGgmlType knows, by increasing id.
std::vector<GgmlType> AllGgmlTypes();

struct GgufTensorInfo {
  std::string name;
  // ggml order: dims[0] is the fastest-varying (the numpy shape reversed).
  std::vector<uint64_t> dims;
  GgmlType type;
  // Relative to the start of the data section; a multiple of the alignment.
  uint64_t offset = 0;
  uint64_t elements = 0;  // The product of dims (1 for no dims).
  uint64_t nbytes = 0;    // elements / block_size * type_size.

  // The numpy shape: dims reversed.
  std::vector<uint64_t> shape() const { return {dims.rbegin(), dims.rend()}; }
};

struct GgufHeader {
  uint32_t version = 0;  // 2 or 3.
  uint32_t alignment = kGgufDefaultAlignment;
  // Where the data section starts in the file: the end of the tensor infos
  // rounded up to the alignment. Past the end of the file only if the file
  // has no tensors (and its writer left out the padding).
  uint64_t data_start = 0;
  // In file order.
  std::vector<std::pair<std::string, GgufValue>> metadata;
  // In file (header) order; their byte ranges neither overlap nor leave the
  // file, but need not be sorted or contiguous.
  std::vector<GgufTensorInfo> tensors;

  // The value of metadata key `key`, or nullptr.
  const GgufValue* FindMetadata(std::string_view key) const;
};

// Reads and validates the header of `source`, reading it `chunk_bytes` at a
// time (pieces are read as the parser reaches them; a string longer than a
// piece is read whole, once it is known to fit in the file).
//
// Contract, for any bytes whatsoever: returns a header or an error, never
// crashes, never reads outside the source, allocates O(size of the source),
// and takes time linear in the bytes it parses. Errors: kFormat naming the
// file, the byte offset and the problem; kIo if a read fails;
// kResourceExhausted if memory runs out.
StatusOr<GgufHeader> ReadGgufHeader(Source& source,
                                    uint64_t chunk_bytes = kGgufReadChunkBytes);

// ReadGgufHeader over the whole file `bytes` held in memory (e.g. for a
// fuzzer). `file_name` only labels error messages.
StatusOr<GgufHeader> ParseGgufHeader(std::string_view bytes,
                                     std::string_view file_name);

// A parsed file: its source and header, shared by whoever reads it.
struct GgufFile {
  std::shared_ptr<Source> source;
  GgufHeader header;
};

// Reads and validates the header of `source`.
StatusOr<std::shared_ptr<const GgufFile>> OpenGguf(
    std::shared_ptr<Source> source);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_GGUF_H_
