// libFuzzer target for the safetensors header parser.
//
// Each input is a whole file: it is read through an in-memory Source with
// ReadSafetensorsHeader, and its JSON part (as the length prefix delimits it)
// is also handed to ParseSafetensorsHeader directly, with the real and with
// other file sizes. An input that starts with '{' is also parsed as a bare
// header JSON of a file with no tensor data.
//
// Besides sanitizer reports, any accepted header that breaks the format's
// guarantees aborts: tensor ranges must lie inside the file and tile the data
// section exactly, every range must match shape x dtype width, the header must
// agree with an independent plain JSON parse of the same bytes, and the two
// entry points must agree with each other. Rejections must be kFormat errors
// that name the file.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cpp/weightstream/dtype.h"
#include "cpp/weightstream/safetensors.h"
#include "cpp/weightstream/source.h"
#include "cpp/weightstream/status.h"
#include "fuzz/fuzz_util.h"
#include "nlohmann/json.hpp"

namespace weightstream::fuzz {
namespace {

constexpr char kName[] = "fuzz.safetensors";

// Error messages must stay bounded and free of raw control bytes; the
// corpus keeps the inputs that once broke this (regress-unbounded-message-*).
const bool kStrictMessages = StrictMessages(true);

std::string Describe(const TensorInfo& t) {
  std::string s =
      "tensor '" + t.name + "' " + std::string(DtypeName(t.dtype)) + " [";
  for (uint64_t d : t.shape) s += std::to_string(d) + ",";
  return s + "] at [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
         ")";
}

// Checks an accepted header of a file of `file_size` bytes whose header JSON
// is `json` (including any padding).
void CheckHeader(const SafetensorsHeader& h, std::string_view json,
                 uint64_t file_size) {
  WS_FUZZ_CHECK(h.data_start == 8 + json.size(),
                "data_start " + std::to_string(h.data_start));
  WS_FUZZ_CHECK(h.data_start <= file_size,
                "data starts at " + std::to_string(h.data_start) +
                    " past the end of a file of " + std::to_string(file_size));
  const uint64_t data_bytes = file_size - h.data_start;

  std::set<std::string> names;
  uint64_t expected = 0;
  for (const TensorInfo& t : h.tensors) {
    const std::string what = Describe(t);
    WS_FUZZ_CHECK(t.begin <= t.end, what);
    WS_FUZZ_CHECK(t.begin == expected, what + ": not contiguous with previous");
    WS_FUZZ_CHECK(RangeWithin(h.data_start + t.begin, t.nbytes(), file_size),
                  what + ": outside the file");
    expected = t.end;

    WS_FUZZ_CHECK(names.insert(t.name).second, what + ": duplicate name");
    WS_FUZZ_CHECK(t.name != "__metadata__", what);

    auto round_trip = ParseDtype(DtypeName(t.dtype));
    WS_FUZZ_CHECK(round_trip && *round_trip == t.dtype, what);
    unsigned __int128 bits = DtypeBits(t.dtype);
    for (uint64_t d : t.shape) {
      bits *= d;
      // Products of in-range shapes never need more than 64 + 8 bits unless
      // a zero dimension comes later; clamp so the product cannot wrap.
      if (bits > (static_cast<unsigned __int128>(1) << 80)) {
        bits = static_cast<unsigned __int128>(1) << 80;
      }
    }
    const bool has_zero_dim = [&] {
      for (uint64_t d : t.shape) {
        if (d == 0) return true;
      }
      return false;
    }();
    if (has_zero_dim) {
      WS_FUZZ_CHECK(t.nbytes() == 0, what + ": zero elements but bytes");
    } else {
      WS_FUZZ_CHECK(bits == static_cast<unsigned __int128>(t.nbytes()) * 8,
                    what + ": size does not match shape x dtype");
    }
  }
  WS_FUZZ_CHECK(expected == data_bytes,
                "tensors cover " + std::to_string(expected) + " of " +
                    std::to_string(data_bytes) + " data bytes");
  WS_FUZZ_CHECK(h.has_metadata || h.metadata.empty(), "metadata without flag");

  // An independent reading of the same JSON must describe the same tensors.
  std::string_view body = json.substr(0, json.find_last_not_of(' ') + 1);
  nlohmann::ordered_json root;
  try {
    root = nlohmann::ordered_json::parse(body.begin(), body.end());
  } catch (const std::exception& e) {
    Fail(__FILE__, __LINE__, "plain JSON parse of an accepted header",
         e.what());
  }
  WS_FUZZ_CHECK(root.is_object(), "accepted header is not an object");
  size_t tensor_keys = 0;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      const auto& meta = it.value();
      if (meta.is_null()) {
        WS_FUZZ_CHECK(!h.has_metadata && h.metadata.empty(), "null metadata");
        continue;
      }
      WS_FUZZ_CHECK(h.has_metadata, "metadata present but not reported");
      WS_FUZZ_CHECK(meta.size() == h.metadata.size(), "metadata count");
      size_t i = 0;
      for (auto m = meta.begin(); m != meta.end(); ++m, ++i) {
        WS_FUZZ_CHECK(m.key() == h.metadata[i].first, "metadata key order");
        WS_FUZZ_CHECK(m.value().is_string() &&
                          m.value().get<std::string>() == h.metadata[i].second,
                      "metadata value for " + m.key());
      }
      continue;
    }
    ++tensor_keys;
    const TensorInfo* found = nullptr;
    for (const TensorInfo& t : h.tensors) {
      if (t.name == it.key()) found = &t;
    }
    WS_FUZZ_CHECK(found != nullptr, "tensor '" + it.key() + "' was dropped");
    const auto& v = it.value();
    WS_FUZZ_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") &&
                      v.contains("data_offsets"),
                  Describe(*found) + ": accepted from " + v.dump());
    WS_FUZZ_CHECK(v["dtype"] == std::string(DtypeName(found->dtype)),
                  Describe(*found) + ": dtype " + v["dtype"].dump());
    WS_FUZZ_CHECK(
        v["shape"].is_array() && v["shape"].size() == found->shape.size(),
        Describe(*found) + ": shape " + v["shape"].dump());
    for (size_t i = 0; i < found->shape.size(); ++i) {
      WS_FUZZ_CHECK(v["shape"][i].is_number_unsigned() &&
                        v["shape"][i].get<uint64_t>() == found->shape[i],
                    Describe(*found) + ": shape " + v["shape"].dump());
    }
    const auto& offsets = v["data_offsets"];
    WS_FUZZ_CHECK(offsets.is_array() && offsets.size() == 2 &&
                      offsets[0].is_number_unsigned() &&
                      offsets[1].is_number_unsigned() &&
                      offsets[0].get<uint64_t>() == found->begin &&
                      offsets[1].get<uint64_t>() == found->end,
                  Describe(*found) + ": data_offsets " + offsets.dump());
  }
  WS_FUZZ_CHECK(tensor_keys == h.tensors.size(),
                std::to_string(h.tensors.size()) + " tensors from " +
                    std::to_string(tensor_keys) + " keys");
}

bool SameHeader(const SafetensorsHeader& a, const SafetensorsHeader& b) {
  if (a.data_start != b.data_start || a.has_metadata != b.has_metadata ||
      a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) {
    return false;
  }
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const TensorInfo& x = a.tensors[i];
    const TensorInfo& y = b.tensors[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape ||
        x.begin != y.begin || x.end != y.end) {
      return false;
    }
  }
  return true;
}

// ParseSafetensorsHeader on `json` as the header of a file of `file_size`
// bytes: it must either reject the header or return one that holds.
void ParseWithSize(std::string_view json, uint64_t file_size) {
  auto parsed = ParseSafetensorsHeader(json, file_size, kName);
  if (!parsed.ok()) {
    CheckError(parsed.status(), StatusCode::kFormat, kName,
               "ParseSafetensorsHeader", kStrictMessages);
    return;
  }
  CheckHeader(*parsed, json, file_size);
}

void FuzzOne(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  FuzzSource source(kName, bytes);
  HeapPeak::Start();
  auto read = ReadSafetensorsHeader(source);
  const uint64_t peak = HeapPeak::Stop();
  WS_FUZZ_CHECK(peak <= HeapBudget(size),
                "parsing " + std::to_string(size) + " bytes used " +
                    std::to_string(peak) + " bytes of heap at once");

  uint64_t n = size >= 8 ? LoadLe64(data) : 0;
  const bool n_fits = size >= 8 && n <= size - 8;
  if (read.ok()) {
    WS_FUZZ_CHECK(n_fits && n <= kMaxSafetensorsHeaderBytes,
                  "accepted a header length of " + std::to_string(n));
    const std::string_view json(bytes.data() + 8, n);
    CheckHeader(*read, json, size);
    // Every tensor's bytes can be read from the source.
    for (const TensorInfo& t : read->tensors) {
      std::string buf(t.nbytes(), '\0');
      Status st =
          source.ReadAt(read->data_start + t.begin, buf.data(), buf.size());
      WS_FUZZ_CHECK(st.ok(), Describe(t) + ": " + st.ToString());
    }
    // A source that fails reads turns into kIo, never a crash or success.
    if (n > 0) {
      FuzzSource failing(kName, bytes);
      failing.FailFrom(8 + n - 1);
      auto again = ReadSafetensorsHeader(failing);
      CheckError(again.status(), StatusCode::kIo, kName, "read failure");
    }
    // The tensors tile the data section to the last byte: a file one byte
    // shorter or longer must be rejected.
    ParseWithSize(json, size + 1);
    if (size > 8 + n) ParseWithSize(json, size - 1);
  } else {
    CheckError(read.status(), StatusCode::kFormat, kName,
               "ReadSafetensorsHeader", kStrictMessages);
  }

  // The JSON part on its own: must agree with the reader.
  if (n_fits && n <= kMaxSafetensorsHeaderBytes) {
    const std::string_view json(bytes.data() + 8, n);
    auto parsed = ParseSafetensorsHeader(json, size, kName);
    WS_FUZZ_CHECK(parsed.ok() == read.ok(),
                  "ParseSafetensorsHeader says " + parsed.status().ToString() +
                      ", ReadSafetensorsHeader says " +
                      read.status().ToString());
    if (parsed.ok()) {
      WS_FUZZ_CHECK(SameHeader(*parsed, *read), "the entry points disagree");
    } else {
      WS_FUZZ_CHECK(
          parsed.status().message() == read.status().message(),
          parsed.status().message() + " vs " + read.status().message());
    }
    // A file too short for its own header, and the largest possible file.
    ParseWithSize(json, 8 + n - 1);
    ParseWithSize(json, std::numeric_limits<uint64_t>::max());
  }

  // The whole input as the header JSON of a file without tensor data.
  if (size > 0 && data[0] == '{') ParseWithSize(bytes, 8 + size);
}

}  // namespace

bool ParserAccepts(std::string_view bytes) {
  FuzzSource source(kName, bytes);
  return ReadSafetensorsHeader(source).ok();
}

}  // namespace weightstream::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightstream::fuzz::FuzzOne(data, size);
  return 0;
}
