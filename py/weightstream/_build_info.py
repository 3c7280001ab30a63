"""What built this copy of weightstream, and where its plugin libraries are.

``build_info()`` reports the version, platform config, compiler and commit
that were stamped into the native module when Bazel built it
(toolchains/build_info.bzl: a marked string inside the module file, read from
there: the module exports nothing but ``PyInit__native``).

``plugin_path(name)`` / ``load_plugin(name)`` find and load a plugin library
shipped in the package (``lib<name>.so`` on Linux, ``lib<name>.dylib`` on
macOS), like runai-model-streamer's per-backend libraries. For debugging, the
environment variable ``WEIGHTSTREAM_<NAME>_LIBRARY`` (e.g.
``WEIGHTSTREAM_S3_LIBRARY=/tmp/libs3.so``) overrides the location, and
``WEIGHTSTREAM_PLUGIN_DIR`` the directory searched.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import sys
from functools import lru_cache

from ._version import __version__

_MARKER = b"WEIGHTSTREAM_BUILD_INFO:"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=1)
def build_info() -> dict:
    """The native module's build stamp, plus the running platform.

    Keys: version, native_version (the stamp's; equal unless the package was
    assembled from mismatched parts), config (.bazelrc platform config:
    linux_x86_64, linux_aarch64, macos_x86_64, macos_arm64, native),
    target_cpu, target, compiler, compilation_mode, commit, native_module
    (its path), python, platform.
    """
    from . import _native

    path = _native.__file__
    with open(path, "rb") as f:
        data = f.read()
    start = data.find(_MARKER)
    stamp: dict = {}
    if start >= 0:
        end = data.find(b"\0", start)
        stamp = json.loads(data[start + len(_MARKER) : end].decode("utf-8"))
    info = {"version": __version__, "native_version": stamp.pop("version", None)}
    info.update(stamp)
    info.update(
        native_module=path,
        python=platform.python_version(),
        platform=f"{sys.platform}-{platform.machine()}",
    )
    return info


def plugin_filename(name: str) -> str:
    """lib<name>.dylib on macOS, lib<name>.so elsewhere."""
    return f"lib{name}.dylib" if sys.platform == "darwin" else f"lib{name}.so"


def plugin_path(name: str) -> str:
    """Where plugin ``name`` is loaded from (it may not exist)."""
    override = os.environ.get(f"WEIGHTSTREAM_{name.upper()}_LIBRARY")
    if override:
        return override
    directory = os.environ.get("WEIGHTSTREAM_PLUGIN_DIR") or _PACKAGE_DIR
    return os.path.join(directory, plugin_filename(name))


def load_plugin(name: str) -> ctypes.CDLL:
    """Loads plugin ``name`` (see plugin_path); FileNotFoundError names the
    path tried and the variable that overrides it."""
    path = plugin_path(name)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"weightstream plugin {name!r} not found at {path} "
            f"(set WEIGHTSTREAM_{name.upper()}_LIBRARY to its path)"
        )
    return ctypes.CDLL(path, mode=getattr(os, "RTLD_LOCAL", 0) | getattr(os, "RTLD_NOW", 2))
