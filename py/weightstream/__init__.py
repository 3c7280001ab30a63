"""weightstream: fast, safe loading of model weights into memory.

import weightstream as ws
tensors = ws.load_file("model.safetensors")            # {name: numpy array}
with ws.open("model.safetensors") as f:
    w = f.get_slice("lm_head.weight")[0:128]            # reads only those rows
"""

from __future__ import annotations

from . import gguf
from ._build_info import build_info
from ._version import __version__
from .errors import (
    DeviceError,
    DeviceNotAvailableError,
    DeviceOutOfMemoryError,
    DownloadError,
    FormatError,
    HTTPStatusError,
    IntegrityError,
    RawBytesWarning,
    ReadError,
    TensorNotFoundError,
    WeightstreamError,
)
from .fetcher import fetch
from .integrity import sha256_file, verify
from .loading import load_file
from .safetensors import SafeOpen, TensorInfo, TensorSlice, open, safe_open
from .streamer import SafetensorsStreamer

__all__ = [
    "DeviceError",
    "DeviceNotAvailableError",
    "DeviceOutOfMemoryError",
    "DownloadError",
    "FormatError",
    "HTTPStatusError",
    "IntegrityError",
    "RawBytesWarning",
    "ReadError",
    "SafeOpen",
    "SafetensorsStreamer",
    "TensorInfo",
    "TensorNotFoundError",
    "TensorSlice",
    "WeightstreamError",
    "__version__",
    "build_info",
    "fetch",
    "gguf",
    "load_file",
    "open",
    "safe_open",
    "sha256_file",
    "verify",
]
