"""weightstream-cloud: the source plugin that lets weightstream read
``http://``, ``https://``, ``s3://``, ``gs://`` and ``az://`` URLs.

Nothing here is imported by users: ``weightstream`` finds this package when a
URL needs it (``pip install 'weightstream[s3]'`` and the other extras install
it) and loads the native library it carries with ``dlopen``. The library
speaks a small versioned C ABI (weightstream's
cpp/weightstream/plugin/source_plugin_abi.h), so this package has no Python
extension and one wheel serves every Python version.
"""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

# URL schemes the library serves.
SCHEMES = ("http", "https", "s3", "gs", "az")


def library_filename() -> str:
    """libweightstream_cloud.dylib on macOS, libweightstream_cloud.so elsewhere."""
    ext = "dylib" if sys.platform == "darwin" else "so"
    return f"libweightstream_cloud.{ext}"


def library_path() -> str:
    """The plugin library shipped in this package (weightstream dlopen()s it)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), library_filename())


__all__ = ["SCHEMES", "__version__", "library_filename", "library_path"]
