#include "cpp/weightstream/gguf.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <numeric>
#include <string>
#include <unordered_set>

namespace weightstream {
namespace {

// Block sizes and type sizes as gguf-py 0.19.0 defines them
// (gguf.constants.GGML_QUANT_SIZES); ids missing here are unassigned or were
// removed from GGUF (4, 5, 31-33, 36-38).
constexpr GgmlType kGgmlTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},
    {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},
    {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},
    {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136},
    {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},
    {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
    {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},
};

constexpr std::string_view kValueTypeNames[] = {
    "UINT8", "INT8",   "UINT16", "INT16",  "UINT32", "INT32",   "FLOAT32",
    "BOOL",  "STRING", "ARRAY",  "UINT64", "INT64",  "FLOAT64",
};
constexpr uint32_t kValueTypeCount = std::size(kValueTypeNames);

// The least bytes one value of `type` occupies in a file: what bounds how
// many of them the rest of a file can hold.
uint64_t MinEncodedBytes(GgufValueType type) {
  if (type == GgufValueType::kString) return 8;  // length
  if (type == GgufValueType::kArray) return 12;  // element type + length
  return GgufScalarWidth(type);
}
// An empty key, a type and a 1-byte value.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
// An empty name, n_dims 0, type and offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

uint64_t LoadLe(const char* p, uint32_t width) {
  uint64_t v = 0;
  for (uint32_t i = width; i-- > 0;) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

GgufValue DecodeScalar(GgufValueType type, const char* p) {
  const uint64_t bits = LoadLe(p, GgufScalarWidth(type));
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::kInt8:
      v.value = int64_t{static_cast<int8_t>(bits)};
      break;
    case GgufValueType::kInt16:
      v.value = int64_t{static_cast<int16_t>(bits)};
      break;
    case GgufValueType::kInt32:
      v.value = int64_t{static_cast<int32_t>(bits)};
      break;
    case GgufValueType::kInt64:
      v.value = static_cast<int64_t>(bits);
      break;
    case GgufValueType::kFloat32: {
      const uint32_t narrow = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &narrow, sizeof f);
      v.value = double{f};
      break;
    }
    case GgufValueType::kFloat64: {
      double d;
      std::memcpy(&d, &bits, sizeof d);
      v.value = d;
      break;
    }
    case GgufValueType::kBool:
      v.value = bits != 0;
      break;
    default:  // The unsigned integers.
      v.value = bits;
      break;
  }
  return v;
}

// The index of the first byte of `s` that breaks UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included), or npos.
size_t InvalidUtf8At(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Continuation bytes, payload bits of the lead byte, least code point.
    struct Lead {
      unsigned char mask, value;
      size_t extra;
      uint32_t min;
    };
    static constexpr Lead kLeads[] = {{0xe0, 0xc0, 1, 0x80},
                                      {0xf0, 0xe0, 2, 0x800},
                                      {0xf8, 0xf0, 3, 0x10000}};
    const Lead* lead = nullptr;
    for (const Lead& l : kLeads) {
      if ((c & l.mask) == l.value) lead = &l;
    }
    if (lead == nullptr) return i;
    const size_t extra = lead->extra;
    uint32_t cp = c & static_cast<unsigned char>(~lead->mask);
    if (s.size() - i <= extra) return i;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < lead->min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += extra + 1;
  }
  return std::string_view::npos;
}

// Parses a header from a Source, reading it in chunks through a window that
// only ever holds the bytes not yet parsed.
class Parser {
 public:
  Parser(Source& source, uint64_t chunk_bytes)
      : source_(source),
        size_(source.size()),
        chunk_bytes_(std::max<uint64_t>(chunk_bytes, 1)) {}

  StatusOr<GgufHeader> Parse() {
    GgufHeader header;
    uint64_t tensor_count = 0, kv_count = 0;
    WS_RETURN_IF_ERROR(ParsePreamble(&header, &tensor_count, &kv_count));
    WS_RETURN_IF_ERROR(ParseMetadata(kv_count, &header));
    WS_RETURN_IF_ERROR(ResolveAlignment(&header));
    WS_RETURN_IF_ERROR(ParseTensorInfos(tensor_count, &header));
    const uint64_t misalignment = offset_ % header.alignment;
    header.data_start =
        offset_ + (misalignment ? header.alignment - misalignment : 0);
    WS_RETURN_IF_ERROR(CheckTensorRanges(header));
    return header;
  }

 private:
  // A kFormat error about the bytes at `at`, in the context of the key or
  // tensor being parsed.
  Status Error(uint64_t at, const std::string& what) const {
    return FormatError(source_.name() + ": invalid GGUF file: " + context_ +
                       what + " (at byte offset " + std::to_string(at) + ")");
  }

  // The next `n` bytes, valid until the next call; `what` names them if the
  // file ends first.
  StatusOr<std::string_view> Take(uint64_t n, std::string_view what) {
    if (n > size_ - offset_) {
      return Error(offset_,
                   "truncated file: " + std::string(what) + " needs " +
                       std::to_string(n) + " bytes but the file ends " +
                       std::to_string(size_ - offset_) + " bytes later");
    }
    if (n > window_start_ + window_.size() - offset_) {
      WS_RETURN_IF_ERROR(Fill(n));
    }
    std::string_view out(window_.data() + (offset_ - window_start_), n);
    offset_ += n;
    return out;
  }

  // Makes at least `n` bytes from offset_ (known to exist) available.
  Status Fill(uint64_t n) {
    window_.erase(0, offset_ - window_start_);
    window_start_ = offset_;
    const uint64_t have = window_.size();
    const uint64_t want = std::min(std::max(n, chunk_bytes_), size_ - offset_);
    window_.resize(want);
    return source_.ReadAt(offset_ + have, window_.data() + have, want - have);
  }

  StatusOr<uint64_t> ReadUint(uint32_t width, std::string_view what) {
    WS_ASSIGN_OR_RETURN(std::string_view bytes, Take(width, what));
    return LoadLe(bytes.data(), width);
  }

  // Checks that `count` values of at least `min_bytes` each can fit in what
  // is left of the file, so that nothing is sized by a count the file cannot
  // back. `at` is where the count was read.
  Status CheckCount(uint64_t count, uint64_t min_bytes, uint64_t at,
                    const std::string& what) const {
    if (count > (size_ - offset_) / min_bytes) {
      return Error(
          at, what + " count " + std::to_string(count) + " cannot fit in the " +
                  std::to_string(size_ - offset_) + " bytes left in the file");
    }
    return Status::Ok();
  }

  // Keys and tensor names must be UTF-8 (gguf-py decodes them strictly);
  // string values need not be.
  StatusOr<std::string> ReadString(std::string_view what, bool utf8) {
    const uint64_t at = offset_;
    WS_ASSIGN_OR_RETURN(uint64_t length, ReadUint(8, what));
    if (length > size_ - offset_) {
      return Error(at, std::string(what) + " length " + std::to_string(length) +
                           " runs past the end of the " +
                           std::to_string(size_) + "-byte file");
    }
    WS_ASSIGN_OR_RETURN(std::string_view bytes, Take(length, what));
    if (utf8) {
      if (size_t bad = InvalidUtf8At(bytes); bad != std::string_view::npos) {
        return Error(at + 8 + bad, std::string(what) + " " +
                                       QuoteUntrusted(bytes) +
                                       " is not valid UTF-8");
      }
    }
    return std::string(bytes);
  }

  StatusOr<GgufValueType> ReadValueType(std::string_view what) {
    const uint64_t at = offset_;
    WS_ASSIGN_OR_RETURN(uint64_t type, ReadUint(4, what));
    if (type >= kValueTypeCount) {
      return Error(at, "unknown " + std::string(what) + " " +
                           std::to_string(type) + " (known: 0 to " +
                           std::to_string(kValueTypeCount - 1) + ")");
    }
    return static_cast<GgufValueType>(type);
  }

  // The spec allows only 0 and 1; readers disagree on what others mean.
  Status CheckBools(std::string_view bytes, uint64_t at) const {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (static_cast<unsigned char>(bytes[i]) > 1) {
        return Error(at + i,
                     "BOOL value " +
                         std::to_string(static_cast<unsigned char>(bytes[i])) +
                         " is neither 0 nor 1");
      }
    }
    return Status::Ok();
  }

  // A value of `type` inside `depth` enclosing arrays.
  StatusOr<GgufValue> ParseValue(GgufValueType type, int depth) {
    GgufValue v;
    v.type = type;
    if (type == GgufValueType::kString) {
      WS_ASSIGN_OR_RETURN(v.value, ReadString("string", /*utf8=*/false));
      return v;
    }
    if (type == GgufValueType::kArray) {
      WS_ASSIGN_OR_RETURN(v.value, ParseArray(depth + 1));
      return v;
    }
    const uint64_t at = offset_;
    WS_ASSIGN_OR_RETURN(std::string_view bytes,
                        Take(GgufScalarWidth(type), GgufValueTypeName(type)));
    if (type == GgufValueType::kBool) WS_RETURN_IF_ERROR(CheckBools(bytes, at));
    return DecodeScalar(type, bytes.data());
  }

  // An array that is the `depth`th of nested arrays (1 for the outermost).
  StatusOr<GgufArray> ParseArray(int depth) {
    if (depth > kMaxGgufArrayDepth) {
      return Error(offset_, "arrays nested more than " +
                                std::to_string(kMaxGgufArrayDepth) +
                                " levels deep");
    }
    GgufArray array;
    WS_ASSIGN_OR_RETURN(array.element_type,
                        ReadValueType("array element type"));
    const uint64_t count_at = offset_;
    WS_ASSIGN_OR_RETURN(array.size, ReadUint(8, "array length"));
    const std::string_view type_name = GgufValueTypeName(array.element_type);
    WS_RETURN_IF_ERROR(CheckCount(array.size,
                                  MinEncodedBytes(array.element_type), count_at,
                                  std::string(type_name) + " array"));
    switch (array.element_type) {
      case GgufValueType::kString:
        for (uint64_t i = 0; i < array.size; ++i) {
          WS_ASSIGN_OR_RETURN(std::string s,
                              ReadString("string", /*utf8=*/false));
          array.strings.push_back(std::move(s));
        }
        break;
      case GgufValueType::kArray:
        for (uint64_t i = 0; i < array.size; ++i) {
          WS_ASSIGN_OR_RETURN(GgufArray inner, ParseArray(depth + 1));
          array.arrays.push_back(std::move(inner));
        }
        break;
      default: {
        const uint64_t at = offset_;
        WS_ASSIGN_OR_RETURN(
            std::string_view bytes,
            Take(array.size * GgufScalarWidth(array.element_type), type_name));
        if (array.element_type == GgufValueType::kBool) {
          WS_RETURN_IF_ERROR(CheckBools(bytes, at));
        }
        array.scalars.assign(bytes);
        break;
      }
    }
    return array;
  }

  Status ParsePreamble(GgufHeader* header, uint64_t* tensor_count,
                       uint64_t* kv_count) {
    if (size_ < 4) {
      return Error(0, "not a GGUF file: " + std::to_string(size_) +
                          " bytes is too small for the magic");
    }
    WS_ASSIGN_OR_RETURN(std::string_view magic, Take(4, "magic"));
    if (magic != "GGUF") {
      return Error(0, "not a GGUF file: magic " + QuoteUntrusted(magic) +
                          ", expected 'GGUF'");
    }
    WS_ASSIGN_OR_RETURN(uint64_t version, ReadUint(4, "version"));
    WS_RETURN_IF_ERROR(CheckVersion(static_cast<uint32_t>(version)));
    header->version = static_cast<uint32_t>(version);
    const uint64_t tensor_count_at = offset_;
    WS_ASSIGN_OR_RETURN(*tensor_count, ReadUint(8, "tensor count"));
    const uint64_t kv_count_at = offset_;
    WS_ASSIGN_OR_RETURN(*kv_count, ReadUint(8, "metadata count"));
    WS_RETURN_IF_ERROR(
        CheckCount(*kv_count, kMinKeyValueBytes, kv_count_at, "metadata"));
    WS_RETURN_IF_ERROR(CheckCount(*tensor_count, kMinTensorInfoBytes,
                                  tensor_count_at, "tensor"));
    return Status::Ok();
  }

  Status CheckVersion(uint32_t version) const {
    const uint64_t at = 4;
    if (version == 2 || version == 3) return Status::Ok();
    // A big-endian writer stores the same small version byte-swapped.
    if (const uint32_t swapped = __builtin_bswap32(version);
        swapped >= 1 && swapped <= 3) {
      return Error(at, "big-endian GGUF (version " + std::to_string(swapped) +
                           " byte-swapped) is not supported");
    }
    if (version == 1) {
      return Error(at,
                   "GGUF version 1 (32-bit counts and lengths) is not "
                   "supported; convert the file to version 3");
    }
    return Error(at, "unsupported GGUF version " + std::to_string(version) +
                         " (supported: 2 and 3)");
  }

  Status ParseMetadata(uint64_t count, GgufHeader* header) {
    std::unordered_set<std::string> keys;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t at = offset_;
      WS_ASSIGN_OR_RETURN(std::string key,
                          ReadString("metadata key", /*utf8=*/true));
      if (!keys.insert(key).second) {
        return Error(at, "metadata key " + QuoteUntrusted(key) +
                             " appears more than once");
      }
      context_ = "metadata " + QuoteUntrusted(key) + ": ";
      WS_ASSIGN_OR_RETURN(GgufValueType type, ReadValueType("value type"));
      if (key == "general.alignment") alignment_at_ = offset_;
      WS_ASSIGN_OR_RETURN(GgufValue value, ParseValue(type, 0));
      context_.clear();
      header->metadata.emplace_back(std::move(key), std::move(value));
    }
    return Status::Ok();
  }

  // The rule of gguf-py and ggml (the spec asks for a multiple of 8, which
  // neither enforces).
  Status ResolveAlignment(GgufHeader* header) {
    const GgufValue* value = header->FindMetadata("general.alignment");
    if (value == nullptr) return Status::Ok();
    context_ = "metadata 'general.alignment': ";
    if (value->type != GgufValueType::kUint32) {
      return Error(alignment_at_,
                   "must be a UINT32, not " +
                       std::string(GgufValueTypeName(value->type)));
    }
    const uint64_t alignment = std::get<uint64_t>(value->value);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      return Error(alignment_at_, std::to_string(alignment) +
                                      " is not a nonzero power of two");
    }
    context_.clear();
    header->alignment = static_cast<uint32_t>(alignment);
    return Status::Ok();
  }

  Status ParseTensorInfos(uint64_t count, GgufHeader* header) {
    std::unordered_set<std::string> names;
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t at = offset_;
      WS_ASSIGN_OR_RETURN(std::string name,
                          ReadString("tensor name", /*utf8=*/true));
      if (!names.insert(name).second) {
        return Error(at, "tensor name " + QuoteUntrusted(name) +
                             " appears more than once");
      }
      context_ = "tensor " + QuoteUntrusted(name) + ": ";
      GgufTensorInfo tensor;
      tensor.name = std::move(name);
      WS_RETURN_IF_ERROR(ParseTensorInfo(header->alignment, &tensor));
      context_.clear();
      header->tensors.push_back(std::move(tensor));
    }
    return Status::Ok();
  }

  // The fields after the name.
  Status ParseTensorInfo(uint32_t alignment, GgufTensorInfo* tensor) {
    const uint64_t n_dims_at = offset_;
    WS_ASSIGN_OR_RETURN(uint64_t n_dims, ReadUint(4, "n_dims"));
    if (n_dims > kMaxGgufDims) {
      return Error(n_dims_at, std::to_string(n_dims) + " dimensions (at most " +
                                  std::to_string(kMaxGgufDims) +
                                  " are supported)");
    }
    const uint64_t dims_at = offset_;
    WS_ASSIGN_OR_RETURN(std::string_view dims, Take(8 * n_dims, "dimensions"));
    for (uint64_t d = 0; d < n_dims; ++d) {
      tensor->dims.push_back(LoadLe(dims.data() + 8 * d, 8));
    }
    const uint64_t type_at = offset_;
    WS_ASSIGN_OR_RETURN(uint64_t type_id, ReadUint(4, "ggml type"));
    std::optional<GgmlType> type = FindGgmlType(static_cast<uint32_t>(type_id));
    if (!type) {
      return Error(type_at, "unknown ggml type " + std::to_string(type_id));
    }
    tensor->type = *type;
    WS_RETURN_IF_ERROR(ComputeSize(dims_at, tensor));
    const uint64_t offset_at = offset_;
    WS_ASSIGN_OR_RETURN(tensor->offset, ReadUint(8, "data offset"));
    if (tensor->offset % alignment != 0) {
      return Error(offset_at, "data offset " + std::to_string(tensor->offset) +
                                  " is not a multiple of the alignment " +
                                  std::to_string(alignment));
    }
    offset_field_at_.push_back(offset_at);
    return Status::Ok();
  }

  // Element count and bytes, with ggml's limits: counts fit in int64_t (its
  // ne[] type) and rows are whole blocks.
  Status ComputeSize(uint64_t dims_at, GgufTensorInfo* tensor) const {
    constexpr uint64_t kMaxCount = std::numeric_limits<int64_t>::max();
    uint64_t elements = 1;
    for (uint64_t d : tensor->dims) {
      if (d > kMaxCount || __builtin_mul_overflow(elements, d, &elements) ||
          elements > kMaxCount) {
        return Error(dims_at, "dimensions " + DimsString(tensor->dims) +
                                  " hold more than 2^63-1 elements");
      }
    }
    const GgmlType& type = tensor->type;
    const uint64_t row = tensor->dims.empty() ? 1 : tensor->dims[0];
    if (row % type.block_size != 0) {
      return Error(dims_at, "dims[0] = " + std::to_string(row) +
                                " is not a multiple of the " +
                                std::string(type.name) + " block size " +
                                std::to_string(type.block_size));
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(elements / type.block_size,
                               uint64_t{type.type_size}, &nbytes)) {
      return Error(dims_at, "dimensions " + DimsString(tensor->dims) + " of " +
                                std::string(type.name) +
                                " need more than 2^64-1 bytes");
    }
    tensor->elements = elements;
    tensor->nbytes = nbytes;
    return Status::Ok();
  }

  static std::string DimsString(const std::vector<uint64_t>& dims) {
    std::string out = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
      out += (i ? ", " : "") + std::to_string(dims[i]);
    }
    return out + "]";
  }

  // Every tensor lies within the file and no two share a byte.
  Status CheckTensorRanges(const GgufHeader& header) {
    const auto& tensors = header.tensors;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensorInfo& t = tensors[i];
      if (header.data_start > size_ ||
          !RangeWithin(t.offset, t.nbytes, size_ - header.data_start)) {
        context_ = "tensor " + QuoteUntrusted(t.name) + ": ";
        return Error(offset_field_at_[i],
                     std::to_string(t.nbytes) + " bytes at data offset " +
                         std::to_string(t.offset) + " (file offset " +
                         std::to_string(header.data_start) + " + " +
                         std::to_string(t.offset) +
                         ") run past the end of the " + std::to_string(size_) +
                         "-byte file");
      }
    }
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), size_t{0});
    // Stable: of two tensors at one offset, the later one is reported.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return tensors[a].offset < tensors[b].offset;
    });
    const GgufTensorInfo* previous = nullptr;  // Ends furthest so far.
    for (size_t i : order) {
      const GgufTensorInfo& t = tensors[i];
      if (t.nbytes == 0) continue;
      if (previous && t.offset < previous->offset + previous->nbytes) {
        context_ = "tensor " + QuoteUntrusted(t.name) + ": ";
        return Error(offset_field_at_[i],
                     "data [" + std::to_string(t.offset) + ", " +
                         std::to_string(t.offset + t.nbytes) +
                         ") overlaps tensor " + QuoteUntrusted(previous->name) +
                         " at [" + std::to_string(previous->offset) + ", " +
                         std::to_string(previous->offset + previous->nbytes) +
                         ")");
      }
      if (!previous ||
          t.offset + t.nbytes > previous->offset + previous->nbytes) {
        previous = &t;
      }
    }
    return Status::Ok();
  }

  Source& source_;
  const uint64_t size_;
  const uint64_t chunk_bytes_;
  // Bytes [window_start_, window_start_ + window_.size()) of the source.
  std::string window_;
  uint64_t window_start_ = 0;
  uint64_t offset_ = 0;  // The next byte to parse.
  // What is being parsed, for messages: "metadata 'key': " or "tensor 'x': ".
  std::string context_;
  uint64_t alignment_at_ = 0;  // Where general.alignment's value is.
  // Where each tensor's offset field is, by tensor index.
  std::vector<uint64_t> offset_field_at_;
};

// Bytes in memory, as a Source.
class BytesSource : public Source {
 public:
  BytesSource(std::string_view bytes, std::string_view name)
      : bytes_(bytes), name_(name) {}
  const std::string& name() const override { return name_; }
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, void* dst, size_t length) override {
    if (!RangeWithin(offset, length, bytes_.size())) {
      return InvalidArgumentError(name_ + ": read outside the bytes");
    }
    std::memcpy(dst, bytes_.data() + offset, length);
    return Status::Ok();
  }

 private:
  std::string_view bytes_;
  std::string name_;
};

}  // namespace

std::string_view GgufValueTypeName(GgufValueType type) {
  const auto i = static_cast<uint32_t>(type);
  return i < kValueTypeCount ? kValueTypeNames[i] : "unknown";
}

uint32_t GgufScalarWidth(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    default:
      return 0;
  }
}

GgufValue GgufArray::ScalarAt(uint64_t i) const {
  return DecodeScalar(element_type,
                      scalars.data() + i * GgufScalarWidth(element_type));
}

std::optional<GgmlType> FindGgmlType(uint32_t id) {
  for (const GgmlType& t : kGgmlTypes) {
    if (t.id == id) return t;
  }
  return std::nullopt;
}

std::vector<GgmlType> AllGgmlTypes() {
  return {std::begin(kGgmlTypes), std::end(kGgmlTypes)};
}

const GgufValue* GgufHeader::FindMetadata(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

StatusOr<GgufHeader> ReadGgufHeader(Source& source, uint64_t chunk_bytes) {
  try {
    return Parser(source, chunk_bytes).Parse();
  } catch (const std::bad_alloc&) {
    // Sizes are bounded by the file, but a large file can still exceed RAM.
    return ResourceExhaustedError(source.name() +
                                  ": out of memory reading the GGUF header");
  }
}

StatusOr<GgufHeader> ParseGgufHeader(std::string_view bytes,
                                     std::string_view file_name) {
  BytesSource source(bytes, file_name);
  return ReadGgufHeader(source);
}

StatusOr<std::shared_ptr<const GgufFile>> OpenGguf(
    std::shared_ptr<Source> source) {
  WS_ASSIGN_OR_RETURN(GgufHeader header, ReadGgufHeader(*source));
  auto file = std::make_shared<GgufFile>();
  file->source = std::move(source);
  file->header = std::move(header);
  return std::shared_ptr<const GgufFile>(std::move(file));
}

}  // namespace weightstream
