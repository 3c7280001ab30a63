#!/usr/bin/env python3
"""Phase 2 of the release: package the natives built by Bazel into a wheel.

    python tools/build_wheel.py [--natives DIR] [--out wheelhouse] [--no-repair]

Phase 1 is `bazel build //:natives` (run here unless --natives points at
existing outputs, as the release workflow does): it leaves
bazel-bin/natives/weightstream/_native<EXT_SUFFIX>. This script stages the
Python sources with that module in a clean tree, builds a platform wheel with
setuptools (no build isolation: nothing is downloaded), then checks and
repairs it with auditwheel, which also proves it needs nothing beyond the
manylinux allow-list.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
import sysconfig
import tempfile

from wheel_tools import ROOT, add_output_args, auditwheel_show, copy_out, pip_wheel, run


def build_natives() -> str:
    env = dict(os.environ, WEIGHTSTREAM_PYTHON=sys.executable)
    run(["bazel", "build", "//:natives"], cwd=ROOT, env=env)
    return os.path.join(ROOT, "bazel-bin", "natives")


def stage(natives: str, dest: str) -> None:
    """A clean source tree: sources from git's view of py/, the given natives."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    module = os.path.join(natives, "weightstream", "_native" + suffix)
    if not os.path.exists(module):
        found = glob.glob(os.path.join(natives, "weightstream", "_native*"))
        sys.exit(
            f"build_wheel: no {module} (found {found}); was phase 1 built for {sys.executable}?"
        )
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(os.path.join(ROOT, name), dest)
    shutil.copytree(
        os.path.join(ROOT, "py", "weightstream"),
        os.path.join(dest, "py", "weightstream"),
        ignore=shutil.ignore_patterns("_native*", "__pycache__", "BUILD.bazel"),
    )
    shutil.copy2(module, os.path.join(dest, "py", "weightstream"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--natives", help="phase-1 output directory (default: build it now)")
    add_output_args(parser)
    args = parser.parse_args()

    natives = args.natives or build_natives()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ws-wheel-") as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        stage(natives, src)
        wheel = pip_wheel(src, os.path.join(tmp, "dist"))
        if args.no_repair:
            copy_out(wheel, args.out)
            return
        auditwheel_show(wheel)
        run([sys.executable, "-m", "auditwheel", "repair", "-w", args.out, wheel])


if __name__ == "__main__":
    main()
