#!/usr/bin/env python3
"""Regenerates the hand-written seed corpora under fuzz/corpus/.

    source .venv/bin/activate && python fuzz/gen_seeds.py

Seeds come from the reference writers (the `safetensors` package, gguf-py's
GGUFWriter) and from hand-built edge cases. Their names state what the parsers
must do with them, and the replay test (fuzz/replay_test.cc) holds them to it:

    valid-*    must be accepted
    invalid-*  must be rejected
    anything else (regress-*, units merged in by tools/fuzz.sh --merge): only
               must not crash or break the contract

Every valid-* safetensors seed is also checked against the reference reader;
invalid-* ones must be rejected by it too, except where weightstream is
deliberately stricter (marked `stricter`). Only files this script writes are
replaced; merged-in and regression files are left alone.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ST_DIR = os.path.join(HERE, "corpus", "safetensors")
GGUF_DIR = os.path.join(HERE, "corpus", "gguf")
rng = np.random.default_rng(0)


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- safetensors


def st_raw(header, data=b"", pad=True):
    """A safetensors file from header JSON (str, or an object to dump)."""
    if not isinstance(header, (str, bytes)):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode()
    if pad:
        header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def reference_accepts(data):
    import safetensors

    try:
        safetensors.deserialize(data)
        return True
    except Exception:  # noqa: BLE001 - any rejection
        return False


def safetensors_seeds():
    import safetensors.numpy
    import safetensors.torch
    import torch

    seeds = {}  # name -> (bytes, stricter)

    def t(shape, dtype):
        return torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(dtype)

    # From the reference writer.
    seeds["valid-empty.safetensors"] = safetensors.torch.save({})
    seeds["valid-f32-vector.safetensors"] = safetensors.torch.save({"w": t((4,), torch.float32)})
    seeds["valid-f16-bf16-2d.safetensors"] = safetensors.torch.save(
        {"a.weight": t((2, 3), torch.float16), "a.bias": t((3,), torch.bfloat16)}
    )
    seeds["valid-ints-bool.safetensors"] = safetensors.torch.save(
        {
            "u8": torch.arange(5, dtype=torch.uint8),
            "i8": torch.arange(3, dtype=torch.int8),
            "i16": torch.arange(2, dtype=torch.int16),
            "i32": torch.arange(2, dtype=torch.int32),
            "i64": torch.arange(2, dtype=torch.int64),
            "b": torch.tensor([True, False, True]),
        }
    )
    seeds["valid-f64-c64-4d.safetensors"] = safetensors.torch.save(
        {"d": t((1, 2, 1, 2), torch.float64), "c": torch.zeros(2, dtype=torch.complex64)}
    )
    seeds["valid-fp8.safetensors"] = safetensors.torch.save(
        {
            "e4m3": t((4,), torch.float8_e4m3fn),
            "e5m2": t((4,), torch.float8_e5m2),
            "e8m0": torch.ones(4).to(torch.float8_e8m0fnu),
            "e4m3fnuz": t((2,), torch.float8_e4m3fnuz),
            "e5m2fnuz": t((2,), torch.float8_e5m2fnuz),
        }
    )
    seeds["valid-unsigned-numpy.safetensors"] = safetensors.numpy.save(
        {
            "u16": np.arange(3, dtype=np.uint16),
            "u32": np.arange(2, dtype=np.uint32),
            "u64": np.arange(1, dtype=np.uint64),
        }
    )
    # (The reference writer orders metadata keys differently from run to run.)
    seeds["valid-metadata.safetensors"] = safetensors.torch.save(
        {"x": t((2, 2), torch.float32)},
        metadata={"format": "pt", "note": "caf\u00e9 \u2603", "empty": ""},
    )
    seeds["valid-zero-size.safetensors"] = safetensors.torch.save(
        {
            "empty": torch.zeros(0),
            "empty2d": torch.zeros(3, 0, dtype=torch.float16),
            "one": torch.ones(1),
        }
    )
    seeds["valid-scalar.safetensors"] = safetensors.torch.save({"s": torch.tensor(1.5)})
    seeds["valid-many-tensors.safetensors"] = safetensors.torch.save(
        {f"layers.{i}.w": t((i + 1,), torch.bfloat16) for i in range(12)}
    )

    # Hand-built: shapes of every kind the format allows.
    def entry(dtype, shape, begin, end):
        return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}

    seeds["valid-subbyte.safetensors"] = st_raw(
        {
            "f4": entry("F4", [4], 0, 2),
            "e2m3": entry("F6_E2M3", [4], 2, 5),
            "e3m2": entry("F6_E3M2", [2, 4], 5, 11),
        },
        bytes(11),
    )
    seeds["valid-metadata-only.safetensors"] = st_raw({"__metadata__": {"k": "v"}})
    seeds["valid-metadata-null.safetensors"] = st_raw(
        '{"__metadata__":null,"a":' + json.dumps(entry("U8", [2], 0, 2)) + "}", b"ab"
    )
    seeds["valid-unpadded.safetensors"] = st_raw({"a": entry("I8", [1], 0, 1)}, b"\x01", pad=False)
    seeds["valid-keys-unsorted.safetensors"] = st_raw(
        {"z": entry("U8", [1], 0, 1), "a": entry("U8", [2], 1, 3), "m": entry("U8", [0], 3, 3)},
        b"abc",
    )
    seeds["valid-names.safetensors"] = st_raw(
        '{"":'
        + json.dumps(entry("U8", [1], 0, 1))
        + ',"\\u00e9\\n\\"\\\\/\\ud83d\\ude00":'
        + json.dumps(entry("U8", [1], 1, 2))
        + ',"__metadata__x":'
        + json.dumps(entry("U8", [0], 2, 2))
        + "}",
        b"ab",
    )
    seeds["valid-whitespace.safetensors"] = st_raw(
        '{ "a" :\n\t{"shape":[ 2 ],"data_offsets":[0,2] , "dtype":"U8"}\r\n}', b"ab"
    )
    seeds["valid-zero-dim-huge.safetensors"] = st_raw(
        {"a": entry("F64", [0, 18446744073709551615], 0, 0)}
    )

    # Hand-built: what must be rejected.
    one = entry("U8", [1], 0, 1)
    seeds["invalid-too-short.safetensors"] = b"\x02\x00\x00"
    seeds["invalid-length-past-end.safetensors"] = struct.pack("<Q", 100) + b"{}"
    seeds["invalid-length-over-limit.safetensors"] = struct.pack("<Q", 100_000_001) + b"{}"
    seeds["invalid-not-object.safetensors"] = st_raw("[]")
    seeds["invalid-garbage.safetensors"] = st_raw('{"a":')
    seeds["invalid-trailing.safetensors"] = st_raw("{} x")
    seeds["invalid-nul.safetensors"] = st_raw(b'{"a\x00b":' + json.dumps(one).encode() + b"}", b"a")
    seeds["invalid-overlap.safetensors"] = st_raw(
        {"a": entry("U8", [2], 0, 2), "b": entry("U8", [2], 1, 3)}, b"abc"
    )
    seeds["invalid-gap.safetensors"] = st_raw(
        {"a": entry("U8", [1], 0, 1), "b": entry("U8", [1], 2, 3)}, b"abc"
    )
    seeds["invalid-uncovered-data.safetensors"] = st_raw({"a": one}, b"ab")
    seeds["invalid-truncated-data.safetensors"] = st_raw({"a": entry("F32", [2], 0, 8)}, b"abcd")
    seeds["invalid-size-mismatch.safetensors"] = st_raw({"a": entry("F32", [2], 0, 4)}, b"abcd")
    seeds["invalid-subbyte-odd.safetensors"] = st_raw({"a": entry("F4", [3], 0, 2)}, b"ab")
    seeds["invalid-dtype-case.safetensors"] = st_raw({"a": entry("u8", [1], 0, 1)}, b"a")
    seeds["invalid-dtype-unknown.safetensors"] = st_raw({"a": entry("F128", [1], 0, 16)}, bytes(16))
    seeds["invalid-shape-negative.safetensors"] = st_raw({"a": entry("U8", [-1], 0, 1)}, b"a")
    seeds["invalid-shape-float.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-shape-overflow.safetensors"] = st_raw(
        {"a": entry("F32", [4294967296, 4294967296], 0, 0)}
    )
    seeds["invalid-bytes-overflow.safetensors"] = st_raw(
        {"a": entry("F64", [2305843009213693952], 0, 0)}
    )
    seeds["invalid-offsets-reversed.safetensors"] = st_raw({"a": entry("U8", [0], 1, 0)}, b"a")
    seeds["invalid-offsets-three.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', b"a"
    )
    seeds["invalid-offset-huge.safetensors"] = st_raw(
        {"a": entry("U8", [1], 18446744073709551615, 0)}, b"a"
    )
    seeds["invalid-dtype-not-string.safetensors"] = st_raw(
        '{"a":{"dtype":8,"shape":[1],"data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-shape-not-array.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-offsets-not-array.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":{}}}', b"a"
    )
    seeds["invalid-offset-negative.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', b"a"
    )
    seeds["invalid-missing-shape.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-missing-offsets.safetensors"] = st_raw('{"a":{"dtype":"U8","shape":[1]}}', b"a")
    seeds["invalid-missing-dtype.safetensors"] = st_raw(
        '{"a":{"shape":[1],"data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-entry-not-object.safetensors"] = st_raw('{"a":[1]}', b"a")
    seeds["invalid-metadata-number.safetensors"] = st_raw('{"__metadata__":{"k":1}}')
    seeds["invalid-metadata-list.safetensors"] = st_raw('{"__metadata__":["k"]}')
    seeds["invalid-deep.safetensors"] = st_raw('{"__metadata__":' + "[" * 200 + "]" * 200 + "}")
    seeds["invalid-bad-utf8.safetensors"] = st_raw(
        b'{"\xff":' + json.dumps(one).encode() + b"}", b"a"
    )
    seeds["invalid-duplicate-field.safetensors"] = st_raw(
        '{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a"
    )
    seeds["invalid-lone-surrogate.safetensors"] = st_raw(
        '{"\\ud800":' + json.dumps(one) + "}", b"a"
    )
    # Accepted by the reference reader, rejected by design here.
    stricter = {
        "invalid-duplicate-tensor.safetensors": st_raw(
            '{"a":' + json.dumps(one) + ',"a":' + json.dumps(one) + "}", b"a"
        ),
        "invalid-leading-space.safetensors": st_raw(' {"a":' + json.dumps(one) + "}", b"a"),
    }

    out = {name: (data, False) for name, data in seeds.items()}
    out.update({name: (data, True) for name, data in stricter.items()})
    for name, (data, is_stricter) in out.items():
        ref = reference_accepts(data)
        if name.startswith("valid-") and not ref:
            sys.exit(f"{name}: the reference reader rejects a valid seed")
        if name.startswith("invalid-") and ref != is_stricter:
            verdict = "accepts" if ref else "rejects"
            sys.exit(f"{name}: the reference reader {verdict} it; update `stricter`")

    # Bare header JSON: the fuzz target also parses inputs starting with '{'
    # as a header for a file without data, which lets mutations skip the
    # length prefix.
    out["json-metadata-and-zero-size"] = (
        json.dumps({"__metadata__": {"format": "pt"}, "a": entry("BF16", [0, 4], 0, 0)}).encode(),
        False,
    )
    out["json-all-dtypes"] = (
        json.dumps(
            {
                d: entry(d, [2, 4], 0, 0)
                for d in [
                    "BOOL",
                    "U8",
                    "I8",
                    "F8_E5M2",
                    "F8_E4M3",
                    "F8_E8M0",
                    "F8_E4M3FNUZ",
                    "F8_E5M2FNUZ",
                    "I16",
                    "U16",
                    "F16",
                    "BF16",
                    "I32",
                    "U32",
                    "F32",
                    "I64",
                    "U64",
                    "F64",
                    "C64",
                    "F4",
                    "F6_E2M3",
                    "F6_E3M2",
                ]
            }
        ).encode(),
        False,
    )
    return out


# ----------------------------------------------------------------------- GGUF


def gguf_bytes(build, endianess=None, arch="llama"):
    import gguf

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.gguf")
        kwargs = {} if endianess is None else {"endianess": endianess}
        w = gguf.GGUFWriter(path, arch, **kwargs)
        build(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        with open(path, "rb") as f:
            return f.read()


def gguf_seeds():
    import gguf

    Q = gguf.GGMLQuantizationType
    seeds = {}

    seeds["valid-arch-only.gguf"] = gguf_bytes(lambda w: None)

    def scalars(w):
        w.add_uint8("t.u8", 200)
        w.add_int8("t.i8", -100)
        w.add_uint16("t.u16", 60000)
        w.add_int16("t.i16", -30000)
        w.add_uint32("t.u32", 4_000_000_000)
        w.add_int32("t.i32", -2_000_000_000)
        w.add_float32("t.f32", 1.5)
        w.add_uint64("t.u64", 2**64 - 1)
        w.add_int64("t.i64", -(2**63))
        w.add_float64("t.f64", -0.25)
        w.add_bool("t.bool", True)
        w.add_string("t.str", "caf\u00e9 \u2603")
        w.add_name("seed")

    seeds["valid-metadata-scalars.gguf"] = gguf_bytes(scalars)

    def arrays(w):
        w.add_array("a.ints", [1, 2, 3])
        w.add_array("a.floats", [0.5, -1.0])
        w.add_array("a.bools", [True, False])
        w.add_array("a.strs", ["<s>", "</s>", "\u2581the", ""])
        w.add_key_value(
            "a.u8s", [1, 2, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8
        )
        w.add_key_value(
            "a.i64s", [-1, 2**40], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.INT64
        )
        w.add_array("a.nested", [[1, 2], [3]])
        w.add_token_list(["a", "b", "c"])
        w.add_token_scores([0.0, -1.0, -2.0])
        w.add_token_types([1, 1, 3])

    seeds["valid-metadata-arrays.gguf"] = gguf_bytes(arrays)

    def plain(w):
        w.add_tensor("f32", rng.standard_normal((2, 3)).astype(np.float32))
        w.add_tensor("f16", rng.standard_normal((5,)).astype(np.float16))
        w.add_tensor("f64", rng.standard_normal((1, 2, 1, 2)).astype(np.float64))
        w.add_tensor("i8", np.arange(7, dtype=np.int8))
        w.add_tensor("i16", np.arange(3, dtype=np.int16))
        w.add_tensor("i32", np.arange(3, dtype=np.int32))
        w.add_tensor("i64", np.arange(2, dtype=np.int64))
        w.add_tensor("bf16", np.zeros((4,), dtype=np.uint16), raw_dtype=Q.BF16, raw_shape=(4,))

    seeds["valid-tensors-plain.gguf"] = gguf_bytes(plain)

    def quantized(types):
        def build(w):
            w.add_file_type(2)
            w.add_quantization_version(2)
            for q in types:
                block, size = gguf.GGML_QUANT_SIZES[q]
                rows = 2 if block == 32 else 1
                raw = rng.integers(
                    0, 256, (rows, size * (64 // block if block <= 64 else 1)), dtype=np.uint8
                )
                w.add_tensor(f"blk.0.{q.name.lower()}", raw, raw_dtype=q)

        return build

    seeds["valid-tensors-quant-legacy.gguf"] = gguf_bytes(
        quantized([Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.IQ4_NL])
    )
    seeds["valid-tensors-quant-k.gguf"] = gguf_bytes(
        quantized([Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.Q8_K])
    )
    seeds["valid-tensors-quant-iq.gguf"] = gguf_bytes(
        quantized(
            [
                Q.IQ2_XXS,
                Q.IQ2_XS,
                Q.IQ3_XXS,
                Q.IQ1_S,
                Q.IQ3_S,
                Q.IQ2_S,
                Q.IQ4_XS,
                Q.IQ1_M,
                Q.TQ1_0,
                Q.TQ2_0,
                Q.MXFP4,
            ]
        )
    )

    def aligned(w):
        w.add_custom_alignment(64)
        w.add_tensor("a", np.arange(3, dtype=np.float32))
        w.add_tensor("b", np.arange(5, dtype=np.int8))

    seeds["valid-alignment-64.gguf"] = gguf_bytes(aligned)

    def packed(w):
        # Alignment 1: tensors end and start on odd bytes, next to each other.
        w.add_custom_alignment(1)
        w.add_tensor("a", np.arange(3, dtype=np.int8))
        w.add_tensor("b", np.arange(5, dtype=np.int8))
        w.add_tensor("c", np.zeros((0,), dtype=np.int8))
        w.add_tensor("d", np.arange(1, dtype=np.int16))

    seeds["valid-alignment-1.gguf"] = gguf_bytes(packed)

    def zero_size(w):
        w.add_tensor("empty", np.zeros((0,), dtype=np.float32))
        w.add_tensor("one", np.ones((1,), dtype=np.float32))

    seeds["valid-zero-size.gguf"] = gguf_bytes(zero_size)

    # Big-endian files exist (s390x); gguf.h rejects them.
    seeds["invalid-bigendian.gguf"] = gguf_bytes(plain, endianess=gguf.GGUFEndian.BIG)

    # Hand-built damage to a valid file.
    base = seeds["valid-tensors-plain.gguf"]
    seeds["invalid-magic.gguf"] = b"GGUG" + base[4:]
    seeds["invalid-truncated-header.gguf"] = base[:23]
    last = max(gguf.GGUFReader(_tmpfile(base)).tensors, key=lambda t: t.data_offset)
    seeds["invalid-truncated-data.gguf"] = base[: last.data_offset + last.n_bytes - 1]
    seeds["invalid-version-99.gguf"] = base[:4] + struct.pack("<I", 99) + base[8:]
    seeds["invalid-huge-tensor-count.gguf"] = base[:8] + struct.pack("<Q", 2**62) + base[16:]
    seeds["invalid-huge-kv-count.gguf"] = base[:16] + struct.pack("<Q", 2**62) + base[24:]
    seeds["invalid-empty.gguf"] = b""

    seeds.update(gguf_handmade_seeds())

    for name, data in seeds.items():
        if name.startswith("valid-"):
            r = gguf.GGUFReader(_tmpfile(data))
            assert r.tensors is not None, name
    return {name: (data, False) for name, data in seeds.items()}


def gguf_raw(kvs=(), tensors=(), data=b"", version=3, alignment=32, pad=True):
    """GGUF bytes by hand: kvs are (key bytes, type, value bytes), tensors are
    (name bytes, dims, ggml type, offset)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += struct.pack("<Q", len(key)) + key + struct.pack("<I", vtype) + value
    for name, dims, gtype, offset in tensors:
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", gtype, offset)
    if pad:
        out += bytes(-len(out) % alignment)
    return out + data


def gguf_handmade_seeds():
    u32 = lambda v: struct.pack("<I", v)  # noqa: E731
    u64 = lambda v: struct.pack("<Q", v)  # noqa: E731
    string = lambda b: u64(len(b)) + b  # noqa: E731
    F32, I8, Q4_0 = 0, 24, 2
    ARRAY, STRING, BOOL, UINT8, UINT32, UINT64 = 9, 8, 7, 0, 4, 10

    def nested(levels):
        # `levels` arrays, each holding the next; the innermost is empty.
        return b"".join(u32(ARRAY) + u64(1) for _ in range(levels - 1)) + u32(UINT8) + u64(0)

    two = [(b"a", [4], F32, 32), (b"b", [8], I8, 0)]
    seeds = {
        "valid-v2.gguf": gguf_raw([(b"k", UINT32, u32(7))], version=2),
        "valid-no-tensors-unpadded.gguf": gguf_raw(
            [(b"general.name", STRING, string(b"x"))], pad=False
        ),
        "valid-deep-arrays-64.gguf": gguf_raw([(b"deep", ARRAY, nested(64))]),
        "valid-string-value-not-utf8.gguf": gguf_raw([(b"s", STRING, string(b"\xff\xfe"))]),
        "valid-tensors-unsorted.gguf": gguf_raw(tensors=two, data=bytes(48)),
        "valid-bool-array.gguf": gguf_raw([(b"b", ARRAY, u32(BOOL) + u64(3) + b"\x00\x01\x00")]),
        "invalid-v1.gguf": gguf_raw(version=1),
        "invalid-deep-arrays-65.gguf": gguf_raw([(b"deep", ARRAY, nested(65))]),
        "invalid-bool-2.gguf": gguf_raw([(b"b", BOOL, b"\x02")]),
        "invalid-bool-array-2.gguf": gguf_raw([(b"b", ARRAY, u32(BOOL) + u64(2) + b"\x01\x02")]),
        "invalid-value-type-13.gguf": gguf_raw([(b"k", 13, u32(0))]),
        "invalid-key-not-utf8.gguf": gguf_raw([(b"\xc0\x80", UINT8, b"\x01")]),
        "invalid-key-surrogate.gguf": gguf_raw([(b"\xed\xa0\x80", UINT8, b"\x01")]),
        "invalid-duplicate-key.gguf": gguf_raw([(b"k", UINT8, b"\x01"), (b"k", UINT8, b"\x02")]),
        "invalid-duplicate-tensor.gguf": gguf_raw(
            tensors=[(b"a", [4], F32, 0), (b"a", [4], F32, 32)], data=bytes(48)
        ),
        "invalid-tensor-name-not-utf8.gguf": gguf_raw(
            tensors=[(b"\xff", [4], F32, 0)], data=bytes(16)
        ),
        "invalid-overlap.gguf": gguf_raw(
            tensors=[(b"a", [8], F32, 0), (b"b", [4], F32, 0)], data=bytes(32)
        ),
        "invalid-alignment-3.gguf": gguf_raw([(b"general.alignment", UINT32, u32(3))], alignment=1),
        "invalid-alignment-0.gguf": gguf_raw([(b"general.alignment", UINT32, u32(0))], alignment=1),
        "invalid-alignment-uint64.gguf": gguf_raw([(b"general.alignment", UINT64, u64(32))]),
        "invalid-misaligned-offset.gguf": gguf_raw(tensors=[(b"a", [4], F32, 16)], data=bytes(64)),
        "invalid-partial-block.gguf": gguf_raw(tensors=[(b"q", [16], Q4_0, 0)], data=bytes(32)),
        "invalid-unknown-ggml-type.gguf": gguf_raw(tensors=[(b"q", [32], 4, 0)], data=bytes(32)),
        "invalid-nine-dims.gguf": gguf_raw(tensors=[(b"a", [1] * 9, I8, 0)], data=bytes(32)),
        "invalid-elements-overflow.gguf": gguf_raw(
            tensors=[(b"a", [2**32, 2**32], I8, 0)], data=bytes(32)
        ),
        "invalid-tensor-past-end.gguf": gguf_raw(tensors=[(b"a", [4], F32, 0)], data=bytes(15)),
        "invalid-offset-huge.gguf": gguf_raw(
            tensors=[(b"a", [4], F32, 2**64 - 32)], data=bytes(16)
        ),
        "invalid-string-length-huge.gguf": gguf_raw([(b"s", STRING, u64(2**63))]),
        "invalid-array-count-huge.gguf": gguf_raw([(b"a", ARRAY, u32(UINT64) + u64(2**61))]),
    }
    return seeds


_tmp = tempfile.mkdtemp()


def _tmpfile(data):
    path = os.path.join(_tmp, f"{len(os.listdir(_tmp))}.gguf")
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    total = 0
    for directory, seeds in ((ST_DIR, safetensors_seeds()), (GGUF_DIR, gguf_seeds())):
        for name, (data, _) in sorted(seeds.items()):
            write(directory, name, data)
            total += len(data)
        print(f"{directory}: {len(seeds)} seeds")
    print(f"{total} bytes written")


if __name__ == "__main__":
    main()
