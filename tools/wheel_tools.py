"""What the phase-2 wheel scripts share (tools/build_wheel.py,
tools/build_cloud_wheel.py, tools/build_cuda_wheel.py): running commands,
the setuptools build without isolation, the auditwheel steps, and for the
plugins their version check, staging and wheel checks.

Imported as a sibling module: each script is run as `python tools/x.py`, which
puts tools/ first on sys.path whatever the working directory.
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
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def bazel_env() -> dict[str, str]:
    """The caller's environment, with the Python the repository rule configures for."""
    return dict(
        os.environ, WEIGHTSTREAM_PYTHON=os.environ.get("WEIGHTSTREAM_PYTHON", sys.executable)
    )


def bazel_bin(env: dict[str, str], *flags: str) -> str:
    return run(
        ["bazel", "info", *flags, "bazel-bin"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout.strip()


def add_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=os.path.join(ROOT, "wheelhouse"))
    parser.add_argument("--no-repair", action="store_true", help="skip auditwheel")


def pip_wheel(src: str, raw: str) -> str:
    """Builds the staged tree with the installed setuptools (nothing is downloaded)."""
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
    return wheel


def copy_out(wheel: str, out: str) -> None:
    shutil.copy2(wheel, out)
    print(os.path.join(out, os.path.basename(wheel)))


def auditwheel_show(wheel: str) -> None:
    run([sys.executable, "-m", "auditwheel", "show", wheel])


def repair_checked(wheel: str, tmp: str, out: str, check: Callable[[str], object]) -> None:
    """show, repair, then check and show the repaired wheel before it reaches out."""
    auditwheel_show(wheel)
    repaired = os.path.join(tmp, "repaired")
    run([sys.executable, "-m", "auditwheel", "repair", "-w", repaired, wheel])
    (fixed,) = glob.glob(os.path.join(repaired, "*.whl"))
    check(fixed)
    auditwheel_show(fixed)
    copy_out(fixed, out)


class Plugin:
    """One plugin distribution: py/<module> packaging lib<...>.so built by Bazel."""

    def __init__(
        self, prog: str, module: str, dist: str, target: str, library: str, tmp_prefix: str
    ) -> None:
        self.prog = prog  # prefix of every message
        self.module = module  # import name, e.g. weightstream_cloud
        self.dist = dist  # distribution name, e.g. weightstream-cloud
        self.target = target
        self.library = library
        self.tmp_prefix = tmp_prefix
        self.package = os.path.join(ROOT, "py", module)

    def fail(self, message: str) -> None:
        sys.exit(f"{self.prog}: {message}")

    def version(self) -> str:
        """The plugin package's version, which must be the core's."""

        def read(path: str) -> str:
            with open(path, encoding="utf-8") as f:
                m = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
            if m is None:
                self.fail(f"no __version__ in {path}")
            return m.group(1)

        core = read(os.path.join(ROOT, "py", "weightstream", "_version.py"))
        plugin = read(os.path.join(self.package, "__init__.py"))
        if core != plugin:
            self.fail(f"weightstream is {core} but {self.module} is {plugin}")
        # The core's extras pin the plugin release built with it.
        with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
            pins = set(re.findall(rf'"{re.escape(self.dist)}==([^"]+)"', f.read()))
        if pins != {core}:
            self.fail(f"pyproject.toml extras pin {self.dist} {pins}, not {core}")
        return plugin

    def stage(self, library: str, dest: str, check: Callable[[str], None] | None = None) -> None:
        """A standalone project in dest: the package's own pyproject.toml and
        setup.py, its sources and the library."""
        if not os.path.isfile(library):
            self.fail(f"no plugin library at {library}")
        if check is not None:
            check(library)
        for name in ("pyproject.toml", "setup.py", "README.md"):
            shutil.copy2(os.path.join(self.package, name), dest)
        shutil.copy2(os.path.join(ROOT, "LICENSE"), dest)
        pkg = os.path.join(dest, self.module)
        os.makedirs(pkg)
        for name in ("__init__.py", "py.typed"):
            shutil.copy2(os.path.join(self.package, name), pkg)
        # Bazel's outputs are read-only; auditwheel repair rewrites the file.
        shutil.copy(library, os.path.join(pkg, self.library))
        os.chmod(os.path.join(pkg, self.library), 0o755)

    def check_wheel(self, path: str, version: str) -> list[str]:
        """Tag py3-none-<platform>, the package and library inside, no Python
        extension. Returns the wheel's file names for further checks."""
        name = os.path.basename(path)
        if not re.match(rf"{self.module}-{re.escape(version)}-py3-none-\w+\.whl$", name):
            self.fail(f"unexpected wheel name {name} (want py3-none-<platform>)")
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        for required in (f"{self.module}/__init__.py", f"{self.module}/{self.library}"):
            if required not in names:
                self.fail(f"{name} lacks {required}")
        extensions = [n for n in names if re.search(r"\.cpython-|\.abi3\.", n)]
        if extensions:
            self.fail(f"{name} must carry no Python extension: {extensions}")
        return names

    def main(
        self,
        doc: str,
        build_library: Callable[[], str],
        check_wheel: Callable[[str, str], object] | None = None,
        check_library: Callable[[str], None] | None = None,
    ) -> None:
        """The command line every plugin script offers: [--library PATH]
        [--out wheelhouse] [--no-repair]."""
        check_wheel = check_wheel or self.check_wheel
        parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
        parser.add_argument(
            "--library", help=f"phase-1 {self.library} (default: build {self.target} now)"
        )
        add_output_args(parser)
        args = parser.parse_args()

        version = self.version()
        library = args.library or build_library()
        os.makedirs(args.out, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=self.tmp_prefix) as tmp:
            src = os.path.join(tmp, "src")
            os.makedirs(src)
            self.stage(library, src, check_library)
            wheel = pip_wheel(src, os.path.join(tmp, "dist"))
            check_wheel(wheel, version)
            if args.no_repair:
                copy_out(wheel, args.out)
                return
            repair_checked(wheel, tmp, args.out, lambda fixed: check_wheel(fixed, version))
