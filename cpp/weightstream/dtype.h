// The element types of the safetensors format and their widths in bits.
#ifndef WEIGHTSTREAM_DTYPE_H_
#define WEIGHTSTREAM_DTYPE_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace weightstream {

enum class Dtype : uint8_t {
  kBool,
  kU8,
  kI8,
  kF8_E5M2,
  kF8_E4M3,
  kF8_E8M0,
  kF8_E4M3FNUZ,
  kF8_E5M2FNUZ,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kI64,
  kU64,
  kF64,
  kC64,
  kF4,
  kF6_E2M3,
  kF6_E3M2,
};

// The safetensors name of `dtype`, e.g. "BF16".
std::string_view DtypeName(Dtype dtype);

// Bits per element: 4 and 6 for the packed sub-byte types.
uint32_t DtypeBits(Dtype dtype);

// Parses a safetensors dtype name (case-sensitive, as the format requires).
std::optional<Dtype> ParseDtype(std::string_view name);

}  // namespace weightstream

#endif  // WEIGHTSTREAM_DTYPE_H_
