#!/usr/bin/env python3
"""Phase 2 for the CUDA plugin: package the Bazel-built plugin library into
the weightstream-cuda13 wheel.

    python tools/build_cuda_wheel.py [--library PATH] [--out wheelhouse] [--no-repair]

Phase 1 is `bazel build --config=cuda //cpp/plugins/cuda:libweightstream_cuda.so`
(run here unless --library names an existing build; it needs nvcc). The
library is staged with py/weightstream_cuda13 in a clean tree, setuptools
builds a py3-none-<platform> wheel (no Python extension: one wheel for every
CPython; no build isolation: nothing is downloaded), and auditwheel checks
and repairs it. The library links the CUDA runtime statically, so auditwheel
finds nothing to bundle: it needs libc and the NVIDIA driver (libcuda.so.1,
dlopen()ed at run time by the runtime, never a DT_NEEDED entry). Checked
here: the wheel's tag and contents, that the library exports only
ws_device_plugin_v1 and needs only glibc, and its size.

Not for macOS (no CUDA there). Linux aarch64 needs the CUDA toolkit for
sbsa (aarch64 server) targets, which these build machines do not have.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

from wheel_tools import ROOT, Plugin, bazel_bin, bazel_env, run

PLUGIN = Plugin(
    prog="build_cuda_wheel",
    module="weightstream_cuda13",
    dist="weightstream-cuda13",
    target="//cpp/plugins/cuda:libweightstream_cuda.so",
    library="libweightstream_cuda.so",
    tmp_prefix="ws-cuda-wheel-",
)
ENTRY = "ws_device_plugin_v1"
# What the library may need: glibc only (the CUDA and C++ runtimes are static).
ALLOWED_NEEDED = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}


def build_library() -> str:
    if shutil.which("nvcc") is None and not os.path.exists(
        os.path.join(os.environ.get("CUDA_PATH", "/usr/local/cuda"), "bin", "nvcc")
    ):
        sys.exit("build_cuda_wheel: nvcc not found ($CUDA_PATH or /usr/local/cuda)")
    env = bazel_env()
    run(["bazel", "build", "--config=cuda", PLUGIN.target], cwd=ROOT, env=env)
    return os.path.join(bazel_bin(env, "--config=cuda"), "cpp", "plugins", "cuda", PLUGIN.library)


def check_library(path: str) -> None:
    """Exports only the entry point; needs only glibc."""
    dynsym = run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout.split(
        "\n"
    )
    exported = sorted({line.split()[-1] for line in dynsym if line.strip()})
    if exported != [ENTRY]:
        sys.exit(f"build_cuda_wheel: {path} exports {exported}, want only {ENTRY}")
    dynamic = run(["readelf", "-d", path], capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    if needed - ALLOWED_NEEDED:
        sys.exit(f"build_cuda_wheel: {path} needs {sorted(needed - ALLOWED_NEEDED)}")
    print(
        f"build_cuda_wheel: {PLUGIN.library}: {os.path.getsize(path)} bytes, needs {sorted(needed)}"
    )


def check_wheel(path: str, version: str) -> None:
    """The shared checks, then: nothing bundled (the runtime is static), and the size."""
    name = os.path.basename(path)
    names = PLUGIN.check_wheel(path, version)
    bundled = [n for n in names if n.startswith(f"{PLUGIN.module}.libs/")]
    if bundled:
        sys.exit(f"build_cuda_wheel: {name} bundles {bundled}: the runtime should be static")
    print(f"build_cuda_wheel: {name}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    PLUGIN.main(__doc__, build_library, check_wheel=check_wheel, check_library=check_library)
