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

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "py", "weightstream_cuda13")
TARGET = "//cpp/plugins/cuda:libweightstream_cuda.so"
LIBRARY = "libweightstream_cuda.so"
DIST = "weightstream_cuda13"
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


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def build_library() -> str:
    if shutil.which("nvcc") is None and not os.path.exists(
        os.path.join(os.environ.get("CUDA_PATH", "/usr/local/cuda"), "bin", "nvcc")
    ):
        sys.exit("build_cuda_wheel: nvcc not found ($CUDA_PATH or /usr/local/cuda)")
    env = dict(
        os.environ, WEIGHTSTREAM_PYTHON=os.environ.get("WEIGHTSTREAM_PYTHON", sys.executable)
    )
    run(["bazel", "build", "--config=cuda", TARGET], cwd=ROOT, env=env)
    bin_dir = run(
        ["bazel", "info", "--config=cuda", "bazel-bin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return os.path.join(bin_dir, "cpp", "plugins", "cuda", LIBRARY)


def versions_agree() -> str:
    """The plugin package's version, which must be the core's."""

    def read(path: str) -> str:
        with open(path, encoding="utf-8") as f:
            m = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
        if m is None:
            sys.exit(f"build_cuda_wheel: no __version__ in {path}")
        return m.group(1)

    core = read(os.path.join(ROOT, "py", "weightstream", "_version.py"))
    plugin = read(os.path.join(PACKAGE, "__init__.py"))
    if core != plugin:
        sys.exit(f"build_cuda_wheel: weightstream is {core} but {DIST} is {plugin}")
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pins = set(re.findall(r'"weightstream-cuda13==([^"]+)"', f.read()))
    if pins != {core}:
        sys.exit(f"build_cuda_wheel: pyproject.toml extras pin weightstream-cuda13 {pins}")
    return plugin


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
    print(f"build_cuda_wheel: {LIBRARY}: {os.path.getsize(path)} bytes, needs {sorted(needed)}")


def stage(library: str, dest: str) -> None:
    if not os.path.isfile(library):
        sys.exit(f"build_cuda_wheel: no plugin library at {library}")
    check_library(library)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(os.path.join(PACKAGE, name), dest)
    shutil.copy2(os.path.join(ROOT, "LICENSE"), dest)
    pkg = os.path.join(dest, DIST)
    os.makedirs(pkg)
    for name in ("__init__.py", "py.typed"):
        shutil.copy2(os.path.join(PACKAGE, name), pkg)
    # Bazel's outputs are read-only; auditwheel may rewrite the file.
    shutil.copy(library, os.path.join(pkg, LIBRARY))
    os.chmod(os.path.join(pkg, LIBRARY), 0o755)


def check_wheel(path: str, version: str) -> None:
    name = os.path.basename(path)
    if not re.match(rf"{DIST}-{re.escape(version)}-py3-none-\w+\.whl$", name):
        sys.exit(f"build_cuda_wheel: unexpected wheel name {name} (want py3-none-<platform>)")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    for required in (f"{DIST}/__init__.py", f"{DIST}/{LIBRARY}"):
        if required not in names:
            sys.exit(f"build_cuda_wheel: {name} lacks {required}")
    extensions = [n for n in names if re.search(r"\.cpython-|\.abi3\.", n)]
    if extensions:
        sys.exit(f"build_cuda_wheel: {name} must carry no Python extension: {extensions}")
    bundled = [n for n in names if n.startswith(f"{DIST}.libs/")]
    if bundled:
        sys.exit(f"build_cuda_wheel: {name} bundles {bundled}: the runtime should be static")
    print(f"build_cuda_wheel: {name}: {os.path.getsize(path)} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", help=f"phase-1 {LIBRARY} (default: build {TARGET} now)")
    parser.add_argument("--out", default=os.path.join(ROOT, "wheelhouse"))
    parser.add_argument("--no-repair", action="store_true", help="skip auditwheel")
    args = parser.parse_args()

    version = versions_agree()
    library = args.library or build_library()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ws-cuda-wheel-") as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        stage(library, src)
        raw = os.path.join(tmp, "dist")
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-build-isolation",
                "--no-deps",
                "-q",
                "-w",
                raw,
                src,
            ],
        )
        (wheel,) = glob.glob(os.path.join(raw, "*.whl"))
        check_wheel(wheel, version)
        if args.no_repair:
            shutil.copy2(wheel, args.out)
            print(os.path.join(args.out, os.path.basename(wheel)))
            return
        run([sys.executable, "-m", "auditwheel", "show", wheel])
        repaired = os.path.join(tmp, "repaired")
        run([sys.executable, "-m", "auditwheel", "repair", "-w", repaired, wheel])
        (fixed,) = glob.glob(os.path.join(repaired, "*.whl"))
        check_wheel(fixed, version)
        run([sys.executable, "-m", "auditwheel", "show", fixed])
        shutil.copy2(fixed, args.out)
        print(os.path.join(args.out, os.path.basename(fixed)))


if __name__ == "__main__":
    main()
