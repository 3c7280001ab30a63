#include "cpp/weightstream/safetensors.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "nlohmann/json.hpp"

namespace weightstream {
namespace {

// Ordered: __metadata__ is returned in file order.
using Json = nlohmann::ordered_json;

class HeaderError {
 public:
  explicit HeaderError(std::string_view file_name)
      : prefix_(std::string(file_name) + ": invalid safetensors header: ") {}
  Status operator()(const std::string& what) const {
    return FormatError(prefix_ + what);
  }

 private:
  std::string prefix_;
};

Status ParseTensorInfo(const std::string& name, const Json& value,
                       const HeaderError& error, TensorInfo* out) {
  const std::string where = "tensor " + QuoteUntrusted(name) + ": ";
  if (!value.is_object()) return error(where + "entry is not a JSON object");
  auto dtype_it = value.find("dtype");
  auto shape_it = value.find("shape");
  auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end()) return error(where + "missing field 'dtype'");
  if (shape_it == value.end()) return error(where + "missing field 'shape'");
  if (offsets_it == value.end()) {
    return error(where + "missing field 'data_offsets'");
  }
  if (!dtype_it->is_string()) return error(where + "'dtype' is not a string");
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  auto dtype = ParseDtype(dtype_name);
  if (!dtype)
    return error(where + "unknown dtype " + QuoteUntrusted(dtype_name));

  if (!shape_it->is_array()) return error(where + "'shape' is not an array");
  std::vector<uint64_t> shape;
  shape.reserve(shape_it->size());
  for (const Json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) {
      return error(where + "shape " + QuoteUntrusted(dim.dump()) +
                   " is not a non-negative integer");
    }
    shape.push_back(dim.get<uint64_t>());
  }

  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    return error(where + "'data_offsets' must be an array of 2 integers");
  }
  for (const Json& v : *offsets_it) {
    if (!v.is_number_unsigned()) {
      return error(where + "data offset " + QuoteUntrusted(v.dump()) +
                   " is not a non-negative integer");
    }
  }
  uint64_t begin = (*offsets_it)[0].get<uint64_t>();
  uint64_t end = (*offsets_it)[1].get<uint64_t>();
  if (end < begin) {
    return error(where + "data_offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + "] end before they begin");
  }

  uint64_t elements = 1;
  for (uint64_t d : shape) {
    if (__builtin_mul_overflow(elements, d, &elements)) {
      return error(where + "shape product overflows 64 bits");
    }
  }
  uint64_t bits;
  if (__builtin_mul_overflow(elements, uint64_t{DtypeBits(*dtype)}, &bits)) {
    return error(where + "byte size overflows 64 bits");
  }
  if (bits % 8 != 0) {
    return error(where + std::to_string(elements) + " elements of " +
                 dtype_name + " are not a whole number of bytes");
  }
  if (bits / 8 != end - begin) {
    return error(where + "shape and dtype " + dtype_name + " need " +
                 std::to_string(bits / 8) + " bytes but data_offsets [" +
                 std::to_string(begin) + ", " + std::to_string(end) +
                 "] span " + std::to_string(end - begin));
  }
  out->name = name;
  out->dtype = *dtype;
  out->shape = std::move(shape);
  out->begin = begin;
  out->end = end;
  return Status::Ok();
}

}  // namespace

StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view json,
                                                   uint64_t file_size,
                                                   std::string_view file_name) {
  HeaderError error(file_name);
  if (json.empty() || json.front() != '{') {
    return error("the JSON header (at byte offset 8) must start with '{'");
  }
  // The writer pads with spaces to align the data; nothing else may follow.
  size_t last = json.find_last_not_of(' ');
  std::string_view body = json.substr(0, last + 1);
  // JSON never contains a raw NUL, and the parser would take one for the end
  // of input, silently ignoring whatever follows it.
  if (size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return error("NUL byte at byte offset " + std::to_string(8 + nul));
  }

  // The callback rejects repeated keys in any object (a JSON object would
  // silently keep the last value, and two readers could disagree about where
  // a tensor lives) and nesting beyond kMaxJsonDepth.
  std::vector<std::unordered_set<std::string>> open_objects;
  std::string duplicate;
  int duplicate_depth = 0;
  bool too_deep = false;
  Json root;
  try {
    root = Json::parse(
        body.begin(), body.end(),
        [&](int depth, Json::parse_event_t event, Json& parsed) {
          switch (event) {
            case Json::parse_event_t::object_start:
            case Json::parse_event_t::array_start:
              // `depth` counts the containers around this one.
              if (depth >= kMaxJsonDepth) {
                too_deep = true;
                throw std::runtime_error("depth");
              }
              if (event == Json::parse_event_t::object_start) {
                open_objects.emplace_back();
              }
              break;
            case Json::parse_event_t::key:
              if (!open_objects.back()
                       .insert(parsed.get_ref<const std::string&>())
                       .second &&
                  duplicate.empty()) {
                duplicate = parsed.get_ref<const std::string&>();
                duplicate_depth = depth;
              }
              break;
            case Json::parse_event_t::object_end:
              open_objects.pop_back();
              break;
            default:
              break;
          }
          return true;
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    return error("invalid JSON at byte offset " +
                 std::to_string(8 + (e.byte > 0 ? e.byte - 1 : 0)) + ": " +
                 QuoteUntrusted(e.what()));
  } catch (const std::exception& e) {
    if (too_deep) {
      return error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                   " levels");
    }
    return error("invalid JSON: " + QuoteUntrusted(e.what()));
  }
  if (!duplicate.empty()) {
    if (duplicate_depth == 1) {
      return error("tensor name " + QuoteUntrusted(duplicate) +
                   " appears more than once");
    }
    return error("key " + QuoteUntrusted(duplicate) +
                 " appears more than once in one JSON object");
  }
  if (!root.is_object()) return error("the JSON header is not an object");

  SafetensorsHeader header;
  header.data_start = 8 + json.size();
  header.tensors.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      const Json& meta = it.value();
      if (meta.is_null()) continue;
      if (!meta.is_object()) return error("__metadata__ is not an object");
      header.has_metadata = true;
      for (auto m = meta.begin(); m != meta.end(); ++m) {
        if (!m.value().is_string()) {
          return error("__metadata__ value for " + QuoteUntrusted(m.key()) +
                       " is not a string");
        }
        header.metadata.emplace_back(m.key(),
                                     m.value().get_ref<const std::string&>());
      }
      continue;
    }
    TensorInfo info;
    WS_RETURN_IF_ERROR(ParseTensorInfo(name, it.value(), error, &info));
    header.tensors.push_back(std::move(info));
  }

  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t expected = 0;
  for (const TensorInfo& t : header.tensors) {
    if (t.begin != expected) {
      return error("tensor " + QuoteUntrusted(t.name) +
                   " starts at data offset " + std::to_string(t.begin) +
                   " but the previous tensor ends at " +
                   std::to_string(expected) +
                   (t.begin < expected ? " (overlapping ranges)"
                                       : " (a gap between tensors)"));
    }
    expected = t.end;
  }
  uint64_t data_bytes = file_size - header.data_start;  // caller checked order
  if (header.data_start > file_size || expected != data_bytes) {
    return error(
        "tensors cover " + std::to_string(expected) +
        " bytes of data but the file holds " +
        std::to_string(header.data_start > file_size ? 0 : data_bytes) +
        " bytes after the header (file truncated or padded?)");
  }
  return header;
}

StatusOr<SafetensorsHeader> ReadSafetensorsHeader(Source& source) {
  const std::string& name = source.name();
  const uint64_t size = source.size();
  if (size < 8) {
    return FormatError(name +
                       ": not a safetensors file: " + std::to_string(size) +
                       " bytes is too small for the 8-byte header length");
  }
  unsigned char prefix[8];
  WS_RETURN_IF_ERROR(source.ReadAt(0, prefix, 8));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];
  if (n > kMaxSafetensorsHeaderBytes) {
    return FormatError(name + ": invalid safetensors header: header length " +
                       std::to_string(n) +
                       " (at offset 0) exceeds the limit of " +
                       std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (n > size - 8) {
    return FormatError(name + ": invalid safetensors header: header length " +
                       std::to_string(n) +
                       " (at offset 0) runs past the end of the " +
                       std::to_string(size) + "-byte file");
  }
  std::string json(n, '\0');
  WS_RETURN_IF_ERROR(source.ReadAt(8, json.data(), n));
  return ParseSafetensorsHeader(json, size, name);
}

StatusOr<std::shared_ptr<const SafetensorsFile>> OpenSafetensors(
    std::shared_ptr<Source> source) {
  WS_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(*source));
  auto file = std::make_shared<SafetensorsFile>();
  file->source = std::move(source);
  file->header = std::move(header);
  return std::shared_ptr<const SafetensorsFile>(std::move(file));
}

}  // namespace weightstream
