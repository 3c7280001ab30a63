// Tests for the GGUF header parser: valid files and hostile ones.
#include "cpp/weightstream/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpp/weightstream/tensor_streamer.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::weightstream::testing::MemorySource;

constexpr char kFileName[] = "models/bad-file.gguf";
using VT = GgufValueType;

// ---------------------------------------------------------------------------
// Writing GGUF bytes by hand.

std::string Le(uint64_t v, int width) {
  std::string out(width, '\0');
  for (int i = 0; i < width; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}
std::string U32(uint64_t v) { return Le(v, 4); }
std::string U64(uint64_t v) { return Le(v, 8); }
std::string F32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return U32(bits);
}
std::string F64(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return U64(bits);
}
std::string Str(std::string_view s) { return U64(s.size()) + std::string(s); }
std::string Type(VT t) { return U32(static_cast<uint32_t>(t)); }

// An array value (without the outer value type): element type, count, items.
std::string Array(VT element, uint64_t count, const std::string& items) {
  return Type(element) + U64(count) + items;
}

std::string Preamble(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
  return "GGUF" + U32(version) + U64(tensors) + U64(kvs);
}

std::string Kv(std::string_view key, VT type, const std::string& value) {
  return Str(key) + Type(type) + value;
}

std::string TensorInfo(std::string_view name, std::vector<uint64_t> dims,
                       uint32_t ggml_type, uint64_t offset) {
  std::string out = Str(name) + U32(dims.size());
  for (uint64_t d : dims) out += U64(d);
  return out + U32(ggml_type) + U64(offset);
}

std::string Padded(std::string s, uint64_t alignment = 32) {
  s.resize((s.size() + alignment - 1) / alignment * alignment, '\0');
  return s;
}

// ggml type ids used below.
constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_K = 12, kBF16 = 30;

StatusOr<GgufHeader> Parse(const std::string& bytes) {
  return ParseGgufHeader(bytes, kFileName);
}

// Expects a kFormat error naming the file, `problem` and byte offset `at`.
void ExpectFormatError(const StatusOr<GgufHeader>& result,
                       const std::string& problem, uint64_t at) {
  ASSERT_FALSE(result.ok()) << "expected an error about: " << problem;
  EXPECT_EQ(result.status().code(), StatusCode::kFormat);
  const std::string& m = result.status().message();
  EXPECT_THAT(m, HasSubstr(kFileName));
  EXPECT_THAT(m, HasSubstr(problem));
  EXPECT_THAT(m, HasSubstr("(at byte offset " + std::to_string(at) + ")"));
}

// ---------------------------------------------------------------------------
// Valid files.

TEST(GgufTest, EmptyFileWithoutPadding) {
  auto result = Parse(Preamble(0, 0));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->version, 3u);
  EXPECT_EQ(result->alignment, kGgufDefaultAlignment);
  EXPECT_EQ(result->data_start, 32u);
  EXPECT_TRUE(result->metadata.empty());
  EXPECT_TRUE(result->tensors.empty());
}

TEST(GgufTest, Version2IsAccepted) {
  auto result = Parse(Padded(Preamble(0, 0, 2)));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->version, 2u);
}

// One key of every type, arrays included, in a file of `chunk`-sized reads.
std::string EveryValueTypeFile() {
  return Preamble(0, 16) + Kv("u8", VT::kUint8, Le(250, 1)) +
         Kv("i8", VT::kInt8, Le(static_cast<uint8_t>(-5), 1)) +
         Kv("u16", VT::kUint16, Le(65000, 2)) +
         Kv("i16", VT::kInt16, Le(static_cast<uint16_t>(-300), 2)) +
         Kv("u32", VT::kUint32, U32(4000000000u)) +
         Kv("i32", VT::kInt32, U32(static_cast<uint32_t>(-70000))) +
         Kv("f32", VT::kFloat32, F32(0.1f)) + Kv("bool", VT::kBool, Le(1, 1)) +
         Kv("str", VT::kString, Str("h\xc3\xa9llo")) +
         Kv("u64", VT::kUint64, U64(~uint64_t{0})) +
         Kv("i64", VT::kInt64, U64(static_cast<uint64_t>(INT64_MIN))) +
         Kv("f64", VT::kFloat64, F64(-2.5e300)) +
         Kv("arr.i16", VT::kArray,
            Array(VT::kInt16, 3, Le(1, 2) + Le(0xffff, 2) + Le(0x8000, 2))) +
         Kv("arr.str", VT::kArray,
            Array(VT::kString, 3, Str("a") + Str("") + Str("\xff\xfe"))) +
         Kv("arr.nested", VT::kArray,
            Array(VT::kArray, 2,
                  Array(VT::kBool, 2, Le(0, 1) + Le(1, 1)) +
                      Array(VT::kArray, 1, Array(VT::kFloat64, 0, "")))) +
         Kv("\xe2\x9c\x93.key", VT::kArray, Array(VT::kString, 0, ""));
}

void ExpectEveryValueType(const GgufHeader& h) {
  ASSERT_EQ(h.metadata.size(), 16u);
  std::vector<std::string> keys;
  for (const auto& kv : h.metadata) keys.push_back(kv.first);
  EXPECT_THAT(keys, ElementsAre("u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                "bool", "str", "u64", "i64", "f64", "arr.i16",
                                "arr.str", "arr.nested", "\xe2\x9c\x93.key"));
  auto get = [&](const char* key) -> const GgufValue& {
    const GgufValue* v = h.FindMetadata(key);
    EXPECT_NE(v, nullptr) << key;
    return *v;
  };
  EXPECT_EQ(std::get<uint64_t>(get("u8").value), 250u);
  EXPECT_EQ(get("u8").type, VT::kUint8);
  EXPECT_EQ(std::get<int64_t>(get("i8").value), -5);
  EXPECT_EQ(std::get<uint64_t>(get("u16").value), 65000u);
  EXPECT_EQ(std::get<int64_t>(get("i16").value), -300);
  EXPECT_EQ(std::get<uint64_t>(get("u32").value), 4000000000u);
  EXPECT_EQ(std::get<int64_t>(get("i32").value), -70000);
  EXPECT_EQ(std::get<double>(get("f32").value), double{0.1f});
  EXPECT_EQ(std::get<bool>(get("bool").value), true);
  EXPECT_EQ(std::get<std::string>(get("str").value), "h\xc3\xa9llo");
  EXPECT_EQ(std::get<uint64_t>(get("u64").value), ~uint64_t{0});
  EXPECT_EQ(std::get<int64_t>(get("i64").value), INT64_MIN);
  EXPECT_EQ(std::get<double>(get("f64").value), -2.5e300);

  const auto& i16 = std::get<GgufArray>(get("arr.i16").value);
  EXPECT_EQ(i16.element_type, VT::kInt16);
  ASSERT_EQ(i16.size, 3u);
  EXPECT_EQ(std::get<int64_t>(i16.ScalarAt(0).value), 1);
  EXPECT_EQ(std::get<int64_t>(i16.ScalarAt(1).value), -1);
  EXPECT_EQ(std::get<int64_t>(i16.ScalarAt(2).value), -32768);

  // String values need not be UTF-8; keys must be.
  const auto& strs = std::get<GgufArray>(get("arr.str").value);
  EXPECT_THAT(strs.strings, ElementsAre("a", "", "\xff\xfe"));

  const auto& nested = std::get<GgufArray>(get("arr.nested").value);
  EXPECT_EQ(nested.element_type, VT::kArray);
  ASSERT_EQ(nested.arrays.size(), 2u);
  EXPECT_EQ(nested.arrays[0].element_type, VT::kBool);
  EXPECT_EQ(std::get<bool>(nested.arrays[0].ScalarAt(0).value), false);
  EXPECT_EQ(std::get<bool>(nested.arrays[0].ScalarAt(1).value), true);
  ASSERT_EQ(nested.arrays[1].arrays.size(), 1u);
  EXPECT_EQ(nested.arrays[1].arrays[0].element_type, VT::kFloat64);
  EXPECT_EQ(nested.arrays[1].arrays[0].size, 0u);
}

TEST(GgufTest, EveryValueType) {
  auto result = Parse(Padded(EveryValueTypeFile()));
  ASSERT_TRUE(result.ok()) << result.status().message();
  ExpectEveryValueType(*result);
}

TEST(GgufTest, AnyReadChunkSizeGivesTheSameHeader) {
  const std::string bytes = Padded(EveryValueTypeFile());
  for (uint64_t chunk : {1, 2, 3, 7, 13, 64, 1 << 20}) {
    MemorySource source(kFileName, bytes);
    auto result = ReadGgufHeader(source, chunk);
    ASSERT_TRUE(result.ok()) << chunk << ": " << result.status().message();
    ExpectEveryValueType(*result);
  }
}

TEST(GgufTest, SmallHeaderIsOneRead) {
  MemorySource source(kFileName, Padded(EveryValueTypeFile()));
  ASSERT_TRUE(ReadGgufHeader(source).ok());
  EXPECT_EQ(source.reads(), 1);
}

TEST(GgufTest, TensorInfos) {
  const std::string head =
      Preamble(4, 1) + Kv("general.architecture", VT::kString, Str("llama")) +
      TensorInfo("w", {3, 2}, kF32, 0) + TensorInfo("q", {256, 2}, kQ4_K, 32) +
      TensorInfo("scalar", {}, kBF16, 320) +
      TensorInfo("empty", {0, 7}, kF16, 352);
  auto result = Parse(Padded(head) + std::string(352, 'x'));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->data_start, Padded(head).size());
  ASSERT_EQ(result->tensors.size(), 4u);
  const GgufTensorInfo& w = result->tensors[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_THAT(w.dims, ElementsAre(3u, 2u));
  EXPECT_THAT(w.shape(), ElementsAre(2u, 3u));
  EXPECT_EQ(w.type.name, "F32");
  EXPECT_EQ(w.elements, 6u);
  EXPECT_EQ(w.nbytes, 24u);
  const GgufTensorInfo& q = result->tensors[1];
  EXPECT_EQ(q.type.id, kQ4_K);
  EXPECT_EQ(q.type.name, "Q4_K");
  EXPECT_EQ(q.offset, 32u);
  EXPECT_EQ(q.nbytes, 2u * 144);
  EXPECT_TRUE(result->tensors[2].shape().empty());
  EXPECT_EQ(result->tensors[2].nbytes, 2u);
  EXPECT_EQ(result->tensors[3].nbytes, 0u);
}

TEST(GgufTest, CustomAlignment) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    const std::string head =
        Preamble(2, 1) + Kv("general.alignment", VT::kUint32, U32(alignment)) +
        TensorInfo("a", {3}, kF32, 0) +
        TensorInfo("b", {1}, kF32,
                   (12 + alignment - 1) / alignment * alignment);
    auto result =
        Parse(Padded(head, alignment) + std::string(2 * alignment + 16, 'x'));
    ASSERT_TRUE(result.ok()) << alignment << ": " << result.status().message();
    EXPECT_EQ(result->alignment, alignment);
    EXPECT_EQ(result->data_start, Padded(head, alignment).size());
  }
}

struct TypeCase {
  uint32_t id;
  const char* name;
  uint32_t block_size;
  uint32_t type_size;
};

class EveryGgmlTypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(EveryGgmlTypeTest, SizesFollowTheTable) {
  const TypeCase& c = GetParam();
  const uint64_t nbytes = 2 * 3 * c.type_size;
  auto result = Parse(
      Padded(Preamble(1, 0) + TensorInfo("t", {2 * c.block_size, 3}, c.id, 0)) +
      std::string(nbytes, 'x'));
  ASSERT_TRUE(result.ok()) << result.status().message();
  const GgufTensorInfo& t = result->tensors[0];
  EXPECT_EQ(t.type.name, c.name);
  EXPECT_EQ(t.type.block_size, c.block_size);
  EXPECT_EQ(t.type.type_size, c.type_size);
  EXPECT_EQ(t.nbytes, nbytes);
}

// gguf-py 0.19.0's GGML_QUANT_SIZES, written out again to catch typos.
INSTANTIATE_TEST_SUITE_P(
    AllTypes, EveryGgmlTypeTest,
    ::testing::Values(
        TypeCase{0, "F32", 1, 4}, TypeCase{1, "F16", 1, 2},
        TypeCase{2, "Q4_0", 32, 18}, TypeCase{3, "Q4_1", 32, 20},
        TypeCase{6, "Q5_0", 32, 22}, TypeCase{7, "Q5_1", 32, 24},
        TypeCase{8, "Q8_0", 32, 34}, TypeCase{9, "Q8_1", 32, 40},
        TypeCase{10, "Q2_K", 256, 84}, TypeCase{11, "Q3_K", 256, 110},
        TypeCase{12, "Q4_K", 256, 144}, TypeCase{13, "Q5_K", 256, 176},
        TypeCase{14, "Q6_K", 256, 210}, TypeCase{15, "Q8_K", 256, 292},
        TypeCase{16, "IQ2_XXS", 256, 66}, TypeCase{17, "IQ2_XS", 256, 74},
        TypeCase{18, "IQ3_XXS", 256, 98}, TypeCase{19, "IQ1_S", 256, 50},
        TypeCase{20, "IQ4_NL", 32, 18}, TypeCase{21, "IQ3_S", 256, 110},
        TypeCase{22, "IQ2_S", 256, 82}, TypeCase{23, "IQ4_XS", 256, 136},
        TypeCase{24, "I8", 1, 1}, TypeCase{25, "I16", 1, 2},
        TypeCase{26, "I32", 1, 4}, TypeCase{27, "I64", 1, 8},
        TypeCase{28, "F64", 1, 8}, TypeCase{29, "IQ1_M", 256, 56},
        TypeCase{30, "BF16", 1, 2}, TypeCase{34, "TQ1_0", 256, 54},
        TypeCase{35, "TQ2_0", 256, 66}, TypeCase{39, "MXFP4", 32, 17},
        TypeCase{40, "NVFP4", 64, 36}, TypeCase{41, "Q1_0", 128, 18}),
    [](const ::testing::TestParamInfo<TypeCase>& info) {
      return std::string(info.param.name);
    });

TEST(GgufTest, AllGgmlTypesAreFoundById) {
  const std::vector<GgmlType> types = AllGgmlTypes();
  ASSERT_EQ(types.size(), 34u);
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(types[i - 1].id, types[i].id);
    }
    std::optional<GgmlType> found = FindGgmlType(types[i].id);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->name, types[i].name);
  }
  EXPECT_FALSE(FindGgmlType(4).has_value());
  EXPECT_FALSE(FindGgmlType(1000).has_value());
}

TEST(GgufTest, TensorsStreamThroughTheTensorStreamer) {
  const std::string head = Preamble(2, 0) + TensorInfo("a", {4}, kF32, 32) +
                           TensorInfo("b", {2}, kF16, 0);
  const std::string data = "bbbb" + std::string(28, '\0') + "aaaaAAAAaaaaAAAA";
  auto source = std::make_shared<MemorySource>(kFileName, Padded(head) + data);
  auto file = OpenGguf(source);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const GgufHeader& h = (*file)->header;
  std::vector<StreamItem> items;
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    items.push_back({h.data_start + h.tensors[i].offset, h.tensors[i].nbytes, i,
                     h.tensors[i].name});
  }
  TensorStreamer streamer(TensorStreamerOptions{});
  ASSERT_TRUE(streamer.AddSource(source, std::move(items)).ok());
  std::vector<std::string> got(2);
  for (;;) {
    auto next = streamer.Next();
    ASSERT_TRUE(next.ok()) << next.status().message();
    if (!next->has_value()) break;
    const StreamedTensor& t = **next;
    got[t.tensor_index].assign(static_cast<const char*>(t.buffer.data()),
                               t.buffer.size());
  }
  EXPECT_EQ(got[0], "aaaaAAAAaaaaAAAA");
  EXPECT_EQ(got[1], "bbbb");
}

// ---------------------------------------------------------------------------
// Invalid files.

TEST(GgufErrorTest, TooSmall) {
  ExpectFormatError(Parse("GGU"), "too small", 0);
}

TEST(GgufErrorTest, BadMagic) {
  std::string bytes = Padded(Preamble(0, 0));
  bytes[3] = 'L';
  ExpectFormatError(Parse(bytes), "magic 'GGUL', expected 'GGUF'", 0);
}

TEST(GgufErrorTest, BigEndian) {
  std::string bytes = Padded(Preamble(0, 0));
  bytes.replace(4, 4, std::string("\0\0\0\3", 4));
  ExpectFormatError(Parse(bytes), "big-endian GGUF (version 3", 4);
}

TEST(GgufErrorTest, Version1) {
  ExpectFormatError(Parse(Padded(Preamble(0, 0, 1))), "version 1", 4);
}

TEST(GgufErrorTest, UnknownVersions) {
  for (uint32_t v : {0u, 4u, 0x12345678u}) {
    ExpectFormatError(Parse(Padded(Preamble(0, 0, v))),
                      "unsupported GGUF version " + std::to_string(v), 4);
  }
}

TEST(GgufErrorTest, TruncatedPreamble) {
  ExpectFormatError(Parse(Preamble(0, 0).substr(0, 20)),
                    "truncated file: metadata count needs 8 bytes", 16);
}

TEST(GgufErrorTest, HugeCountsAreRejectedBeforeAnythingIsSized) {
  ExpectFormatError(Parse(Padded(Preamble(uint64_t{1} << 60, 0))),
                    "tensor count 1152921504606846976 cannot fit", 8);
  ExpectFormatError(Parse(Padded(Preamble(0, ~uint64_t{0}))),
                    "metadata count 18446744073709551615 cannot fit", 16);
  // 8 bytes left: too few even for one 24-byte tensor info.
  ExpectFormatError(Parse(Padded(Preamble(1, 0))), "tensor count 1 cannot fit",
                    8);
}

TEST(GgufErrorTest, StringLongerThanTheFile) {
  for (uint64_t length : {uint64_t{1000}, ~uint64_t{0}}) {
    ExpectFormatError(
        Parse(Padded(Preamble(0, 1) + U64(length) + "key" + Type(VT::kUint8))),
        "metadata key length " + std::to_string(length) + " runs past the end",
        24);
  }
}

TEST(GgufErrorTest, UnknownMetadataType) {
  ExpectFormatError(Parse(Padded(Preamble(0, 1) + Str("k") + U32(13) + U64(0))),
                    "metadata 'k': unknown value type 13", 33);
}

TEST(GgufErrorTest, UnknownArrayElementType) {
  ExpectFormatError(
      Parse(Padded(Preamble(0, 1) + Kv("k", VT::kArray, U32(99) + U64(0)))),
      "unknown array element type 99", 37);
}

TEST(GgufErrorTest, ArrayLongerThanTheFile) {
  ExpectFormatError(
      Parse(Padded(Preamble(0, 1) +
                   Kv("k", VT::kArray, Array(VT::kUint32, 1ull << 62, "")))),
      "UINT32 array count 4611686018427387904 cannot fit", 41);
}

TEST(GgufErrorTest, BoolOtherThanZeroOrOne) {
  ExpectFormatError(
      Parse(Padded(Preamble(0, 1) + Kv("k", VT::kBool, Le(2, 1)))),
      "BOOL value 2 is neither 0 nor 1", 37);
  ExpectFormatError(Parse(Padded(Preamble(0, 1) +
                                 Kv("k", VT::kArray,
                                    Array(VT::kBool, 2, Le(1, 1) + "\xff")))),
                    "BOOL value 255", 50);
}

TEST(GgufErrorTest, DuplicateKey) {
  const std::string first = Preamble(0, 2) + Kv("k", VT::kUint8, Le(1, 1));
  ExpectFormatError(Parse(Padded(first + Kv("k", VT::kUint8, Le(2, 1)))),
                    "metadata key 'k' appears more than once", first.size());
}

TEST(GgufErrorTest, KeyIsNotUtf8) {
  for (std::string bad :
       {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    ExpectFormatError(
        Parse(Padded(Preamble(0, 1) + Kv("a" + bad, VT::kUint8, Le(1, 1)))),
        "is not valid UTF-8", 33);
  }
}

// Arrays of arrays, `depth` levels, the innermost empty.
std::string NestedArrays(int depth) {
  std::string value = Array(VT::kUint8, 0, "");
  for (int i = 1; i < depth; ++i) value = Array(VT::kArray, 1, "") + value;
  return Padded(Preamble(0, 1) + Kv("deep", VT::kArray, "") + value);
}

TEST(GgufErrorTest, DeepNestingIsRejectedWithoutRecursingFurther) {
  ASSERT_TRUE(Parse(NestedArrays(kMaxGgufArrayDepth)).ok());
  // The value starts after preamble (24), key (12) and type (4) at 40; each
  // level is 12 bytes.
  const uint64_t at = 40 + 12 * kMaxGgufArrayDepth;
  ExpectFormatError(Parse(NestedArrays(kMaxGgufArrayDepth + 1)),
                    "arrays nested more than 64 levels deep", at);
  ExpectFormatError(Parse(NestedArrays(10000)),
                    "arrays nested more than 64 levels deep", at);
}

TEST(GgufErrorTest, Alignment) {
  auto file = [](VT type, const std::string& value) {
    return Parse(Padded(Preamble(0, 1) + Kv("general.alignment", type, value)));
  };
  const uint64_t at = 24 + 8 + 17 + 4;
  ExpectFormatError(file(VT::kUint64, U64(32)), "must be a UINT32, not UINT64",
                    at);
  ExpectFormatError(file(VT::kUint32, U32(0)),
                    "0 is not a nonzero power of two", at);
  ExpectFormatError(file(VT::kUint32, U32(48)),
                    "48 is not a nonzero power of two", at);
}

TEST(GgufErrorTest, TooManyDimensions) {
  const std::string head = Preamble(1, 0);
  ExpectFormatError(
      Parse(
          Padded(head + TensorInfo("t", std::vector<uint64_t>(9, 1), kF32, 0))),
      "tensor 't': 9 dimensions (at most 8", head.size() + 9);
}

TEST(GgufErrorTest, UnknownGgmlType) {
  const std::string head = Preamble(1, 0);
  for (uint32_t type : {4u, 31u, 36u, 42u, 0xffffffffu}) {
    ExpectFormatError(Parse(Padded(head + TensorInfo("t", {32}, type, 0)) +
                            std::string(128, 'x')),
                      "unknown ggml type " + std::to_string(type),
                      head.size() + 9 + 4 + 8);
  }
}

TEST(GgufErrorTest, RowNotWholeBlocks) {
  const std::string head = Preamble(1, 0);
  ExpectFormatError(Parse(Padded(head + TensorInfo("t", {33, 2}, kQ4_0, 0)) +
                          std::string(128, 'x')),
                    "dims[0] = 33 is not a multiple of the Q4_0 block size 32",
                    head.size() + 13);
}

TEST(GgufErrorTest, ElementCountOverflows) {
  const std::string head = Preamble(1, 0);
  for (std::vector<uint64_t> dims :
       {std::vector<uint64_t>{1ull << 32, 1ull << 32},
        std::vector<uint64_t>{1ull << 62, 2},
        std::vector<uint64_t>{0, 1ull << 63},
        std::vector<uint64_t>{~0ull, 0}}) {
    ExpectFormatError(Parse(Padded(head + TensorInfo("t", dims, kF32, 0))),
                      "hold more than 2^63-1 elements", head.size() + 13);
  }
  ExpectFormatError(
      Parse(Padded(head + TensorInfo("t", {1ull << 62}, kF32, 0))),
      "of F32 need more than 2^64-1 bytes", head.size() + 13);
}

TEST(GgufErrorTest, MisalignedOffset) {
  const std::string head = Preamble(1, 0);
  ExpectFormatError(Parse(Padded(head + TensorInfo("t", {4}, kF32, 16)) +
                          std::string(64, 'x')),
                    "data offset 16 is not a multiple of the alignment 32",
                    head.size() + 9 + 4 + 8 + 4);
}

TEST(GgufErrorTest, OverlappingTensors) {
  const std::string head = Preamble(3, 0) + TensorInfo("a", {16}, kF32, 0) +
                           TensorInfo("b", {8}, kF32, 64) +
                           TensorInfo("c", {8}, kF32, 32);
  // Infos are 33 bytes each; c's offset field is the last 8 of the third.
  ExpectFormatError(Parse(Padded(head) + std::string(128, 'x')),
                    "tensor 'c': data [32, 64) overlaps tensor 'a' at [0, 64)",
                    head.size() - 8);
  const std::string same = Preamble(2, 0) + TensorInfo("a", {8}, kF32, 0) +
                           TensorInfo("b", {4}, kF32, 0);
  ExpectFormatError(Parse(Padded(same) + std::string(64, 'x')), "overlaps",
                    same.size() - 8);
}

TEST(GgufErrorTest, ZeroByteTensorsOverlapNothing) {
  const std::string head = Preamble(2, 0) + TensorInfo("a", {8}, kF32, 0) +
                           TensorInfo("b", {0}, kF32, 0);
  EXPECT_TRUE(Parse(Padded(head) + std::string(32, 'x')).ok());
}

TEST(GgufErrorTest, TensorPastTheEnd) {
  const std::string head = Preamble(1, 0) + TensorInfo("t", {8}, kF32, 0);
  ExpectFormatError(Parse(Padded(head) + std::string(31, 'x')),
                    "tensor 't': 32 bytes at data offset 0 (file offset 64 + "
                    "0) run past the end of the 95-byte file",
                    head.size() - 8);
  // No data section at all.
  ExpectFormatError(Parse(Padded(head)), "run past the end", head.size() - 8);
}

TEST(GgufErrorTest, DuplicateTensorName) {
  const std::string first = Preamble(2, 0) + TensorInfo("t", {8}, kF32, 0);
  ExpectFormatError(Parse(Padded(first + TensorInfo("t", {8}, kF32, 32)) +
                          std::string(64, 'x')),
                    "tensor name 't' appears more than once", first.size());
}

TEST(GgufErrorTest, EveryTruncationIsAnError) {
  const std::string head =
      Preamble(1, 2) + Kv("general.alignment", VT::kUint32, U32(8)) +
      Kv("arr", VT::kArray, Array(VT::kString, 2, Str("x") + Str("yz"))) +
      TensorInfo("t", {2}, kF32, 0);
  const std::string bytes = Padded(head, 8) + std::string(8, 'x');
  ASSERT_TRUE(Parse(bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto result = Parse(bytes.substr(0, n));
    ASSERT_FALSE(result.ok()) << n;
    EXPECT_EQ(result.status().code(), StatusCode::kFormat) << n;
  }
}

TEST(GgufErrorTest, AnySingleByteChangeGivesAHeaderOrAFormatError) {
  const std::string bytes = Padded(EveryValueTypeFile().replace(8, 8, U64(1)) +
                                   TensorInfo("t", {2, 2}, kF32, 0)) +
                            std::string(16, 'x');
  ASSERT_TRUE(Parse(bytes).ok()) << Parse(bytes).status().message();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string mutated = bytes;
      mutated[i] = static_cast<char>(v);
      auto result = Parse(mutated);
      if (!result.ok()) {
        EXPECT_EQ(result.status().code(), StatusCode::kFormat) << i;
      }
    }
  }
}

TEST(GgufErrorTest, ReadErrorsPropagate) {
  MemorySource source(kFileName, Padded(EveryValueTypeFile()));
  source.FailFrom(100);
  auto result = ReadGgufHeader(source, 16);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kIo);
}

}  // namespace
}  // namespace weightstream
