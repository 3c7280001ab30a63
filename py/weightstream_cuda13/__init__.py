"""weightstream-cuda13: the device plugin that lets weightstream load tensors
straight into NVIDIA GPU memory (``device="cuda"``).

Nothing here is imported by users: ``weightstream`` finds this package when a
load asks for a CUDA device (``pip install 'weightstream[cuda13]'`` installs
it) and loads the native library it carries with ``dlopen``. The library
speaks a small versioned C ABI (weightstream's
cpp/weightstream/plugin/device_plugin_abi.h) and links the CUDA 13 runtime
statically, so it needs only the NVIDIA driver (for CUDA 13.0 or newer), has
no Python extension, and one wheel serves every Python version.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# The CUDA major version the library was built with; the driver must support it.
CUDA_MAJOR = 13
LIBRARY = "libweightstream_cuda.so"


def library_path() -> str:
    """The plugin library shipped in this package (weightstream dlopen()s it)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY)


__all__ = ["CUDA_MAJOR", "LIBRARY", "__version__", "library_path"]
