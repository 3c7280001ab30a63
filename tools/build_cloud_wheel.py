#!/usr/bin/env python3
"""Phase 2 for the cloud plugin: package the Bazel-built plugin library into
the weightstream-cloud wheel.

    python tools/build_cloud_wheel.py [--library PATH] [--out wheelhouse] [--no-repair]

Phase 1 is `bazel build //cpp/plugins/cloud:libweightstream_cloud.so` (run
here unless --library names an existing build). The library is staged with
py/weightstream_cloud in a clean tree, setuptools builds a py3-none-<platform>
wheel (no Python extension: one wheel for every CPython; no build isolation:
nothing is downloaded), and auditwheel repairs it: libcurl and the libraries
it needs (OpenSSL, nghttp2, ...) are not on the manylinux allow-list, so
they are copied into weightstream_cloud.libs/ and the plugin's RPATH points
there. The repaired wheel is checked again with `auditwheel show`, and its
tag and contents are asserted.
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
PACKAGE = os.path.join(ROOT, "py", "weightstream_cloud")
TARGET = "//cpp/plugins/cloud:libweightstream_cloud.so"
LIBRARY = "libweightstream_cloud.so"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def build_library() -> str:
    env = dict(
        os.environ, WEIGHTSTREAM_PYTHON=os.environ.get("WEIGHTSTREAM_PYTHON", sys.executable)
    )
    run(["bazel", "build", TARGET], cwd=ROOT, env=env)
    bin_dir = run(
        ["bazel", "info", "bazel-bin"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.strip()
    return os.path.join(bin_dir, "cpp", "plugins", "cloud", LIBRARY)


def versions_agree() -> str:
    """The plugin package's version, which must be the core's."""

    def read(path: str) -> str:
        with open(path, encoding="utf-8") as f:
            m = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
        if m is None:
            sys.exit(f"build_cloud_wheel: no __version__ in {path}")
        return m.group(1)

    core = read(os.path.join(ROOT, "py", "weightstream", "_version.py"))
    plugin = read(os.path.join(PACKAGE, "__init__.py"))
    if core != plugin:
        sys.exit(f"build_cloud_wheel: weightstream is {core} but weightstream_cloud is {plugin}")
    # The core's extras pin the plugin release built with it.
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pins = set(re.findall(r'"weightstream-cloud==([^"]+)"', f.read()))
    if pins != {core}:
        sys.exit(
            f"build_cloud_wheel: pyproject.toml extras pin weightstream-cloud {pins}, not {core}"
        )
    return plugin


def stage(library: str, dest: str) -> None:
    if not os.path.isfile(library):
        sys.exit(f"build_cloud_wheel: no plugin library at {library}")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(os.path.join(PACKAGE, name), dest)
    shutil.copy2(os.path.join(ROOT, "LICENSE"), dest)
    pkg = os.path.join(dest, "weightstream_cloud")
    os.makedirs(pkg)
    for name in ("__init__.py", "py.typed"):
        shutil.copy2(os.path.join(PACKAGE, name), pkg)
    # Bazel's outputs are read-only; the repair step rewrites the RPATH.
    shutil.copy(library, os.path.join(pkg, LIBRARY))
    os.chmod(os.path.join(pkg, LIBRARY), 0o755)


def check_wheel(path: str, version: str) -> None:
    name = os.path.basename(path)
    if not re.match(rf"weightstream_cloud-{re.escape(version)}-py3-none-\w+\.whl$", name):
        sys.exit(f"build_cloud_wheel: unexpected wheel name {name} (want py3-none-<platform>)")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    for required in ("weightstream_cloud/__init__.py", f"weightstream_cloud/{LIBRARY}"):
        if required not in names:
            sys.exit(f"build_cloud_wheel: {name} lacks {required}")
    extensions = [n for n in names if re.search(r"\.cpython-|\.abi3\.", n)]
    if extensions:
        sys.exit(f"build_cloud_wheel: {name} must carry no Python extension: {extensions}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", help=f"phase-1 {LIBRARY} (default: build {TARGET} now)")
    parser.add_argument("--out", default=os.path.join(ROOT, "wheelhouse"))
    parser.add_argument("--no-repair", action="store_true", help="skip auditwheel")
    args = parser.parse_args()

    version = versions_agree()
    library = args.library or build_library()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ws-cloud-wheel-") as tmp:
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
