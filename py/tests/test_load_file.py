"""load_file: byte-for-byte agreement with safetensors for every dtype and shape."""

from __future__ import annotations

import gc
import os
import pathlib
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest
import safetensors
import weightstream as ws
from conftest import (
    ALL_DTYPES,
    NUMPY_DTYPES,
    PACKED_BITS,
    all_dtypes_file,
    nbytes,
    np_bytes,
    owns_memory_chain_ok,
    packed_numpy_shape,
    random_bytes,
    raw_safetensors,
    reference_tensors,
    sample_array,
    sample_shape,
    save_numpy,
    torch_bytes,
    torch_dtype,
    write_bytes,
)

# Dtypes safetensors' own numpy reader returns (it has no numpy type for F8/F4/F6).
REFERENCE_NUMPY_DTYPES = [
    "BOOL", "U8", "I8", "I16", "U16", "F16", "BF16",
    "I32", "U32", "F32", "I64", "U64", "F64", "C64",
]  # fmt: skip


def _one_dtype_file(tmp_path, rng, dtype: str, shape=None) -> str:
    shape = sample_shape(dtype) if shape is None else shape
    if dtype in PACKED_BITS:
        payload = random_bytes(rng, nbytes(dtype, shape))
    else:
        payload = sample_array(rng, dtype, shape).tobytes()
    return write_bytes(
        tmp_path / f"{dtype.lower()}.safetensors",
        raw_safetensors([("t", dtype, list(shape), payload)]),
    )


def _assert_no_raw_warning(record) -> None:
    raw = [w for w in record if issubclass(w.category, ws.RawBytesWarning)]
    assert not raw, [str(w.message) for w in raw]


# --------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["numpy", "np"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_numpy_dtype_bytes_match_reference(tmp_path, rng, dtype, framework):
    path = _one_dtype_file(tmp_path, rng, dtype)
    ref_dtype, ref_shape, ref_bytes = reference_tensors(path)["t"]
    assert ref_dtype == dtype

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        loaded = ws.load_file(path, framework=framework)
    assert list(loaded) == ["t"]
    array = loaded["t"]
    assert isinstance(array, np.ndarray)
    assert np_bytes(array) == ref_bytes

    if dtype in PACKED_BITS:
        assert array.dtype == np.uint8
        assert array.shape == packed_numpy_shape(dtype, ref_shape)
        raw = [w for w in record if issubclass(w.category, ws.RawBytesWarning)]
        assert len(raw) == 1
        message = str(raw[0].message)
        assert "t" in message and dtype in message
        # Points at the caller, not into the package.
        assert raw[0].filename == __file__
    else:
        assert array.dtype == NUMPY_DTYPES[dtype]
        assert array.shape == ref_shape
        _assert_no_raw_warning(record)


@pytest.mark.parametrize("dtype", REFERENCE_NUMPY_DTYPES)
def test_numpy_matches_safe_open_np(tmp_path, rng, dtype):
    path = _one_dtype_file(tmp_path, rng, dtype)
    with safetensors.safe_open(path, framework="np") as f:
        expected = f.get_tensor("t")
    array = ws.load_file(path)["t"]
    assert array.dtype == expected.dtype
    assert array.shape == expected.shape
    assert np_bytes(array) == np_bytes(expected)


def test_reference_written_file_every_whole_byte_dtype(tmp_path, rng):
    tensors = {
        f"{dtype.lower()}.weight": sample_array(rng, dtype, (4, 3, 2)) for dtype in NUMPY_DTYPES
    }
    path = save_numpy(tmp_path / "all.safetensors", tensors, metadata={"k": "v"})
    loaded = ws.load_file(path)
    assert list(loaded) == sorted(tensors)
    for name, expected in tensors.items():
        assert loaded[name].dtype == expected.dtype, name
        assert loaded[name].shape == expected.shape, name
        assert np_bytes(loaded[name]) == np_bytes(expected), name


def test_all_dtypes_in_one_file_warns_once(tmp_path, rng):
    path = all_dtypes_file(tmp_path / "all.safetensors", rng)
    reference = reference_tensors(path)
    with pytest.warns(ws.RawBytesWarning) as record:
        loaded = ws.load_file(path)
    raw = [w for w in record if issubclass(w.category, ws.RawBytesWarning)]
    assert len(raw) == 1
    for dtype in PACKED_BITS:
        assert dtype in str(raw[0].message)
    assert sorted(loaded) == sorted(reference)
    for name, (_, _, ref_bytes) in reference.items():
        assert np_bytes(loaded[name]) == ref_bytes, name


def test_f4_odd_last_dimension_is_flat_bytes(tmp_path, rng):
    payload = random_bytes(rng, 6)
    path = write_bytes(tmp_path / "f4.safetensors", raw_safetensors([("t", "F4", [4, 3], payload)]))
    with pytest.warns(ws.RawBytesWarning):
        array = ws.load_file(path)["t"]
    assert array.dtype == np.uint8
    assert array.shape == (6,)
    assert array.tobytes() == payload


# --------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["torch", "pt"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_torch_dtype_bytes_match_reference(tmp_path, rng, dtype, framework):
    torch = pytest.importorskip("torch")
    path = _one_dtype_file(tmp_path, rng, dtype)
    _, ref_shape, ref_bytes = reference_tensors(path)["t"]
    expected_dtype = torch_dtype(dtype)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        loaded = ws.load_file(path, framework=framework)
    tensor = loaded["t"]
    assert isinstance(tensor, torch.Tensor)
    assert tensor.device.type == "cpu"
    assert tensor.is_contiguous()
    assert torch_bytes(tensor) == ref_bytes

    if expected_dtype is None:  # F6 (or F4 on a torch without float4)
        assert tensor.dtype == torch.uint8
        assert tuple(tensor.shape) == packed_numpy_shape(dtype, ref_shape)
        raw = [w for w in record if issubclass(w.category, ws.RawBytesWarning)]
        assert len(raw) == 1 and dtype in str(raw[0].message)
        return
    _assert_no_raw_warning(record)
    assert tensor.dtype == expected_dtype
    if dtype == "F4":
        assert tuple(tensor.shape) == ref_shape[:-1] + (ref_shape[-1] // 2,)
    else:
        assert tuple(tensor.shape) == ref_shape

    # The reference reader agrees on dtype, shape and bytes.
    with safetensors.safe_open(path, framework="pt") as f:
        expected = f.get_tensor("t")
    assert tensor.dtype == expected.dtype
    assert tensor.shape == expected.shape
    assert torch_bytes(tensor) == torch_bytes(expected)


def test_torch_reference_written_file(tmp_path):
    torch = pytest.importorskip("torch")
    from conftest import save_torch

    g = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(7, 5, generator=g),
        "bf16": torch.randn(6, 4, generator=g).to(torch.bfloat16),
        "f16": torch.randn(3, generator=g).to(torch.float16),
        "i64": torch.arange(12).reshape(3, 4),
        "bool": torch.tensor([True, False, True]),
        "f8": torch.randn(4, 4, generator=g).to(torch.float8_e4m3fn),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
    }
    if hasattr(torch, "float4_e2m1fn_x2"):
        tensors["f4"] = torch.randint(0, 256, (3, 4), dtype=torch.uint8, generator=g).view(
            torch.float4_e2m1fn_x2
        )
    path = save_torch(tmp_path / "pt.safetensors", tensors)
    loaded = ws.load_file(path, framework="pt")
    assert list(loaded) == sorted(tensors)
    for name, expected in tensors.items():
        assert loaded[name].dtype == expected.dtype, name
        assert loaded[name].shape == expected.shape, name
        assert torch_bytes(loaded[name]) == torch_bytes(expected), name


def test_torch_tensors_are_writable_and_owned(tmp_path, rng):
    torch = pytest.importorskip("torch")
    array = rng.standard_normal((32, 16)).astype(np.float32)
    path = save_numpy(tmp_path / "w.safetensors", {"w": array})
    tensor = ws.load_file(path, framework="torch")["w"]
    os.remove(path)
    gc.collect()
    assert torch_bytes(tensor) == array.tobytes()
    tensor.add_(1.0)  # writable, no warning about non-writable buffers
    assert torch.equal(tensor, torch.from_numpy(array) + 1.0)


# --------------------------------------------------------------------------
# shapes and counts
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["F32", "BF16", "I64", "BOOL", "F8_E5M2", "C64", "U16"])
def test_scalars(tmp_path, rng, dtype):
    path = _one_dtype_file(tmp_path, rng, dtype, shape=())
    ref_dtype, ref_shape, ref_bytes = reference_tensors(path)["t"]
    array = ws.load_file(path)["t"]
    assert ref_shape == ()
    assert array.shape == ()
    assert array.dtype == NUMPY_DTYPES[dtype]
    assert np_bytes(array) == ref_bytes


@pytest.mark.parametrize(
    "dtype,shape",
    [
        ("F32", (0,)),
        ("F32", (3, 0)),
        ("I8", (0, 5, 2)),
        ("BF16", (2, 0, 4)),
        ("F4", (0,)),
        ("F4", (0, 4)),
        ("F6_E2M3", (0,)),
    ],
)
def test_zero_size_tensors(tmp_path, dtype, shape):
    path = write_bytes(
        tmp_path / "z.safetensors",
        raw_safetensors(
            [("a", "F32", [2], b"\x00\x00\x80\x3f" * 2), ("z", dtype, list(shape), b"")]
        ),
    )
    reference = reference_tensors(path)
    assert reference["z"][2] == b""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ws.RawBytesWarning)
        loaded = ws.load_file(path)
    assert loaded["z"].size == 0
    if dtype in PACKED_BITS:
        assert loaded["z"].shape == packed_numpy_shape(dtype, shape)
    else:
        assert loaded["z"].shape == shape
    assert np_bytes(loaded["a"]) == reference["a"][2]


def test_only_zero_size_tensors(tmp_path):
    path = save_numpy(
        tmp_path / "empty.safetensors",
        {"a": np.zeros((0,), np.float32), "b": np.zeros((4, 0), np.int64)},
    )
    loaded = ws.load_file(path)
    assert loaded["a"].shape == (0,) and loaded["a"].dtype == np.float32
    assert loaded["b"].shape == (4, 0) and loaded["b"].dtype == np.int64


def test_file_without_tensors(tmp_path):
    path = write_bytes(tmp_path / "none.safetensors", raw_safetensors([], metadata={"a": "b"}))
    assert reference_tensors(path) == {}
    assert ws.load_file(path) == {}


def test_metadata_does_not_change_tensors(tmp_path, rng):
    tensors = {"x": rng.standard_normal((4, 4)).astype(np.float32)}
    path = save_numpy(
        tmp_path / "m.safetensors", tensors, metadata={"format": "pt", "ünïcode": "✓ value"}
    )
    loaded = ws.load_file(path)
    assert list(loaded) == ["x"]
    assert np_bytes(loaded["x"]) == tensors["x"].tobytes()


def test_many_small_tensors(tmp_path, rng):
    dtypes = list(NUMPY_DTYPES)
    tensors = {}
    for i in range(300):
        dtype = dtypes[i % len(dtypes)]
        shape = tuple(int(d) for d in rng.integers(0, 5, size=i % 4))
        tensors[f"model.layers.{i}.w"] = sample_array(rng, dtype, shape)
    path = save_numpy(tmp_path / "many.safetensors", tensors)
    reference = reference_tensors(path)
    loaded = ws.load_file(path, concurrency=4)
    assert list(loaded) == sorted(tensors)
    for name, (_, shape, ref_bytes) in reference.items():
        assert loaded[name].shape == shape, name
        assert loaded[name].dtype == tensors[name].dtype, name
        assert np_bytes(loaded[name]) == ref_bytes, name


def test_tensor_larger_than_chunk_is_split(tmp_path, rng):
    big = rng.standard_normal((517, 263)).astype(np.float32)  # ~530 KiB, odd size
    tensors = {
        "before": np.arange(7, dtype=np.int16),
        "big": big,
        "after": rng.standard_normal(1001).astype(np.float64),
    }
    path = save_numpy(tmp_path / "big.safetensors", tensors)
    reference = reference_tensors(path)
    for concurrency, chunk in [(3, 4096), (1, 4096), (3, 1000), (8, 1 << 20)]:
        loaded = ws.load_file(path, concurrency=concurrency, chunk_size=chunk)
        for name, (_, shape, ref_bytes) in reference.items():
            assert loaded[name].shape == shape
            assert np_bytes(loaded[name]) == ref_bytes, (name, concurrency, chunk)


def test_keys_sorted_regardless_of_file_order(tmp_path):
    entries = [
        (name, "U8", [2], bytes([i, i]))
        for i, name in enumerate(["zeta", "alpha", "mu", "Beta", "a.10", "a.2"])
    ]
    path = write_bytes(tmp_path / "order.safetensors", raw_safetensors(entries))
    loaded = ws.load_file(path)
    assert list(loaded) == sorted(name for name, *_ in entries)
    for i, (name, *_) in enumerate(entries):
        assert loaded[name].tobytes() == bytes([i, i])


# --------------------------------------------------------------------------
# what the returned arrays are
# --------------------------------------------------------------------------


def _check_array_properties(array: np.ndarray) -> None:
    assert array.flags.c_contiguous
    assert array.flags.writeable
    assert owns_memory_chain_ok(array)


def test_arrays_contiguous_writable_and_survive_file_deletion(tmp_path, rng):
    tensors = {
        "a": rng.standard_normal((64, 32)).astype(np.float32),
        "b": rng.integers(0, 1000, size=(100,)).astype(np.int64),
        "c": rng.standard_normal((3, 3)).astype(ml_dtypes.bfloat16),
    }
    path = save_numpy(tmp_path / "own.safetensors", tensors)
    loaded = ws.load_file(path)
    os.remove(path)
    # Another file at the same path must not show through either.
    save_numpy(path, {k: np.zeros_like(v) for k, v in tensors.items()})
    gc.collect()
    for name, expected in tensors.items():
        _check_array_properties(loaded[name])
        assert np_bytes(loaded[name]) == np_bytes(expected), name

    # Writing into one array changes nothing else, and a new load is unaffected.
    loaded["a"][:] = 0
    assert np_bytes(loaded["b"]) == np_bytes(tensors["b"])
    assert not np.shares_memory(loaded["a"], loaded["b"])


def test_arrays_survive_handle_close(tmp_path, rng):
    tensors = {"a": rng.standard_normal((50, 10)).astype(np.float32)}
    path = save_numpy(tmp_path / "h.safetensors", tensors)
    with ws.open(path) as f:
        a = f.get_tensor("a")
        s = f.get_slice("a")[3:9]
        everything = f.get_tensors()
    del f
    os.remove(path)
    gc.collect()
    for array in (a, s, everything["a"]):
        _check_array_properties(array)
    assert np_bytes(a) == tensors["a"].tobytes()
    assert np_bytes(everything["a"]) == tensors["a"].tobytes()
    assert np_bytes(s) == tensors["a"][3:9].tobytes()


def test_arrays_survive_streamer_close(tmp_path, rng):
    tensors = {f"t{i}": rng.standard_normal((20, i + 1)).astype(np.float32) for i in range(10)}
    path = save_numpy(tmp_path / "s.safetensors", tensors)
    streamer = ws.SafetensorsStreamer(concurrency=2, memory_limit=4096)
    streamer.stream_files([path])
    got = dict(streamer.get_tensors())
    streamer.close()
    del streamer
    os.remove(path)
    gc.collect()
    assert sorted(got) == sorted(tensors)
    for name, expected in tensors.items():
        _check_array_properties(got[name])
        assert np_bytes(got[name]) == expected.tobytes(), name


def test_loading_twice_gives_independent_arrays(small_file):
    first = ws.load_file(small_file)
    second = ws.load_file(small_file)
    for name in first:
        assert not np.shares_memory(first[name], second[name])
        assert np_bytes(first[name]) == np_bytes(second[name])


# --------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------


def test_path_types(small_file):
    expected = ws.load_file(small_file)
    for p in (pathlib.Path(small_file), os.fsencode(small_file).decode()):
        loaded = ws.load_file(p)
        assert list(loaded) == list(expected)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs byte file names")
def test_file_name_not_utf8(tmp_path, rng):
    """Any name the OS accepts works, including bytes that are not UTF-8."""
    array = rng.standard_normal(6).astype(np.float32)
    directory = tmp_path / os.fsdecode(b"dir-\xff")
    directory.mkdir()
    path = os.path.join(directory, os.fsdecode(b"model-\xfe\xff.safetensors"))
    save_numpy(path, {"a": array})
    assert np_bytes(ws.load_file(path)["a"]) == array.tobytes()
    assert np_bytes(ws.load_file(directory)["a"]) == array.tobytes()
    with ws.open(path) as f:
        assert np_bytes(f.get_tensor("a")) == array.tobytes()
    # Errors about such a file still raise the right type.
    write_bytes(path, b"123")
    with pytest.raises(ws.FormatError):
        ws.load_file(path)


@pytest.mark.parametrize("framework", ["tensorflow", "jax", "", "NUMPY", None])
def test_invalid_framework(small_file, framework):
    with pytest.raises(ValueError, match="framework"):
        ws.load_file(small_file, framework=framework)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", "meta"])
def test_non_cpu_device_rejected(small_file, device):
    with pytest.raises(ValueError, match="device"):
        ws.load_file(small_file, device=device)


def test_cpu_device_accepted(small_file):
    assert ws.load_file(small_file, device="cpu").keys() == ws.load_file(small_file).keys()
    assert ws.load_file(small_file, device=None).keys() == ws.load_file(small_file).keys()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "4"])
def test_invalid_concurrency_and_chunk_size(small_file, bad):
    with pytest.raises(ValueError, match="concurrency"):
        ws.load_file(small_file, concurrency=bad)
    with pytest.raises(ValueError, match="chunk_size"):
        ws.load_file(small_file, chunk_size=bad)
