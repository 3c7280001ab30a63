// libFuzzer target for the GGUF header parser.
//
// Each input is a whole file. It is read through an in-memory Source with
// ReadGgufHeader in the default chunk size and in tiny chunks (every field
// straddles a refill of the read window), and with ParseGgufHeader; all three
// must give the same header or the same error.
//
// Besides sanitizer reports, these abort: a read outside the source, a heap
// peak out of proportion to the input, an error that is not a kFormat naming
// the file and a byte offset, and an accepted header that breaks gguf.h's
// promises or disagrees with an independent, minimal walk over the same
// bytes (below): tensor ranges must lie inside the file, be aligned and not
// overlap; sizes must follow from dims and the ggml type; keys and names must
// be unique UTF-8; the data section must start at the aligned end of the
// tensor infos.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cpp/weightstream/gguf.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"
#include "fuzz/fuzz_util.h"

namespace weightstream::fuzz {
namespace {

constexpr char kName[] = "fuzz.gguf";
const bool kStrictMessages = StrictMessages(true);

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    size_t extra;
    uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i - 1 < extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xc0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// A bounds-checked cursor over the input: the independent reading of an
// accepted file. Any failure to read is a contract violation, since the parser
// accepted these bytes.
class Walker {
 public:
  explicit Walker(std::string_view bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }

  std::string_view Take(uint64_t n, const char* what) {
    WS_FUZZ_CHECK(n <= bytes_.size() - pos_,
                  std::string("accepted file has no room for ") + what +
                      " at byte " + std::to_string(pos_));
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t Uint(uint32_t width, const char* what) {
    std::string_view b = Take(width, what);
    uint64_t v = 0;
    for (uint32_t i = width; i-- > 0;) {
      v = v << 8 | static_cast<unsigned char>(b[i]);
    }
    return v;
  }
  std::string_view String(const char* what) {
    return Take(Uint(8, what), what);
  }

 private:
  std::string_view bytes_;
  uint64_t pos_ = 0;
};

uint32_t Width(uint32_t type) {
  switch (type) {
    case 0:
    case 1:
    case 7:
      return 1;
    case 2:
    case 3:
      return 2;
    case 4:
    case 5:
    case 6:
      return 4;
    case 10:
    case 11:
    case 12:
      return 8;
    default:
      return 0;
  }
}

// The decoded scalar `raw` of file type `type` must equal `v`.
void CheckScalar(const GgufValue& v, uint32_t type, std::string_view raw,
                 const std::string& where) {
  WS_FUZZ_CHECK(static_cast<uint32_t>(v.type) == type,
                where + ": type " + std::to_string(static_cast<int>(v.type)));
  uint64_t bits = 0;
  for (size_t i = raw.size(); i-- > 0;) {
    bits = bits << 8 | static_cast<unsigned char>(raw[i]);
  }
  switch (type) {
    case 0:
    case 2:
    case 4:
    case 10:
      WS_FUZZ_CHECK(std::holds_alternative<uint64_t>(v.value) &&
                        std::get<uint64_t>(v.value) == bits,
                    where + ": unsigned value");
      break;
    case 1:
    case 3:
    case 5:
    case 11: {
      const int shift = 64 - 8 * static_cast<int>(raw.size());
      const int64_t want =
          static_cast<int64_t>(bits << shift) >> shift;  // sign-extend
      WS_FUZZ_CHECK(std::holds_alternative<int64_t>(v.value) &&
                        std::get<int64_t>(v.value) == want,
                    where + ": signed value");
      break;
    }
    case 6:
    case 12: {
      double want;
      if (type == 6) {
        float f;
        const uint32_t narrow = static_cast<uint32_t>(bits);
        std::memcpy(&f, &narrow, sizeof f);
        want = f;
      } else {
        std::memcpy(&want, &bits, sizeof want);
      }
      WS_FUZZ_CHECK(std::holds_alternative<double>(v.value),
                    where + ": float value");
      const double got = std::get<double>(v.value);
      WS_FUZZ_CHECK(std::memcmp(&got, &want, sizeof got) == 0 ||
                        (got != got && want != want),
                    where + ": float value");
      break;
    }
    case 7:
      WS_FUZZ_CHECK(bits <= 1, where + ": BOOL byte " + std::to_string(bits));
      WS_FUZZ_CHECK(std::holds_alternative<bool>(v.value) &&
                        std::get<bool>(v.value) == (bits == 1),
                    where + ": bool value");
      break;
    default:
      Fail(__FILE__, __LINE__, "scalar type", where);
  }
}

void CheckArray(const GgufArray& a, Walker& w, int depth,
                const std::string& where) {
  WS_FUZZ_CHECK(depth <= kMaxGgufArrayDepth, where + ": nested too deep");
  const uint32_t type = static_cast<uint32_t>(w.Uint(4, "array type"));
  const uint64_t size = w.Uint(8, "array size");
  WS_FUZZ_CHECK(static_cast<uint32_t>(a.element_type) == type && a.size == size,
                where + ": array type/size");
  if (type == 8) {
    WS_FUZZ_CHECK(
        a.strings.size() == size && a.scalars.empty() && a.arrays.empty(),
        where + ": string array containers");
    for (uint64_t i = 0; i < size; ++i) {
      WS_FUZZ_CHECK(w.String("array string") == a.strings[i],
                    where + ": string element " + std::to_string(i));
    }
  } else if (type == 9) {
    WS_FUZZ_CHECK(
        a.arrays.size() == size && a.scalars.empty() && a.strings.empty(),
        where + ": array array containers");
    for (uint64_t i = 0; i < size; ++i) {
      CheckArray(a.arrays[i], w, depth + 1,
                 where + "[" + std::to_string(i) + "]");
    }
  } else {
    const uint32_t width = Width(type);
    WS_FUZZ_CHECK(width > 0,
                  where + ": array of unknown type " + std::to_string(type));
    WS_FUZZ_CHECK(a.strings.empty() && a.arrays.empty() &&
                      a.scalars.size() == size * width,
                  where + ": scalar array containers");
    const std::string_view raw = w.Take(size * width, "array elements");
    WS_FUZZ_CHECK(raw == a.scalars, where + ": array bytes");
    for (uint64_t i = 0; i < size; ++i) {
      CheckScalar(a.ScalarAt(i), type, raw.substr(i * width, width),
                  where + "[" + std::to_string(i) + "]");
    }
  }
}

void CheckValue(const GgufValue& v, uint32_t type, Walker& w,
                const std::string& where) {
  WS_FUZZ_CHECK(static_cast<uint32_t>(v.type) == type,
                where + ": value type " +
                    std::to_string(static_cast<int>(v.type)) + ", file says " +
                    std::to_string(type));
  if (type == 8) {
    WS_FUZZ_CHECK(std::holds_alternative<std::string>(v.value) &&
                      std::get<std::string>(v.value) == w.String("string"),
                  where + ": string value");
  } else if (type == 9) {
    WS_FUZZ_CHECK(std::holds_alternative<GgufArray>(v.value),
                  where + ": array value");
    CheckArray(std::get<GgufArray>(v.value), w, 1, where);
  } else {
    const uint32_t width = Width(type);
    WS_FUZZ_CHECK(width > 0, where + ": unknown type " + std::to_string(type));
    CheckScalar(v, type, w.Take(width, "scalar"), where);
  }
}

// Checks an accepted header against the bytes of the file.
void CheckHeader(const GgufHeader& h, std::string_view bytes) {
  const uint64_t size = bytes.size();
  Walker w(bytes);
  WS_FUZZ_CHECK(w.Take(4, "magic") == "GGUF", "accepted without the magic");
  const uint64_t version = w.Uint(4, "version");
  WS_FUZZ_CHECK(h.version == version && (version == 2 || version == 3),
                "version " + std::to_string(h.version));
  const uint64_t tensor_count = w.Uint(8, "tensor count");
  const uint64_t kv_count = w.Uint(8, "kv count");
  WS_FUZZ_CHECK(h.tensors.size() == tensor_count,
                std::to_string(h.tensors.size()) + " tensors, file says " +
                    std::to_string(tensor_count));
  WS_FUZZ_CHECK(h.metadata.size() == kv_count,
                std::to_string(h.metadata.size()) + " keys, file says " +
                    std::to_string(kv_count));

  std::set<std::string> keys;
  for (const auto& [key, value] : h.metadata) {
    const std::string where = "metadata '" + key + "'";
    WS_FUZZ_CHECK(w.String("key") == key, where + ": key bytes");
    WS_FUZZ_CHECK(ValidUtf8(key), where + ": key is not UTF-8");
    WS_FUZZ_CHECK(keys.insert(key).second, where + ": duplicate key");
    WS_FUZZ_CHECK(h.FindMetadata(key) == &value, where + ": FindMetadata");
    CheckValue(value, static_cast<uint32_t>(w.Uint(4, "value type")), w, where);
  }

  WS_FUZZ_CHECK(h.alignment != 0 && (h.alignment & (h.alignment - 1)) == 0,
                "alignment " + std::to_string(h.alignment));
  const GgufValue* align = h.FindMetadata("general.alignment");
  if (align == nullptr) {
    WS_FUZZ_CHECK(h.alignment == kGgufDefaultAlignment,
                  "alignment " + std::to_string(h.alignment));
  } else {
    WS_FUZZ_CHECK(
        align->type == GgufValueType::kUint32 &&
            std::get<uint64_t>(align->value) == h.alignment,
        "general.alignment vs alignment " + std::to_string(h.alignment));
  }

  std::set<std::string> names;
  for (const GgufTensorInfo& t : h.tensors) {
    const std::string where = "tensor '" + t.name + "'";
    WS_FUZZ_CHECK(w.String("name") == t.name, where + ": name bytes");
    WS_FUZZ_CHECK(ValidUtf8(t.name), where + ": name is not UTF-8");
    WS_FUZZ_CHECK(names.insert(t.name).second, where + ": duplicate name");
    const uint64_t n_dims = w.Uint(4, "n_dims");
    WS_FUZZ_CHECK(n_dims == t.dims.size() && n_dims <= kMaxGgufDims,
                  where + ": n_dims " + std::to_string(n_dims));
    for (uint64_t d : t.dims) {
      WS_FUZZ_CHECK(w.Uint(8, "dim") == d, where + ": dims");
    }
    std::vector<uint64_t> reversed(t.dims.rbegin(), t.dims.rend());
    WS_FUZZ_CHECK(t.shape() == reversed, where + ": shape()");
    const uint64_t type_id = w.Uint(4, "type");
    WS_FUZZ_CHECK(t.type.id == type_id, where + ": type id");
    std::optional<GgmlType> type = FindGgmlType(t.type.id);
    WS_FUZZ_CHECK(type && type->name == t.type.name &&
                      type->block_size == t.type.block_size &&
                      type->type_size == t.type.type_size &&
                      type->block_size > 0 && type->type_size > 0,
                  where + ": ggml type");
    const uint64_t offset = w.Uint(8, "offset");
    WS_FUZZ_CHECK(t.offset == offset && offset % h.alignment == 0,
                  where + ": offset " + std::to_string(t.offset));

    unsigned __int128 elements = 1;
    for (uint64_t d : t.dims) {
      elements *= d;
      if (elements > std::numeric_limits<uint64_t>::max()) {
        elements = static_cast<unsigned __int128>(1) << 64;
      }
    }
    const bool has_zero =
        std::find(t.dims.begin(), t.dims.end(), 0) != t.dims.end();
    WS_FUZZ_CHECK(
        elements == t.elements && (has_zero ? t.elements == 0 : true) &&
            t.elements <=
                static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
        where + ": elements " + std::to_string(t.elements));
    const uint64_t row = t.dims.empty() ? 1 : t.dims[0];
    WS_FUZZ_CHECK(row % t.type.block_size == 0,
                  where + ": row of partial blocks");
    WS_FUZZ_CHECK(static_cast<unsigned __int128>(t.elements) /
                          t.type.block_size * t.type.type_size ==
                      t.nbytes,
                  where + ": nbytes " + std::to_string(t.nbytes));
  }

  const uint64_t infos_end = w.pos();
  const uint64_t want_start =
      (infos_end + h.alignment - 1) / h.alignment * h.alignment;
  WS_FUZZ_CHECK(h.data_start == want_start,
                "data_start " + std::to_string(h.data_start) + ", want " +
                    std::to_string(want_start));
  if (!h.tensors.empty()) {
    WS_FUZZ_CHECK(h.data_start <= size,
                  "data_start " + std::to_string(h.data_start) +
                      " past the end of the file, with tensors");
  }

  // In the file, and no two non-empty tensors share a byte.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const GgufTensorInfo& t : h.tensors) {
    WS_FUZZ_CHECK(h.data_start <= size &&
                      RangeWithin(t.offset, t.nbytes, size - h.data_start),
                  "tensor '" + t.name + "': " + std::to_string(t.nbytes) +
                      " bytes at " + std::to_string(t.offset) +
                      " outside the file");
    if (t.nbytes > 0) ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    WS_FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second,
                  "overlapping tensors at data offset " +
                      std::to_string(ranges[i].first));
  }
}

// Two parses of the same bytes must agree exactly.
bool SameArray(const GgufArray& a, const GgufArray& b);
bool SameValue(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type || a.value.index() != b.value.index()) return false;
  if (std::holds_alternative<GgufArray>(a.value)) {
    return SameArray(std::get<GgufArray>(a.value),
                     std::get<GgufArray>(b.value));
  }
  if (std::holds_alternative<double>(a.value)) {
    double x = std::get<double>(a.value), y = std::get<double>(b.value);
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  if (std::holds_alternative<std::string>(a.value)) {
    return std::get<std::string>(a.value) == std::get<std::string>(b.value);
  }
  if (std::holds_alternative<bool>(a.value)) {
    return std::get<bool>(a.value) == std::get<bool>(b.value);
  }
  if (std::holds_alternative<int64_t>(a.value)) {
    return std::get<int64_t>(a.value) == std::get<int64_t>(b.value);
  }
  return std::get<uint64_t>(a.value) == std::get<uint64_t>(b.value);
}
bool SameArray(const GgufArray& a, const GgufArray& b) {
  if (a.element_type != b.element_type || a.size != b.size ||
      a.scalars != b.scalars || a.strings != b.strings ||
      a.arrays.size() != b.arrays.size()) {
    return false;
  }
  for (size_t i = 0; i < a.arrays.size(); ++i) {
    if (!SameArray(a.arrays[i], b.arrays[i])) return false;
  }
  return true;
}
bool SameHeader(const GgufHeader& a, const GgufHeader& b) {
  if (a.version != b.version || a.alignment != b.alignment ||
      a.data_start != b.data_start || a.metadata.size() != b.metadata.size() ||
      a.tensors.size() != b.tensors.size()) {
    return false;
  }
  for (size_t i = 0; i < a.metadata.size(); ++i) {
    if (a.metadata[i].first != b.metadata[i].first ||
        !SameValue(a.metadata[i].second, b.metadata[i].second)) {
      return false;
    }
  }
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const GgufTensorInfo& x = a.tensors[i];
    const GgufTensorInfo& y = b.tensors[i];
    if (x.name != y.name || x.dims != y.dims || x.type.id != y.type.id ||
        x.offset != y.offset || x.elements != y.elements ||
        x.nbytes != y.nbytes) {
      return false;
    }
  }
  return true;
}

void CheckSame(const StatusOr<GgufHeader>& a, const StatusOr<GgufHeader>& b,
               const char* what) {
  WS_FUZZ_CHECK(a.ok() == b.ok(), std::string(what) + ": " +
                                      a.status().ToString() + " vs " +
                                      b.status().ToString());
  if (a.ok()) {
    WS_FUZZ_CHECK(SameHeader(a.value(), b.value()),
                  std::string(what) + ": headers differ");
  } else {
    WS_FUZZ_CHECK(a.status().code() == b.status().code() &&
                      a.status().message() == b.status().message(),
                  std::string(what) + ": " + a.status().message() + " vs " +
                      b.status().message());
  }
}

void FuzzOne(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  FuzzSource source(kName, bytes);
  HeapPeak::Start();
  auto header = ReadGgufHeader(source);
  const uint64_t peak = HeapPeak::Stop();
  WS_FUZZ_CHECK(peak <= HeapBudget(size),
                "parsing " + std::to_string(size) + " bytes used " +
                    std::to_string(peak) + " bytes of heap at once");
  // The parser reads the header, not the tensor data (nor anything twice).
  WS_FUZZ_CHECK(source.bytes_read() <= size,
                "read " + std::to_string(source.bytes_read()) + " bytes of " +
                    std::to_string(size));

  if (header.ok()) {
    CheckHeader(*header, bytes);
    for (const GgufTensorInfo& t : header->tensors) {
      std::string buf(t.nbytes, '\0');
      Status st =
          source.ReadAt(header->data_start + t.offset, buf.data(), buf.size());
      WS_FUZZ_CHECK(st.ok(), st.ToString());
    }
    // A failing read is a kIo error, never a crash or a header.
    FuzzSource failing(kName, bytes);
    failing.FailFrom(20);
    auto failed = ReadGgufHeader(failing, 1);
    CheckError(failed.status(), StatusCode::kIo, kName, "read failure");
  } else {
    CheckError(header.status(), StatusCode::kFormat, kName, "ReadGgufHeader",
               kStrictMessages);
    WS_FUZZ_CHECK(
        header.status().message().find("byte offset") != std::string::npos,
        "error without a byte offset: " + header.status().message());
  }

  // Window refills at every field (1-byte chunks) and at odd places.
  FuzzSource tiny(kName, bytes);
  CheckSame(header, ReadGgufHeader(tiny, 1), "chunk 1 vs default");
  FuzzSource odd(kName, bytes);
  CheckSame(header, ReadGgufHeader(odd, 7 + size % 29), "odd chunk vs default");
  CheckSame(header, ParseGgufHeader(bytes, kName), "ParseGgufHeader vs Read");
}

}  // namespace

bool ParserAccepts(std::string_view bytes) {
  FuzzSource source(kName, bytes);
  return ReadGgufHeader(source).ok();
}

}  // namespace weightstream::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightstream::fuzz::FuzzOne(data, size);
  return 0;
}
