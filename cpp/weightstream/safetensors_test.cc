// Tests for the safetensors header parser: valid files and hostile ones.
#include "cpp/weightstream/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cpp/weightstream/dtype.h"
#include "cpp/weightstream/local_file.h"
#include "cpp/weightstream/test_util.h"

namespace weightstream {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::weightstream::testing::MemorySource;
using ::weightstream::testing::SafetensorsBytes;
using ::weightstream::testing::WriteTempFile;
using namespace std::string_literals;  // NOLINT: "\0" inside literals.

constexpr char kFileName[] = "models/bad-file.safetensors";

// One tensor entry: "name":{"dtype":..,"shape":[..],"data_offsets":[b,e]}.
// `shape` and the offsets are raw JSON so tests can put anything there.
std::string Entry(const std::string& name, const std::string& dtype,
                  const std::string& shape, uint64_t begin, uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shape +
         "],\"data_offsets\":[" + std::to_string(begin) + "," +
         std::to_string(end) + "]}";
}

// A JSON object from comma-joined members.
std::string Object(const std::vector<std::string>& members) {
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += ",";
    out += members[i];
  }
  return out + "}";
}

// Parses raw file bytes through ReadSafetensorsHeader.
StatusOr<SafetensorsHeader> ParseFile(std::string bytes) {
  MemorySource source(kFileName, std::move(bytes));
  return ReadSafetensorsHeader(source);
}

// Parses a file made of header JSON `json` followed by `data_bytes` bytes.
StatusOr<SafetensorsHeader> Parse(const std::string& json,
                                  size_t data_bytes = 0) {
  return ParseFile(SafetensorsBytes(json, std::string(data_bytes, 'x')));
}

// The 8-byte little-endian length prefix.
std::string LengthPrefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// Expects a kFormat error whose message names the file and `problem`.
void ExpectFormatError(const StatusOr<SafetensorsHeader>& result,
                       const std::string& problem) {
  ASSERT_FALSE(result.ok()) << "expected an error about: " << problem;
  EXPECT_EQ(result.status().code(), StatusCode::kFormat);
  EXPECT_THAT(result.status().message(), HasSubstr(kFileName));
  EXPECT_THAT(result.status().message(), HasSubstr(problem));
}

// ---------------------------------------------------------------------------
// Valid files.

struct DtypeCase {
  const char* name;
  Dtype dtype;
  uint32_t bits;
};

class EveryDtypeTest : public ::testing::TestWithParam<DtypeCase> {};

TEST_P(EveryDtypeTest, ParsesWithPackedSize) {
  const DtypeCase& c = GetParam();
  // 8 elements: a whole number of bytes for every width, 4 and 6 included.
  const uint64_t nbytes = 8 * c.bits / 8;
  auto result = Parse(Object({Entry("t", c.name, "2,4", 0, nbytes)}), nbytes);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 1u);
  const TensorInfo& t = result->tensors[0];
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.dtype, c.dtype);
  EXPECT_EQ(DtypeName(t.dtype), c.name);
  EXPECT_EQ(DtypeBits(t.dtype), c.bits);
  EXPECT_THAT(t.shape, ElementsAre(2u, 4u));
  EXPECT_EQ(t.begin, 0u);
  EXPECT_EQ(t.end, nbytes);
  EXPECT_EQ(t.nbytes(), nbytes);
}

INSTANTIATE_TEST_SUITE_P(
    AllDtypes, EveryDtypeTest,
    ::testing::Values(
        DtypeCase{"BOOL", Dtype::kBool, 8}, DtypeCase{"U8", Dtype::kU8, 8},
        DtypeCase{"I8", Dtype::kI8, 8},
        DtypeCase{"F8_E5M2", Dtype::kF8_E5M2, 8},
        DtypeCase{"F8_E4M3", Dtype::kF8_E4M3, 8},
        DtypeCase{"F8_E8M0", Dtype::kF8_E8M0, 8},
        DtypeCase{"F8_E4M3FNUZ", Dtype::kF8_E4M3FNUZ, 8},
        DtypeCase{"F8_E5M2FNUZ", Dtype::kF8_E5M2FNUZ, 8},
        DtypeCase{"I16", Dtype::kI16, 16}, DtypeCase{"U16", Dtype::kU16, 16},
        DtypeCase{"F16", Dtype::kF16, 16}, DtypeCase{"BF16", Dtype::kBF16, 16},
        DtypeCase{"I32", Dtype::kI32, 32}, DtypeCase{"U32", Dtype::kU32, 32},
        DtypeCase{"F32", Dtype::kF32, 32}, DtypeCase{"I64", Dtype::kI64, 64},
        DtypeCase{"U64", Dtype::kU64, 64}, DtypeCase{"F64", Dtype::kF64, 64},
        DtypeCase{"C64", Dtype::kC64, 64}, DtypeCase{"F4", Dtype::kF4, 4},
        DtypeCase{"F6_E2M3", Dtype::kF6_E2M3, 6},
        DtypeCase{"F6_E3M2", Dtype::kF6_E3M2, 6}),
    [](const ::testing::TestParamInfo<DtypeCase>& info) {
      return std::string(info.param.name);
    });

TEST(DtypeTest, ParseIsCaseSensitiveAndRejectsUnknownNames) {
  EXPECT_EQ(ParseDtype("F32"), Dtype::kF32);
  EXPECT_FALSE(ParseDtype("f32").has_value());
  EXPECT_FALSE(ParseDtype("F128").has_value());
  EXPECT_FALSE(ParseDtype("").has_value());
}

TEST(SafetensorsTest, PackedSubByteSizesRoundToWholeBytes) {
  // F4 x 2 = 1 byte; F6 x 4 = 3 bytes.
  auto result = Parse(
      Object({Entry("a", "F4", "2", 0, 1), Entry("b", "F6_E2M3", "4", 1, 4),
              Entry("c", "F6_E3M2", "2,2", 4, 7)}),
      7);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 3u);
  EXPECT_EQ(result->tensors[0].nbytes(), 1u);
  EXPECT_EQ(result->tensors[1].nbytes(), 3u);
  EXPECT_EQ(result->tensors[2].nbytes(), 3u);
}

TEST(SafetensorsTest, ScalarHasEmptyShapeAndOneElement) {
  auto result = Parse(Object({Entry("s", "F64", "", 0, 8)}), 8);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 1u);
  EXPECT_TRUE(result->tensors[0].shape.empty());
  EXPECT_EQ(result->tensors[0].nbytes(), 8u);
}

TEST(SafetensorsTest, ZeroSizeTensorsHaveEqualBeginAndEnd) {
  auto result = Parse(
      Object({Entry("a", "F32", "1", 0, 4), Entry("empty", "F32", "0,3", 4, 4),
              Entry("z", "BF16", "2", 4, 8)}),
      8);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 3u);
  const TensorInfo& empty = result->tensors[1];
  EXPECT_EQ(empty.name, "empty");
  EXPECT_THAT(empty.shape, ElementsAre(0u, 3u));
  EXPECT_EQ(empty.begin, 4u);
  EXPECT_EQ(empty.end, 4u);
  EXPECT_EQ(empty.nbytes(), 0u);
}

TEST(SafetensorsTest, OnlyZeroSizeTensorsAndNoData) {
  auto result = Parse(
      Object({Entry("a", "U8", "0", 0, 0), Entry("b", "F32", "5,0,7", 0, 0)}));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tensors.size(), 2u);
}

TEST(SafetensorsTest, EmptyHeaderIsAValidEmptyFile) {
  auto result = Parse("{}");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->tensors.empty());
  EXPECT_FALSE(result->has_metadata);
  EXPECT_TRUE(result->metadata.empty());
  EXPECT_EQ(result->data_start, 16u);  // 8 + "{}" padded to 8 bytes.
}

TEST(SafetensorsTest, DataStartIsEightPlusHeaderLength) {
  const std::string json = Object({Entry("t", "U8", "3", 0, 3)});
  const std::string bytes = SafetensorsBytes(json, "abc");
  auto result = ParseFile(bytes);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->data_start, bytes.size() - 3);
  EXPECT_EQ(bytes.substr(result->data_start), "abc");
}

TEST(SafetensorsTest, TensorsAreSortedByOffsetNotByName) {
  auto result =
      Parse(Object({Entry("a", "U8", "4", 8, 12), Entry("b", "U8", "4", 0, 4),
                    Entry("c", "U8", "4", 4, 8)}),
            12);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 3u);
  EXPECT_EQ(result->tensors[0].name, "b");
  EXPECT_EQ(result->tensors[1].name, "c");
  EXPECT_EQ(result->tensors[2].name, "a");
  for (size_t i = 1; i < result->tensors.size(); ++i) {
    EXPECT_EQ(result->tensors[i].begin, result->tensors[i - 1].end);
  }
}

TEST(SafetensorsTest, ZeroSizeTensorSortsBeforeTensorAtSameOffset) {
  auto result = Parse(Object({Entry("big", "U8", "4", 0, 4),
                              Entry("zz_empty", "U8", "0", 0, 0)}),
                      4);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 2u);
  EXPECT_EQ(result->tensors[0].name, "zz_empty");
  EXPECT_EQ(result->tensors[1].name, "big");
}

TEST(SafetensorsTest, ExtraFieldsInTensorEntryAreIgnored) {
  auto result = Parse(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2],)"
                      R"("extra":{"nested":[1,2,{"x":null}]},"another":"s"}})",
                      2);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 1u);
  EXPECT_EQ(result->tensors[0].nbytes(), 2u);
}

TEST(SafetensorsTest, NonAsciiAndEscapedNamesAreDecoded) {
  auto result = Parse(Object({Entry("caf\xc3\xa9", "U8", "1", 0, 1),
                              Entry("a\\\"b\\u0041", "U8", "1", 1, 2)}),
                      2);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 2u);
  EXPECT_EQ(result->tensors[0].name, "caf\xc3\xa9");
  EXPECT_EQ(result->tensors[1].name, "a\"bA");
}

TEST(SafetensorsTest, ManyTensors) {
  std::vector<std::string> entries;
  for (int i = 0; i < 1000; ++i) {
    entries.push_back(
        Entry("t" + std::to_string(i), "F16", "3", 6 * i, 6 * i + 6));
  }
  auto result = Parse(Object(entries), 6000);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(result->tensors[i].name, "t" + std::to_string(i));
  }
}

TEST(SafetensorsTest, TrailingSpacesAfterJsonAreAccepted) {
  auto result =
      Parse(Object({Entry("t", "U8", "1", 0, 1)}) + std::string(37, ' '), 1);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tensors.size(), 1u);
}

TEST(SafetensorsTest, ModeratelyNestedExtraFieldIsAccepted) {
  // Total nesting: top object + entry object + 100 arrays, well under 128.
  std::string deep = std::string(100, '[') + std::string(100, ']');
  auto result =
      Parse(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" +
                deep + "}}",
            1);
  EXPECT_TRUE(result.ok()) << result.status().message();
}

TEST(SafetensorsTest, ParseSafetensorsHeaderDirectly) {
  const std::string json = Object({Entry("t", "I32", "2", 0, 8)});
  auto result = ParseSafetensorsHeader(json, 8 + json.size() + 8, "direct");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->data_start, 8 + json.size());
  ASSERT_EQ(result->tensors.size(), 1u);
  EXPECT_EQ(result->tensors[0].dtype, Dtype::kI32);
}

TEST(SafetensorsTest, ReadsHeaderFromLocalFile) {
  const std::string path = WriteTempFile(SafetensorsBytes(
      Object({Entry("w", "F32", "2,2", 0, 16)}), std::string(16, '\1')));
  auto source = OpenLocalFile(path);
  ASSERT_TRUE(source.ok()) << source.status().message();
  auto result = ReadSafetensorsHeader(**source);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->tensors.size(), 1u);
  EXPECT_EQ(result->tensors[0].name, "w");
}

TEST(SafetensorsTest, ErrorFromLocalFileNamesThePath) {
  const std::string path = WriteTempFile("short");
  auto source = OpenLocalFile(path);
  ASSERT_TRUE(source.ok()) << source.status().message();
  auto result = ReadSafetensorsHeader(**source);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFormat);
  EXPECT_THAT(result.status().message(), HasSubstr(path));
}

TEST(SafetensorsTest, FailedReadIsAnIoError) {
  MemorySource source(kFileName, SafetensorsBytes("{}", ""));
  source.FailFrom(0);
  auto result = ReadSafetensorsHeader(source);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kIo);
}

// ---------------------------------------------------------------------------
// __metadata__.

TEST(SafetensorsMetadataTest, ReturnedInFileOrder) {
  // Metadata comes back in file order, not sorted by key.
  auto result = Parse(R"({"__metadata__":{"zeta":"1","alpha":"2","mid":"3"},)" +
                          Entry("t", "U8", "1", 0, 1) + "}",
                      1);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->has_metadata);
  EXPECT_THAT(
      result->metadata,
      ElementsAre(Pair("zeta", "1"), Pair("alpha", "2"), Pair("mid", "3")));
  ASSERT_EQ(result->tensors.size(), 1u);  // __metadata__ is not a tensor.
}

TEST(SafetensorsMetadataTest, MetadataOnly) {
  auto result = Parse(R"({"__metadata__":{"format":"pt"}})");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->has_metadata);
  EXPECT_THAT(result->metadata, ElementsAre(Pair("format", "pt")));
  EXPECT_TRUE(result->tensors.empty());
}

TEST(SafetensorsMetadataTest, EmptyObject) {
  auto result = Parse(R"({"__metadata__":{}})");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->has_metadata);
  EXPECT_TRUE(result->metadata.empty());
}

TEST(SafetensorsMetadataTest, NullIsAcceptedAsAbsent) {
  auto result = Parse(R"({"__metadata__":null})");
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_FALSE(result->has_metadata);
  EXPECT_TRUE(result->metadata.empty());
}

TEST(SafetensorsMetadataTest, NonStringValueIsRejected) {
  ExpectFormatError(Parse(R"({"__metadata__":{"ok":"x","n":1}})"),
                    "__metadata__ value for 'n' is not a string");
  ExpectFormatError(Parse(R"({"__metadata__":{"n":null}})"), "not a string");
  ExpectFormatError(Parse(R"({"__metadata__":{"n":{"a":"b"}}})"),
                    "not a string");
}

TEST(SafetensorsMetadataTest, NonObjectIsRejected) {
  ExpectFormatError(Parse(R"({"__metadata__":"pt"})"),
                    "__metadata__ is not an object");
  ExpectFormatError(Parse(R"({"__metadata__":["a","b"]})"),
                    "__metadata__ is not an object");
  ExpectFormatError(Parse(R"({"__metadata__":3})"),
                    "__metadata__ is not an object");
}

// ---------------------------------------------------------------------------
// The length prefix and the JSON text.

TEST(SafetensorsFramingTest, FileShorterThanEightBytes) {
  ExpectFormatError(ParseFile(""), "0 bytes is too small");
  ExpectFormatError(ParseFile("1234567"), "7 bytes is too small");
}

TEST(SafetensorsFramingTest, HeaderLengthOverLimit) {
  ExpectFormatError(
      ParseFile(LengthPrefix(kMaxSafetensorsHeaderBytes + 1) + "{}      "),
      "exceeds the limit");
  ExpectFormatError(ParseFile(LengthPrefix(~uint64_t{0}) + "{}      "),
                    "exceeds the limit");
}

TEST(SafetensorsFramingTest, HeaderLengthPastEndOfFile) {
  ExpectFormatError(ParseFile(LengthPrefix(1000) + "{}      "),
                    "runs past the end");
  // Exactly one byte too long.
  ExpectFormatError(ParseFile(LengthPrefix(9) + "{}      "),
                    "runs past the end");
}

TEST(SafetensorsFramingTest, ZeroHeaderLength) {
  ExpectFormatError(ParseFile(LengthPrefix(0)), "must start with '{'");
}

TEST(SafetensorsFramingTest, HeaderMustStartWithBrace) {
  ExpectFormatError(Parse(" {}"), "must start with '{'");
  ExpectFormatError(Parse("\n{}"), "must start with '{'");
  ExpectFormatError(Parse("[]"), "must start with '{'");
  ExpectFormatError(Parse("null"), "must start with '{'");
}

TEST(SafetensorsFramingTest, InvalidJson) {
  ExpectFormatError(Parse(R"({"a": })"), "byte offset");
  ExpectFormatError(Parse(R"({"a":{"dtype":"U8")"), "byte offset");
  ExpectFormatError(Parse(R"({'a':1})"), "byte offset");
  ExpectFormatError(Parse("{/*c*/}"), "byte offset");
}

TEST(SafetensorsFramingTest, TrailingGarbage) {
  ExpectFormatError(Parse("{}x"), "invalid JSON");
  ExpectFormatError(Parse("{} {}"), "invalid JSON");
  ExpectFormatError(Parse("{},"), "invalid JSON");
}

TEST(SafetensorsFramingTest, NulBytesAreRejected) {
  // nlohmann's lexer takes a NUL for the end of the input; the parser must not
  // silently ignore a NUL and whatever follows it.
  ExpectFormatError(Parse("{}\0"s), "NUL byte at byte offset 10");
  ExpectFormatError(Parse("{}   \0   "s), "NUL byte");
  ExpectFormatError(Parse("{}\0{\"x\":[1,2,3]} garbage"s), "NUL byte");
  ExpectFormatError(Parse("{\"a\0\":1}"s), "NUL byte");
}

TEST(SafetensorsFramingTest, DeepNestingIsRejectedWithoutStackOverflow) {
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  ExpectFormatError(
      Parse(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" +
                deep + "}}",
            1),
      "nested deeper than 128");
  // Unbalanced and at the top level too.
  ExpectFormatError(Parse(R"({"x":)" + std::string(100000, '[')),
                    "nested deeper than 128");
  std::string objects;
  for (int i = 0; i < 5000; ++i) objects += R"({"a":)";
  ExpectFormatError(Parse(R"({"__metadata__":)" + objects + "1"),
                    "nested deeper than 128");
}

// Containers nested `levels` deep in total, the top-level object included.
std::string NestedHeader(int levels) {
  const int arrays = levels - 2;  // Top-level object and the tensor entry.
  return R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" +
         std::string(arrays, '[') + std::string(arrays, ']') + "}}";
}

TEST(SafetensorsFramingTest, NestingLimitBoundary) {
  // safetensors.h: "JSON nesting deeper than this [128] is rejected": 128
  // nested containers pass, 129 do not.
  auto ok = Parse(NestedHeader(kMaxJsonDepth), 1);
  EXPECT_TRUE(ok.ok()) << ok.status().message();
  ExpectFormatError(Parse(NestedHeader(kMaxJsonDepth + 1), 1),
                    "nested deeper than 128");
}

TEST(SafetensorsFramingTest, InvalidUtf8InName) {
  ExpectFormatError(Parse(Object({Entry("bad\xff\xfe", "U8", "1", 0, 1)}), 1),
                    "invalid JSON");
  // A lone continuation byte and an overlong encoding.
  ExpectFormatError(Parse(Object({Entry("\x80", "U8", "1", 0, 1)}), 1),
                    "invalid JSON");
  ExpectFormatError(Parse(Object({Entry("\xc0\xaf", "U8", "1", 0, 1)}), 1),
                    "invalid JSON");
}

// ---------------------------------------------------------------------------
// Tensor entries.

TEST(SafetensorsEntryTest, DuplicateTensorName) {
  ExpectFormatError(
      Parse(Object({Entry("w", "U8", "1", 0, 1), Entry("w", "U8", "1", 1, 2)}),
            2),
      "tensor name 'w' appears more than once");
  ExpectFormatError(Parse(R"({"__metadata__":{},"__metadata__":{}})"),
                    "more than once");
}

TEST(SafetensorsEntryTest, DuplicateFieldInsideEntry) {
  // The reference (serde derive) rejects a repeated field in a tensor entry;
  // accepting the last value would let two parsers disagree about where a
  // tensor lives.
  // The last value of each repeated field makes a valid tensor, so only the
  // repetition itself can be rejected.
  ExpectFormatError(
      Parse(R"({"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2],)"
            R"("data_offsets":[0,2]}})",
            2),
      "data_offsets");
  ExpectFormatError(Parse(R"({"t":{"dtype":"U8","shape":[1],"dtype":"F32",)"
                          R"("data_offsets":[0,4],"shape":[1]}})",
                          4),
                    "dtype");
}

TEST(SafetensorsEntryTest, EntryIsNotAnObject) {
  ExpectFormatError(Parse(R"({"t":5})"),
                    "tensor 't': entry is not a JSON object");
  ExpectFormatError(Parse(R"({"t":[0,1]})"), "entry is not a JSON object");
  ExpectFormatError(Parse(R"({"t":null})"), "entry is not a JSON object");
  ExpectFormatError(Parse(R"({"t":"U8"})"), "entry is not a JSON object");
}

TEST(SafetensorsEntryTest, MissingFields) {
  ExpectFormatError(Parse(R"({"t":{"shape":[1],"data_offsets":[0,1]}})", 1),
                    "tensor 't': missing field 'dtype'");
  ExpectFormatError(Parse(R"({"t":{"dtype":"U8","data_offsets":[0,1]}})", 1),
                    "missing field 'shape'");
  ExpectFormatError(Parse(R"({"t":{"dtype":"U8","shape":[1]}})", 1),
                    "missing field 'data_offsets'");
  ExpectFormatError(Parse(R"({"t":{}})"), "missing field");
}

TEST(SafetensorsEntryTest, UnknownDtype) {
  ExpectFormatError(Parse(Object({Entry("t", "F128", "1", 0, 16)}), 16),
                    "unknown dtype 'F128'");
  ExpectFormatError(Parse(Object({Entry("t", "f32", "1", 0, 4)}), 4),
                    "unknown dtype 'f32'");
  ExpectFormatError(Parse(Object({Entry("t", "", "1", 0, 1)}), 1),
                    "unknown dtype");
}

TEST(SafetensorsEntryTest, DtypeIsNotAString) {
  ExpectFormatError(
      Parse(R"({"t":{"dtype":8,"shape":[1],"data_offsets":[0,1]}})", 1),
      "'dtype' is not a string");
}

TEST(SafetensorsEntryTest, ShapeIsNotAnArray) {
  ExpectFormatError(
      Parse(R"({"t":{"dtype":"U8","shape":4,"data_offsets":[0,4]}})", 4),
      "'shape' is not an array");
}

TEST(SafetensorsEntryTest, BadShapeDimensions) {
  ExpectFormatError(Parse(Object({Entry("t", "U8", "-1", 0, 1)}), 1),
                    "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "2.0", 0, 2)}), 2),
                    "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "1.5", 0, 2)}), 2),
                    "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "1e30", 0, 1)}), 1),
                    "not a non-negative integer");
  ExpectFormatError(
      Parse(Object({Entry("t", "U8", "99999999999999999999999", 0, 1)}), 1),
      "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "\"2\"", 0, 2)}), 2),
                    "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "null", 0, 1)}), 1),
                    "not a non-negative integer");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "[1]", 0, 1)}), 1),
                    "not a non-negative integer");
}

TEST(SafetensorsEntryTest, ShapeProductOverflow) {
  ExpectFormatError(
      Parse(Object({Entry("t", "U8", "4294967296,4294967296,16", 0, 0)})),
      "shape product overflows");
  ExpectFormatError(
      Parse(Object({Entry("t", "U8", "18446744073709551615,2", 0, 0)})),
      "shape product overflows");
}

TEST(SafetensorsEntryTest, ZeroDimensionAvoidsOverflow) {
  // The product is 0 however large the other dimensions are.
  auto result = Parse(
      Object({Entry("t", "F64", "0,18446744073709551615,4294967296", 0, 0)}));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->tensors[0].nbytes(), 0u);
}

TEST(SafetensorsEntryTest, BitsOverflow) {
  // 2^61 elements fit in 64 bits, 2^61 * 64 bits do not.
  ExpectFormatError(
      Parse(Object({Entry("t", "F64", "2305843009213693952", 0, 0)})),
      "byte size overflows");
  // 2^62 F4 elements: 2^64 bits.
  ExpectFormatError(
      Parse(Object({Entry("t", "F4", "4611686018427387904", 0, 0)})),
      "byte size overflows");
}

TEST(SafetensorsEntryTest, SubByteSizeNotWholeBytes) {
  ExpectFormatError(Parse(Object({Entry("t", "F4", "3", 0, 2)}), 2),
                    "3 elements of F4 are not a whole number of bytes");
  ExpectFormatError(Parse(Object({Entry("t", "F6_E2M3", "1", 0, 1)}), 1),
                    "not a whole number of bytes");
  ExpectFormatError(Parse(Object({Entry("t", "F6_E3M2", "", 0, 1)}), 1),
                    "not a whole number of bytes");
}

TEST(SafetensorsEntryTest, DataOffsetsWrongLength) {
  const char* kCases[] = {
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[1]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":"0,1"}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":{"a":0,"b":1}}})",
  };
  for (const char* json : kCases) {
    SCOPED_TRACE(json);
    ExpectFormatError(Parse(json, 1), "'data_offsets' must be an array of 2");
  }
}

TEST(SafetensorsEntryTest, DataOffsetsNotIntegers) {
  const char* kCases[] = {
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1.0]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":["0",1]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,null]}})",
      R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1e30]}})",
  };
  for (const char* json : kCases) {
    SCOPED_TRACE(json);
    ExpectFormatError(Parse(json, 1), "is not a non-negative integer");
  }
}

TEST(SafetensorsEntryTest, DataOffsetsEndBeforeBegin) {
  ExpectFormatError(Parse(Object({Entry("t", "U8", "0", 4, 0)}), 4),
                    "data_offsets [4, 0] end before they begin");
}

TEST(SafetensorsEntryTest, SizeMismatch) {
  ExpectFormatError(Parse(Object({Entry("t", "F32", "2", 0, 4)}), 4),
                    "need 8 bytes but data_offsets [0, 4] span 4");
  ExpectFormatError(Parse(Object({Entry("t", "U8", "2", 0, 3)}), 3),
                    "need 2 bytes");
  // A scalar needs one element.
  ExpectFormatError(Parse(Object({Entry("t", "F32", "", 0, 0)})),
                    "need 4 bytes");
}

TEST(SafetensorsEntryTest, MessageNamesTheTensor) {
  auto result = Parse(Object({Entry("ok", "U8", "1", 0, 1),
                              Entry("layers.3.weight", "F32", "2", 1, 5)}),
                      5);
  ExpectFormatError(result, "tensor 'layers.3.weight'");
}

TEST(SafetensorsEntryTest, ControlCharactersInNamesAreEscapedInMessages) {
  auto result = Parse(Object({Entry("a\\u0001b", "F32", "2", 0, 4)}), 4);
  ExpectFormatError(result, "'a\\x01b'");
}

// ---------------------------------------------------------------------------
// How the tensors tile the data section.

TEST(SafetensorsLayoutTest, GapBetweenTensors) {
  ExpectFormatError(
      Parse(Object({Entry("a", "U8", "4", 0, 4), Entry("b", "U8", "4", 8, 12)}),
            12),
      "tensor 'b' starts at data offset 8 but the previous "
      "tensor ends at 4 (a gap between tensors)");
}

TEST(SafetensorsLayoutTest, OverlappingRanges) {
  ExpectFormatError(
      Parse(Object({Entry("a", "U8", "8", 0, 8), Entry("b", "U8", "8", 4, 12)}),
            12),
      "overlapping ranges");
  // Two tensors on exactly the same bytes.
  ExpectFormatError(
      Parse(Object({Entry("a", "U8", "4", 0, 4), Entry("b", "U8", "4", 0, 4)}),
            4),
      "overlapping ranges");
}

TEST(SafetensorsLayoutTest, FirstTensorNotAtZero) {
  ExpectFormatError(Parse(Object({Entry("a", "U8", "4", 4, 8)}), 8),
                    "tensor 'a' starts at data offset 4 but the previous "
                    "tensor ends at 0");
}

TEST(SafetensorsLayoutTest, DataSectionShorterThanTensors) {
  ExpectFormatError(Parse(Object({Entry("a", "U8", "8", 0, 8)}), 4),
                    "tensors cover 8 bytes of data but the file holds 4");
  ExpectFormatError(Parse(Object({Entry("a", "U8", "8", 0, 8)}), 0),
                    "file truncated");
}

TEST(SafetensorsLayoutTest, DataSectionLongerThanTensors) {
  ExpectFormatError(Parse(Object({Entry("a", "U8", "8", 0, 8)}), 12),
                    "tensors cover 8 bytes of data but the file holds 12");
  ExpectFormatError(Parse("{}", 1), "tensors cover 0 bytes");
}

TEST(SafetensorsLayoutTest, HugeTensorInTinyFileIsRejectedBeforeAllocating) {
  // 2^40 bytes: fails on the file size check, no allocation is attempted.
  ExpectFormatError(
      Parse(Object({Entry("a", "U8", "1099511627776", 0, 1099511627776ull)}),
            16),
      "file truncated");
}

TEST(SafetensorsLayoutTest, FileSizeSmallerThanHeaderWhenParsingDirectly) {
  // The caller claims a file too small to hold even the header.
  const std::string json = "{}";
  auto result = ParseSafetensorsHeader(json, 4, kFileName);
  ExpectFormatError(result, "file truncated");
}

}  // namespace
}  // namespace weightstream
