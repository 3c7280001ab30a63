"""GGUF: equality with gguf-py's GGUFReader on files its GGUFWriter wrote,
and hand-crafted hostile files that must fail with a FormatError naming the
file and a byte offset (never a crash, a hang or a huge allocation)."""

from __future__ import annotations

import hashlib
import os
import struct

import gguf
import ml_dtypes
import numpy as np
import pytest
import weightstream as ws
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V
from weightstream import _native
from weightstream import gguf as wsgguf

# Typed ggml types -> the numpy dtype weightstream returns.
TYPED = {
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F64": np.dtype(np.float64),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "I32": np.dtype(np.int32),
    "I64": np.dtype(np.int64),
}
QUANTIZED = [t for t in gguf.GGML_QUANT_SIZES if t.name not in TYPED]
# Types gguf.quants.quantize implements; the others get random block bytes.
QUANTIZABLE = {Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0}


# --------------------------------------------------------------------------
# Writing files with the reference writer
# --------------------------------------------------------------------------


def write_gguf(path, tensors=(), metadata=(), alignment=None, **writer_args) -> str:
    """GGUFWriter output: `tensors` as (name, array, raw_dtype or None),
    `metadata` as (key, value, value type, array element type or None)."""
    writer = gguf.GGUFWriter(os.fspath(path), "llama", **writer_args)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, value, vtype, sub_type in metadata:
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    for name, array, raw_dtype in tensors:
        writer.add_tensor(name, array, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return os.fspath(path)


def block_bytes(rng, qtype: Q, rows: int = 3, blocks: int = 2) -> np.ndarray:
    """A (rows, blocks * type_size) uint8 array: `rows` rows of quantized data."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    if qtype in QUANTIZABLE:
        values = rng.standard_normal((rows, blocks * block_size)).astype(np.float32)
        return gguf.quants.quantize(values, qtype)
    return rng.integers(0, 256, size=(rows, blocks * type_size), dtype=np.uint8)


def typed_array(rng, name: str, shape) -> np.ndarray:
    dtype = TYPED[name]
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def writer_tensor(name: str, array: np.ndarray):
    """(name, array, raw_dtype) for GGUFWriter, which takes BF16 as bytes."""
    if array.dtype == TYPED["BF16"]:
        return name, array.view(np.uint8), Q.BF16
    return name, array, None


def expect_matches_reader(path: str, loaded: dict, infos) -> None:
    """Bytes, shapes and infos equal what GGUFReader reads from `path`."""
    reader = gguf.GGUFReader(path)
    assert list(loaded) == [t.name for t in reader.tensors]
    for info, t in zip(infos, reader.tensors, strict=True):
        array = loaded[t.name]
        assert info.name == t.name
        assert info.ggml_type == t.tensor_type.name
        assert info.ggml_type_id == int(t.tensor_type)
        assert info.shape == tuple(reversed(t.shape.tolist()))
        assert info.nbytes == t.n_bytes
        assert info.array_shape == t.data.shape or info.ggml_type == "BF16"
        assert array.tobytes() == t.data.tobytes()
        if info.quantized:
            assert array.dtype == np.uint8
            assert array.shape == t.data.shape
        else:
            assert array.dtype == TYPED[info.ggml_type]
            assert array.shape == info.shape


# --------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------

# (key, value, type, array element type); GGUFWriter cannot write empty arrays.
EVERY_VALUE_TYPE = [
    ("t.u8", 250, V.UINT8, None),
    ("t.i8", -100, V.INT8, None),
    ("t.u16", 65000, V.UINT16, None),
    ("t.i16", -30000, V.INT16, None),
    ("t.u32", 4_000_000_000, V.UINT32, None),
    ("t.i32", -2_000_000_000, V.INT32, None),
    ("t.f32", 0.1, V.FLOAT32, None),
    ("t.bool.true", True, V.BOOL, None),
    ("t.bool.false", False, V.BOOL, None),
    ("t.str", "héllo wörld ✓", V.STRING, None),
    ("t.str.empty", "", V.STRING, None),
    ("t.u64", 2**64 - 1, V.UINT64, None),
    ("t.i64", -(2**63), V.INT64, None),
    ("t.f64", -2.5e300, V.FLOAT64, None),
    ("a.u8", [0, 1, 255], V.ARRAY, V.UINT8),
    ("a.i8", [-128, 127], V.ARRAY, V.INT8),
    ("a.u16", [1, 65535], V.ARRAY, V.UINT16),
    ("a.i16", [-32768, 5], V.ARRAY, V.INT16),
    ("a.u32", [2**32 - 1], V.ARRAY, V.UINT32),
    ("a.i32", [-1, 2, -3], V.ARRAY, V.INT32),
    ("a.f32", [0.5, -1.25, 3.0e38], V.ARRAY, V.FLOAT32),
    ("a.bool", [True, False, True], V.ARRAY, V.BOOL),
    ("a.str", ["a", "", "ü", "<0x0A>"], V.ARRAY, V.STRING),
    ("a.u64", [2**64 - 1, 0], V.ARRAY, V.UINT64),
    ("a.i64", [-(2**63), 2**63 - 1], V.ARRAY, V.INT64),
    ("a.f64", [1e-300, float("inf")], V.ARRAY, V.FLOAT64),
    ("a.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, V.ARRAY),
    ("a.nested.str", [["x", "yz"], ["w"]], V.ARRAY, V.ARRAY),
    ("a.nested.3", [[[1.5], [2.5, 3.5]], [[4.5]]], V.ARRAY, V.ARRAY),
]


def expected_value(value, element_type):
    """What weightstream returns: floats not written as FLOAT64 are float32."""
    if isinstance(value, list):
        return [expected_value(v, element_type) for v in value]
    if isinstance(value, float) and element_type != V.FLOAT64:
        return float(np.float32(value))
    return value


def flatten(value):
    if isinstance(value, list):
        return [x for v in value for x in flatten(v)]
    return [value]


def test_every_metadata_type_matches_reader(tmp_path):
    path = write_gguf(tmp_path / "meta.gguf", metadata=EVERY_VALUE_TYPE)
    reader = gguf.GGUFReader(path)
    with wsgguf.open(path) as f:
        metadata = f.metadata
    assert list(metadata) == [k for k in reader.fields if not k.startswith("GGUF.")]
    assert metadata["general.architecture"] == "llama"
    for key, value, vtype, sub_type in EVERY_VALUE_TYPE:
        got = metadata[key]
        element = sub_type if vtype == V.ARRAY else vtype
        assert got == expected_value(value, element), key
        assert type(got) is type(value), key
        # GGUFReader flattens nested arrays; compare element by element.
        field = reader.fields[key]
        want = field.contents()
        assert flatten(got) == (want if isinstance(want, list) else [want]), key
        for g, w in zip(flatten(got), flatten(value), strict=True):
            assert type(g) is type(w), key


def test_metadata_is_parsed_once(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", metadata=[("k", [1, 2], V.ARRAY, V.INT32)])
    with wsgguf.open(path) as f:
        assert f.metadata is f.metadata


def test_large_vocabulary(tmp_path, rng):
    tokens = [f"tok{i}_" + "x" * int(n) for i, n in enumerate(rng.integers(0, 40, 50_000))]
    scores = rng.standard_normal(50_000).astype(np.float32).tolist()
    path = write_gguf(
        tmp_path / "vocab.gguf",
        metadata=[
            ("tokenizer.ggml.tokens", tokens, V.ARRAY, V.STRING),
            ("tokenizer.ggml.scores", scores, V.ARRAY, V.FLOAT32),
        ],
    )
    with wsgguf.open(path) as f:
        assert f.metadata["tokenizer.ggml.tokens"] == tokens
        assert f.metadata["tokenizer.ggml.scores"] == scores


def test_empty_arrays(tmp_path):
    empty = u32(V.INT32) + u64(0)
    content = padded(
        preamble(0, 2)
        + kv("empty", V.ARRAY, empty)
        + kv("nested", V.ARRAY, u32(V.ARRAY) + u64(2) + empty + u32(V.STRING) + u64(0))
    )
    path = tmp_path / "empty-arrays.gguf"
    path.write_bytes(content)
    with wsgguf.open(path) as f:
        assert f.metadata == {"empty": [], "nested": [[], []]}


def test_string_value_that_is_not_utf8_is_bytes(tmp_path):
    path = write_gguf(tmp_path / "b.gguf", metadata=[("k", b"\xff\xfeok", V.STRING, None)])
    with wsgguf.open(path) as f:
        assert f.metadata["k"] == b"\xff\xfeok"


# --------------------------------------------------------------------------
# Tensors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TYPED))
def test_typed_tensors_match_reader(tmp_path, rng, name):
    tensors = [
        writer_tensor("matrix", typed_array(rng, name, (5, 7))),
        writer_tensor("vector", typed_array(rng, name, (3,))),
        writer_tensor("cube", typed_array(rng, name, (2, 3, 4))),
    ]
    path = write_gguf(tmp_path / f"{name}.gguf", tensors)
    with wsgguf.open(path) as f:
        loaded, infos = f.get_tensors(), f.tensors
    expect_matches_reader(path, loaded, infos)
    assert loaded["cube"].shape == (2, 3, 4)
    assert loaded["matrix"].tobytes() == tensors[0][1].tobytes()


@pytest.mark.parametrize("qtype", QUANTIZED, ids=lambda t: t.name)
def test_quantized_tensors_match_reader(tmp_path, rng, qtype):
    data = block_bytes(rng, qtype)
    path = write_gguf(
        tmp_path / "q.gguf", [("q", data, qtype), ("f", np.ones(4, np.float32), None)]
    )
    with wsgguf.open(path) as f:
        loaded, infos = f.get_tensors(), f.tensors
        info = f.info("q")
    expect_matches_reader(path, loaded, infos)
    block_size, _ = gguf.GGML_QUANT_SIZES[qtype]
    assert info.shape == (3, 2 * block_size)
    assert info.dims == (2 * block_size, 3)
    assert info.quantized
    assert loaded["q"].shape == data.shape == info.array_shape
    assert loaded["q"].tobytes() == data.tobytes()


def test_ggml_type_table_matches_gguf_py():
    assert _native.GGML_TYPES == {
        int(t): (t.name, block, size) for t, (block, size) in gguf.GGML_QUANT_SIZES.items()
    }


def test_scalar_and_empty_tensors(tmp_path):
    tensors = [
        ("scalar", np.array(3.5, dtype=np.float32), None),
        ("empty", np.zeros((0, 4), dtype=np.int16), None),
        ("after", np.arange(3, dtype=np.int64), None),
    ]
    path = write_gguf(tmp_path / "s.gguf", tensors)
    with wsgguf.open(path) as f:
        loaded, infos = f.get_tensors(), f.tensors
    expect_matches_reader(path, loaded, infos)
    assert loaded["scalar"].shape == () and loaded["scalar"] == np.float32(3.5)
    assert loaded["empty"].shape == (0, 4)


@pytest.mark.parametrize("alignment", [1, 8, 64, 4096])
def test_custom_alignment(tmp_path, rng, alignment):
    tensors = [
        ("a", rng.standard_normal(3).astype(np.float32), None),
        ("b", rng.standard_normal((2, 5)).astype(np.float16), None),
        ("q", block_bytes(rng, Q.Q8_0), Q.Q8_0),
    ]
    path = write_gguf(tmp_path / "aligned.gguf", tensors, alignment=alignment)
    reader = gguf.GGUFReader(path)
    with wsgguf.open(path) as f:
        assert f.alignment == alignment == reader.alignment
        assert f.data_start == reader.data_offset
        assert all(info.offset % alignment == 0 for info in f.tensors)
        expect_matches_reader(path, f.get_tensors(), f.tensors)


def test_version_3_and_hand_patched_version_2(tmp_path, rng):
    path = write_gguf(tmp_path / "v3.gguf", [("t", np.arange(8, dtype=np.int32), None)])
    with wsgguf.open(path) as f:
        assert f.version == 3
    content = bytearray(open(path, "rb").read())
    assert struct.unpack_from("<I", content, 4) == (3,)
    struct.pack_into("<I", content, 4, 2)
    v2 = tmp_path / "v2.gguf"
    v2.write_bytes(content)
    with wsgguf.open(v2) as f:
        assert f.version == 2
        expect_matches_reader(os.fspath(v2), f.get_tensors(), f.tensors)


def test_many_tensors(tmp_path, rng):
    names = sorted(TYPED)
    tensors = [
        writer_tensor(
            f"blk.{i}.{names[i % len(names)]}", typed_array(rng, names[i % 8], (i % 5 + 1, 3))
        )
        for i in range(300)
    ] + [(f"blk.{i}.q", block_bytes(rng, Q.Q4_0, rows=i % 3 + 1), Q.Q4_0) for i in range(50)]
    path = write_gguf(tmp_path / "many.gguf", tensors)
    loaded = wsgguf.load_file(path, concurrency=4)
    with wsgguf.open(path) as f:
        expect_matches_reader(path, loaded, f.tensors)
        assert f.keys() == list(loaded) == [t[0] for t in tensors]
        assert len(f) == 350 and "blk.0.q" in f and list(f) == f.keys()


def test_tensor_larger_than_chunk_is_split(tmp_path, rng):
    big = rng.standard_normal((256, 1024)).astype(np.float32)
    path = write_gguf(tmp_path / "big.gguf", [("big", big, None), ("small", big[0], None)])
    loaded = wsgguf.load_file(path, chunk_size=4096, concurrency=8)
    assert np.array_equal(loaded["big"], big)
    with wsgguf.open(path, chunk_size=4096) as f:
        assert np.array_equal(f.get_tensor("big"), big)


def test_arrays_are_owned_writable_and_outlive_the_handle(tmp_path, rng):
    path = write_gguf(
        tmp_path / "own.gguf",
        [("f", np.arange(6, dtype=np.float32), None), ("q", block_bytes(rng, Q.Q8_0), Q.Q8_0)],
    )
    with wsgguf.open(path) as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    os.remove(path)
    for array in tensors.values():
        assert array.flags.c_contiguous and array.flags.writeable
        array[...] = 0
    assert tensors["f"].sum() == 0


def test_torch(tmp_path, rng):
    torch = pytest.importorskip("torch")
    tensors = [
        writer_tensor("f32", typed_array(rng, "F32", (2, 3))),
        writer_tensor("bf16", typed_array(rng, "BF16", (4, 2))),
        writer_tensor("i64", typed_array(rng, "I64", (3,))),
        ("q4k", block_bytes(rng, Q.Q4_K, rows=2, blocks=1), Q.Q4_K),
    ]
    path = write_gguf(tmp_path / "t.gguf", tensors)
    loaded = wsgguf.load_file(path, framework="torch")
    reader = {t.name: t for t in gguf.GGUFReader(path).tensors}
    expected_dtypes = {
        "f32": torch.float32,
        "bf16": torch.bfloat16,
        "i64": torch.int64,
        "q4k": torch.uint8,
    }
    for name, tensor in loaded.items():
        assert isinstance(tensor, torch.Tensor)
        assert tensor.dtype == expected_dtypes[name]
        flat = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        assert flat == reader[name].data.tobytes()
    assert tuple(loaded["bf16"].shape) == (4, 2)
    assert tuple(loaded["q4k"].shape) == (2, 144)
    with wsgguf.open(path, framework="pt") as f:
        assert torch.equal(f.get_tensor("i64"), loaded["i64"])


# --------------------------------------------------------------------------
# The handle
# --------------------------------------------------------------------------


def test_unknown_tensor_name(tmp_path):
    path = write_gguf(tmp_path / "n.gguf", [("t", np.ones(2, np.float32), None)])
    with wsgguf.open(path) as f:
        with pytest.raises(ws.TensorNotFoundError, match="no tensor named 'nope'") as e:
            f.get_tensor("nope")
        assert isinstance(e.value, KeyError)
        assert path in str(e.value)
        with pytest.raises(KeyError):
            f.info("nope")


def test_closed_handle(tmp_path):
    path = write_gguf(tmp_path / "c.gguf", [("t", np.ones(2, np.float32), None)])
    f = wsgguf.open(path)
    f.close()
    for call in (f.keys, lambda: f.get_tensor("t"), lambda: f.metadata, f.get_tensors):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_bad_arguments(tmp_path):
    path = write_gguf(tmp_path / "a.gguf")
    with pytest.raises(ValueError, match="framework"):
        wsgguf.open(path, framework="jax")
    with pytest.raises(ValueError, match="device"):
        wsgguf.load_file(path, device="cuda")
    with pytest.raises(ValueError, match="concurrency"):
        wsgguf.load_file(path, concurrency=0)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        wsgguf.load_file(tmp_path / "missing.gguf")


def test_file_without_tensors(tmp_path):
    path = write_gguf(tmp_path / "empty.gguf", metadata=[("k", 1, V.UINT32, None)])
    assert wsgguf.load_file(path) == {}
    with wsgguf.open(path) as f:
        assert f.tensors == [] and f.keys() == []


# --------------------------------------------------------------------------
# Hostile and broken files
# --------------------------------------------------------------------------


def u32(v: int) -> bytes:
    return struct.pack("<I", v)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)


def gstr(s: bytes | str) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b)) + b


def kv(key: str, vtype: int, value: bytes) -> bytes:
    return gstr(key) + u32(vtype) + value


def tinfo(name: str, dims, ggml_type: int, offset: int) -> bytes:
    return gstr(name) + u32(len(dims)) + b"".join(map(u64, dims)) + u32(ggml_type) + u64(offset)


def preamble(tensors: int, kvs: int, version: int = 3) -> bytes:
    return b"GGUF" + u32(version) + u64(tensors) + u64(kvs)


def padded(b: bytes, alignment: int = 32) -> bytes:
    return b + b"\0" * (-len(b) % alignment)


def nested(depth: int) -> bytes:
    """An array value `depth` arrays deep (each level 12 bytes)."""
    return (u32(V.ARRAY) + u64(1)) * (depth - 1) + u32(V.UINT8) + u64(0)


ONE_F32 = tinfo("t", [4], Q.F32, 0)

# (id, file content, words the message must contain, byte offset it names)
HOSTILE = [
    ("bad_magic", b"GGML" + preamble(0, 0)[4:], ["magic 'GGML'"], 0),
    ("big_endian", b"GGUF" + struct.pack(">I", 3) + bytes(16), ["big-endian"], 4),
    ("version_1", padded(preamble(0, 0, version=1)), ["version 1"], 4),
    ("unknown_version", padded(preamble(0, 0, version=4)), ["unsupported GGUF version 4"], 4),
    ("huge_tensor_count", padded(preamble(2**60, 0)), ["tensor count", "cannot fit"], 8),
    ("huge_kv_count", padded(preamble(0, 2**64 - 1)), ["metadata count", "cannot fit"], 16),
    (
        "string_longer_than_file",
        padded(preamble(0, 1) + u64(10**9) + b"key"),
        ["metadata key length 1000000000", "past the end"],
        24,
    ),
    (
        "unknown_metadata_type",
        padded(preamble(0, 1) + gstr("k") + u32(13) + u64(0)),
        ["unknown value type 13"],
        33,
    ),
    (
        "unknown_array_element_type",
        padded(preamble(0, 1) + kv("k", V.ARRAY, u32(77) + u64(1))),
        ["unknown array element type 77"],
        37,
    ),
    (
        "array_longer_than_file",
        padded(preamble(0, 1) + kv("k", V.ARRAY, u32(V.UINT64) + u64(2**61))),
        ["UINT64 array count", "cannot fit"],
        41,
    ),
    ("bool_not_0_or_1", padded(preamble(0, 1) + kv("k", V.BOOL, b"\x02")), ["BOOL value 2"], 37),
    (
        "duplicate_key",
        padded(preamble(0, 2) + kv("k", V.UINT8, b"\1") + kv("k", V.UINT8, b"\2")),
        ["metadata key 'k' appears more than once"],
        38,
    ),
    (
        "key_not_utf8",
        padded(preamble(0, 1) + gstr(b"k\xff") + u32(V.UINT8) + b"\1"),
        ["not valid UTF-8"],
        33,
    ),
    (
        "nested_10000_deep",
        padded(preamble(0, 1) + kv("deep", V.ARRAY, nested(10_000))),
        ["nested more than 64 levels"],
        40 + 12 * 64,
    ),
    (
        "alignment_not_power_of_two",
        padded(preamble(0, 1) + kv("general.alignment", V.UINT32, u32(24))),
        ["24 is not a nonzero power of two"],
        53,
    ),
    (
        "alignment_wrong_type",
        padded(preamble(0, 1) + kv("general.alignment", V.UINT64, u64(32))),
        ["must be a UINT32"],
        53,
    ),
    (
        "unknown_ggml_type",
        padded(preamble(1, 0) + tinfo("t", [4], 31, 0)) + bytes(64),
        ["unknown ggml type 31"],
        24 + 9 + 4 + 8,
    ),
    (
        "too_many_dims",
        padded(preamble(1, 0) + tinfo("t", [1] * 9, Q.F32, 0)) + bytes(64),
        ["9 dimensions"],
        24 + 9,
    ),
    (
        "row_not_whole_blocks",
        padded(preamble(1, 0) + tinfo("t", [48, 2], Q.Q8_0, 0)) + bytes(256),
        ["not a multiple of the Q8_0 block size 32"],
        24 + 13,
    ),
    (
        "element_count_overflows",
        padded(preamble(1, 0) + tinfo("t", [2**32, 2**32], Q.F32, 0)),
        ["more than 2^63-1 elements"],
        24 + 13,
    ),
    (
        "misaligned_offset",
        padded(preamble(1, 0) + tinfo("t", [4], Q.F32, 8)) + bytes(64),
        ["data offset 8 is not a multiple of the alignment 32"],
        24 + 25,
    ),
    (
        "overlapping_tensors",
        padded(preamble(2, 0) + tinfo("a", [16], Q.F32, 0) + tinfo("b", [4], Q.F32, 32))
        + bytes(96),
        ["tensor 'b': data [32, 48) overlaps tensor 'a' at [0, 64)"],
        24 + 33 + 25,
    ),
    (
        "tensor_past_eof",
        padded(preamble(1, 0) + ONE_F32) + bytes(15),
        ["tensor 't'", "run past the end of the 79-byte file"],
        24 + 25,
    ),
    (
        "duplicate_tensor_name",
        padded(preamble(2, 0) + ONE_F32 + tinfo("t", [4], Q.F32, 32)) + bytes(64),
        ["tensor name 't' appears more than once"],
        24 + 33,
    ),
]


@pytest.mark.parametrize(
    "content,words,offset", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_files_are_format_errors(tmp_path, content, words, offset):
    path = os.fspath(tmp_path / "hostile.gguf")
    with open(path, "wb") as f:
        f.write(content)
    for call in (wsgguf.open, wsgguf.load_file):
        with pytest.raises(ws.FormatError) as e:
            call(path)
        message = str(e.value)
        assert isinstance(e.value, ValueError)
        assert path in message
        assert f"(at byte offset {offset})" in message, message
        for word in words:
            assert word in message, message


def test_big_endian_file_from_gguf_writer(tmp_path):
    path = write_gguf(
        tmp_path / "be.gguf",
        [("t", np.ones(4, np.float32), None)],
        endianess=gguf.GGUFEndian.BIG,
    )
    with pytest.raises(ws.FormatError, match=r"big-endian GGUF \(version 3 byte-swapped\)"):
        wsgguf.open(path)


@pytest.fixture
def small_valid(tmp_path, rng) -> bytes:
    path = write_gguf(
        tmp_path / "valid.gguf",
        [
            ("f", np.arange(5, dtype=np.float16), None),
            ("q", block_bytes(rng, Q.Q4_0, 1, 1), Q.Q4_0),
        ],
        metadata=[
            ("a.str", ["x", "yy"], V.ARRAY, V.STRING),
            ("a.nested", [[1], [2, 3]], V.ARRAY, V.ARRAY),
            ("b", True, V.BOOL, None),
        ],
        alignment=16,
    )
    with open(path, "rb") as f:
        return f.read()


def test_every_truncation_is_a_format_error(tmp_path, small_valid):
    path = os.fspath(tmp_path / "cut.gguf")
    with open(path, "wb") as f:
        f.write(small_valid)
    with wsgguf.open(path) as f:
        data_end = f.data_start + max(t.offset + t.nbytes for t in f.tensors)
    # Only the writer's padding after the last tensor may go.
    for n in range(len(small_valid)):
        with open(path, "wb") as f:
            f.write(small_valid[:n])
        if n >= data_end:
            assert set(wsgguf.load_file(path)) == {"f", "q"}
            continue
        with pytest.raises(ws.FormatError, match="byte offset"):
            wsgguf.open(path)


def test_random_corruption_never_crashes(tmp_path, rng, small_valid):
    """Each mutant either loads fully or raises FormatError."""
    path = os.fspath(tmp_path / "mutant.gguf")
    loaded = 0
    for _ in range(800):
        mutant = bytearray(small_valid)
        for _ in range(int(rng.integers(1, 4))):
            mutant[int(rng.integers(0, len(mutant)))] = int(rng.integers(0, 256))
        with open(path, "wb") as f:
            f.write(mutant)
        try:
            tensors = wsgguf.load_file(path)
        except ws.FormatError:
            continue
        loaded += 1
        assert all(isinstance(a, np.ndarray) for a in tensors.values())
    assert loaded > 0


def test_top_level_load_file_reads_gguf_by_magic(tmp_path):
    """ws.load_file dispatches on the magic, whatever the file is called."""
    path = tmp_path / "weights.bin"
    writer = gguf.GGUFWriter(str(path), "llama")
    data = np.arange(24, dtype=np.float32).reshape(4, 6)
    writer.add_tensor("w", data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    loaded = ws.load_file(path)
    assert list(loaded) == ["w"]
    np.testing.assert_array_equal(loaded["w"], data)


def test_gguf_sha256_verified_while_loading(tmp_path):
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.name", "x" * 100)  # metadata bytes are hashed too
    writer.add_tensor("a", np.ones((3, 5), np.float32))
    writer.add_tensor("b", np.arange(7, dtype=np.int8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    assert set(ws.load_file(path, sha256=good)) == {"a", "b"}
    with pytest.raises(ws.IntegrityError):
        ws.gguf.load_file(path, sha256="0" * 64)
    data = bytearray(path.read_bytes())
    data[data.index(b"x" * 100) + 3] = ord("y")  # only metadata changes
    path.write_bytes(bytes(data))
    ws.load_file(path)
    with pytest.raises(ws.IntegrityError):
        ws.load_file(path, sha256=good)
