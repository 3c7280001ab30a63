"""Safetensors dtype names -> numpy (with ml_dtypes) and torch dtypes.

The native core hands back each tensor as a flat uint8 buffer; this module
turns it into a typed array of the right shape without copying. Dtypes a
framework cannot represent come back as raw bytes, with a RawBytesWarning.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from typing import Any

import ml_dtypes
import numpy as np

from .errors import RawBytesWarning

NUMPY_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype(np.uint16),
    "I16": np.dtype(np.int16),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "U32": np.dtype(np.uint32),
    "I32": np.dtype(np.int32),
    "F32": np.dtype(np.float32),
    "U64": np.dtype(np.uint64),
    "I64": np.dtype(np.int64),
    "F64": np.dtype(np.float64),
    "C64": np.dtype(np.complex64),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "F8_E8M0": np.dtype(ml_dtypes.float8_e8m0fnu),
    "F8_E4M3FNUZ": np.dtype(ml_dtypes.float8_e4m3fnuz),
    "F8_E5M2FNUZ": np.dtype(ml_dtypes.float8_e5m2fnuz),
}

# Sub-byte types packed several elements to a byte; no numpy dtype holds them.
PACKED_BITS: dict[str, int] = {"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}

ALL_DTYPES = frozenset(NUMPY_DTYPES) | frozenset(PACKED_BITS)


def itemsize(dtype: str) -> int:
    """Bytes per element of an unpacked dtype."""
    return NUMPY_DTYPES[dtype].itemsize


def packed_shape(dtype: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the raw uint8 array for a packed dtype.

    F4 with an even last dimension keeps its shape with the last dimension
    halved (two values a byte, as torch's float4_e2m1fn_x2); anything else is
    one flat run of bytes.
    """
    if dtype == "F4" and shape and shape[-1] % 2 == 0:
        return shape[:-1] + (shape[-1] // 2,)
    bits = PACKED_BITS[dtype]
    count = 1
    for d in shape:
        count *= d
    return (count * bits // 8,)


def to_numpy(raw: np.ndarray, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """View the flat uint8 buffer `raw` as a numpy array (no copy)."""
    np_dtype = NUMPY_DTYPES.get(dtype)
    if np_dtype is None:
        return raw.reshape(packed_shape(dtype, shape))
    return raw.view(np_dtype).reshape(shape)


def _torch_dtypes() -> dict[str, Any]:
    import torch

    names = {
        "BOOL": "bool",
        "U8": "uint8",
        "I8": "int8",
        "U16": "uint16",
        "I16": "int16",
        "F16": "float16",
        "BF16": "bfloat16",
        "U32": "uint32",
        "I32": "int32",
        "F32": "float32",
        "U64": "uint64",
        "I64": "int64",
        "F64": "float64",
        "C64": "complex64",
        "F8_E4M3": "float8_e4m3fn",
        "F8_E5M2": "float8_e5m2",
        "F8_E8M0": "float8_e8m0fnu",
        "F8_E4M3FNUZ": "float8_e4m3fnuz",
        "F8_E5M2FNUZ": "float8_e5m2fnuz",
        "F4": "float4_e2m1fn_x2",
    }
    return {k: getattr(torch, v) for k, v in names.items() if hasattr(torch, v)}


_TORCH: dict[str, Any] | None = None


def torch_dtype(dtype: str) -> Any | None:
    """The torch dtype for a safetensors dtype, or None if torch has none."""
    global _TORCH
    if _TORCH is None:
        _TORCH = _torch_dtypes()
    return _TORCH.get(dtype)


def to_torch(raw: np.ndarray, dtype: str, shape: tuple[int, ...]) -> Any:
    """View the flat uint8 buffer `raw` as a torch CPU tensor (no copy)."""
    import torch

    bytes_tensor = torch.from_numpy(raw)
    t_dtype = torch_dtype(dtype)
    if dtype == "F4" and t_dtype is not None:
        if shape and shape[-1] % 2 == 0:
            return bytes_tensor.view(t_dtype).reshape(packed_shape(dtype, shape))
        t_dtype = None
    if t_dtype is None:
        return bytes_tensor.reshape(packed_shape(dtype, shape) if dtype in PACKED_BITS else (-1,))
    return bytes_tensor.view(t_dtype).reshape(shape)


def is_raw(dtype: str, framework: str) -> bool:
    """Whether `dtype` comes back as raw bytes in `framework`."""
    if framework == "torch":
        return torch_dtype(dtype) is None
    return dtype not in NUMPY_DTYPES


def warn_raw(names: Iterable[tuple[str, str]], framework: str) -> None:
    """One warning naming every (tensor, dtype) returned as raw bytes.

    The warning points at the first caller outside this package, however
    many of its functions lie in between.
    """
    listed = sorted(names)
    if not listed:
        return
    shown = ", ".join(f"{n} ({d})" for n, d in listed[:5])
    more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
    warnings.warn(
        f"{framework} has no dtype for {shown}{more}: returned as packed uint8 bytes",
        RawBytesWarning,
        stacklevel=_outside_package_stacklevel(),
    )


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _outside_package_stacklevel() -> int:
    # Level 1 is the function that calls warnings.warn (warn_raw).
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level
