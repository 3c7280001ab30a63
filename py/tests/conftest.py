"""Shared helpers for the weightstream test suite.

The suite runs against the *installed* package: it imports ``weightstream``
like any user would and creates every input file under ``tmp_path``.

Reference files are written with the reference library (``safetensors``);
dtypes it cannot write (F6_*, and F4 without torch) and malformed files are
hand-written with :func:`raw_safetensors`. Reference bytes come from
:func:`reference_tensors`, which uses ``safetensors.deserialize`` and so
covers every dtype safetensors 0.8 accepts.

Test modules import the helpers with ``from conftest import ...``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import safetensors
import safetensors.numpy

# Every dtype safetensors 0.8 accepts, in the order of its spec.
ALL_DTYPES = [
    "BOOL",
    "U8",
    "I8",
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
    "F8_E4M3",
    "F8_E5M2",
    "F8_E8M0",
    "F8_E4M3FNUZ",
    "F8_E5M2FNUZ",
    "F4",
    "F6_E2M3",
    "F6_E3M2",
]

# The numpy dtype weightstream returns for each whole-byte safetensors dtype.
NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "U16": np.dtype(np.uint16),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32),
    "F32": np.dtype(np.float32),
    "I64": np.dtype(np.int64),
    "U64": np.dtype(np.uint64),
    "F64": np.dtype(np.float64),
    "C64": np.dtype(np.complex64),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "F8_E8M0": np.dtype(ml_dtypes.float8_e8m0fnu),
    "F8_E4M3FNUZ": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "F8_E5M2FNUZ": np.dtype(ml_dtypes.float8_e5m2fnuz),
}

# Bits per element of the sub-byte dtypes.
PACKED_BITS = {"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}

# Dtypes numpy has no type for: they come back as packed uint8.
RAW_NUMPY_DTYPES = sorted(PACKED_BITS)

# torch dtype attribute names for each safetensors dtype torch can hold.
TORCH_DTYPE_NAMES = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "I16": "int16",
    "U16": "uint16",
    "F16": "float16",
    "BF16": "bfloat16",
    "I32": "int32",
    "U32": "uint32",
    "F32": "float32",
    "I64": "int64",
    "U64": "uint64",
    "F64": "float64",
    "C64": "complex64",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F4": "float4_e2m1fn_x2",
}


def dtype_bits(dtype: str) -> int:
    if dtype in PACKED_BITS:
        return PACKED_BITS[dtype]
    return NUMPY_DTYPES[dtype].itemsize * 8


def nbytes(dtype: str, shape: Iterable[int]) -> int:
    count = 1
    for d in shape:
        count *= d
    bits = count * dtype_bits(dtype)
    assert bits % 8 == 0, (dtype, shape)
    return bits // 8


# --------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------


def pack_safetensors(header: Any, data: bytes = b"", *, pad: bool = True) -> bytes:
    """8-byte little-endian header length + JSON header + data.

    `header` may be a dict (serialized compactly), a str or raw bytes (used
    verbatim, for malformed headers). With `pad`, the header is padded with
    spaces to a multiple of 8 bytes, as the reference writer does.
    """
    if isinstance(header, Mapping):
        text = json.dumps(header, separators=(",", ":")).encode()
    elif isinstance(header, str):
        text = header.encode()
    else:
        text = bytes(header)
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_safetensors(
    tensors: Iterable[tuple[str, str, list[int], bytes]]
    | Mapping[str, tuple[str, list[int], bytes]],
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """A valid safetensors file: tensors laid out back to back in the given order.

    `tensors` is a list of (name, dtype, shape, data) or {name: (dtype, shape, data)}.
    """
    if isinstance(tensors, Mapping):
        tensors = [(name, *spec) for name, spec in tensors.items()]
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    data = bytearray()
    for name, dtype, shape, payload in tensors:
        assert len(payload) == nbytes(dtype, shape), (name, dtype, shape, len(payload))
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [len(data), len(data) + len(payload)],
        }
        data += payload
    return pack_safetensors(header, bytes(data))


def write_bytes(path: os.PathLike[str] | str, content: bytes) -> str:
    with open(path, "wb") as f:
        f.write(content)
    return os.fspath(path)


def save_numpy(
    path: os.PathLike[str] | str,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Writes `tensors` with the reference writer (safetensors.numpy)."""
    safetensors.numpy.save_file(
        # Not np.ascontiguousarray: it would turn 0-d arrays into shape (1,).
        {k: v if v.flags.c_contiguous else v.copy(order="C") for k, v in tensors.items()},
        os.fspath(path),
        metadata=None if metadata is None else dict(metadata),
    )
    return os.fspath(path)


def save_torch(
    path: os.PathLike[str] | str,
    tensors: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Writes `tensors` with the reference writer (safetensors.torch)."""
    import safetensors.torch

    safetensors.torch.save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        os.fspath(path),
        metadata=None if metadata is None else dict(metadata),
    )
    return os.fspath(path)


# --------------------------------------------------------------------------
# Sample data
# --------------------------------------------------------------------------


def random_bytes(rng: np.random.Generator, n: int) -> bytes:
    return rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()


def sample_array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random data of a whole-byte dtype (any bit pattern, BOOL as 0/1)."""
    np_dtype = NUMPY_DTYPES[dtype]
    count = int(np.prod(shape, dtype=np.int64))
    if dtype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    raw = rng.integers(0, 256, size=count * np_dtype.itemsize, dtype=np.uint8)
    return raw.view(np_dtype).reshape(shape)


def sample_shape(dtype: str) -> tuple[int, ...]:
    # F4 with an even last dimension; F6 with 4 elements a group of 3 bytes.
    return (3, 8) if dtype in PACKED_BITS else (3, 5)


def all_dtypes_file(path: os.PathLike[str] | str, rng: np.random.Generator) -> str:
    """One tensor per dtype (named by it, lowercase), hand-written."""
    tensors = []
    for dtype in ALL_DTYPES:
        shape = sample_shape(dtype)
        if dtype in PACKED_BITS:
            payload = random_bytes(rng, nbytes(dtype, shape))
        else:
            payload = sample_array(rng, dtype, shape).tobytes()
        tensors.append((dtype.lower(), dtype, list(shape), payload))
    return write_bytes(path, raw_safetensors(tensors))


# --------------------------------------------------------------------------
# Reference reading and byte comparison
# --------------------------------------------------------------------------


def reference_tensors(
    path: os.PathLike[str] | str,
) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    """{name: (dtype, shape, bytes)} as the reference library parses the file."""
    with open(path, "rb") as f:
        content = f.read()
    return reference_from_bytes(content)


def reference_from_bytes(content: bytes) -> dict[str, tuple[str, tuple[int, ...], bytes]]:
    return {
        name: (v["dtype"], tuple(v["shape"]), bytes(v["data"]))
        for name, v in safetensors.deserialize(content)
    }


def np_bytes(array: np.ndarray) -> bytes:
    """The array's bytes in C order (works for 0-d and empty arrays too)."""
    assert isinstance(array, np.ndarray), type(array)
    return array.tobytes(order="C")


def torch_bytes(tensor: Any) -> bytes:
    """A torch tensor's bytes in C order, for any dtype."""
    import torch

    assert isinstance(tensor, torch.Tensor), type(tensor)
    flat = tensor.contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def torch_dtype(dtype: str) -> Any:
    """The torch dtype for a safetensors dtype, or None when torch has none."""
    import torch

    name = TORCH_DTYPE_NAMES.get(dtype)
    return getattr(torch, name, None) if name else None


def packed_numpy_shape(dtype: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape weightstream gives the raw uint8 array of a packed dtype."""
    if dtype == "F4" and shape and shape[-1] % 2 == 0:
        return shape[:-1] + (shape[-1] // 2,)
    return (nbytes(dtype, shape),)


def owns_memory_chain_ok(array: np.ndarray) -> bool:
    """No mmap anywhere in the array's base chain."""
    import mmap

    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return False
        base = getattr(base, "base", None)
    return True


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.fixture
def small_file(tmp_path, rng) -> str:
    """A few ordinary tensors with metadata, written by the reference writer."""
    return save_numpy(
        tmp_path / "small.safetensors",
        {
            "weight": rng.standard_normal((16, 8)).astype(np.float32),
            "bias": rng.standard_normal(8).astype(np.float32),
            "ids": np.arange(10, dtype=np.int64),
            "mask": rng.integers(0, 2, size=(4, 4)).astype(np.bool_),
            "half": rng.standard_normal((5, 3)).astype(ml_dtypes.bfloat16),
        },
        metadata={"format": "np", "note": "small"},
    )
