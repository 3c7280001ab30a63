"""weightstream: fast, safe loading of model weights into memory.

import weightstream as ws
tensors = ws.load_file("model.safetensors")            # {name: numpy array}
with ws.open("model.safetensors") as f:
    w = f.get_slice("lm_head.weight")[0:128]            # reads only those rows
"""

from __future__ import annotations

from ._version import __version__
from .errors import (
    FormatError,
    IntegrityError,
    RawBytesWarning,
    ReadError,
    TensorNotFoundError,
    WeightstreamError,
)
from .safetensors import SafeOpen, TensorInfo, TensorSlice, load_file, open, safe_open
from .integrity import sha256_file, verify
from .streamer import SafetensorsStreamer

__all__ = [
    "FormatError",
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
    "load_file",
    "open",
    "safe_open",
    "sha256_file",
    "verify",
]
