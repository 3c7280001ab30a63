#!/usr/bin/env bash
# Release workflow, phase 1 on a platform's own runner: set up, then build the
# native module for CPython 3.10-3.14 (tools/build_natives.sh), leaving
# dist/natives/<platform>/ for the artifact upload.
#
#   tools/ci_phase1.sh PLATFORM
#
# Linux runs in a debian:bookworm container (tools/setup.sh: Debian's Bazel
# 4.2.3 and WORKSPACE.bazel, exactly as verified locally); macOS uses the
# runner's bazelisk with Bazel >= 7 (MODULE.bazel) and the setup-python
# interpreters. Each interpreter gets a small venv with pybind11, whose
# headers the bindings are compiled against.
set -euo pipefail
cd "$(dirname "$0")/.."
platform=${1:?usage: $0 PLATFORM}
versions=${WEIGHTSTREAM_PYTHON_VERSIONS:-3.10 3.11 3.12 3.13 3.14}

case $platform in
  linux_*)
    WEIGHTSTREAM_CROSS=0 bash tools/setup.sh
    # CPython builds for every version (python-build-standalone, via uv).
    .venv/bin/python -m pip install -q uv
    .venv/bin/python -m uv python install $versions
    find_python() { .venv/bin/python -m uv python find "$1"; }
    ;;
  macos_*)
    python3 -m venv .venv
    .venv/bin/python -m pip install -q -r tools/requirements-release.txt pybind11==3.1.0
    find_python() { command -v "python$1"; }
    ;;
  *) echo "unknown platform $platform" >&2; exit 2 ;;
esac

args=()
for v in $versions; do
  base=$(find_python "$v")
  "$base" -m venv ".cache/py$v"
  ".cache/py$v/bin/python" -m pip install -q pybind11==3.1.0
  args+=(--python "$PWD/.cache/py$v/bin/python")
done
WEIGHTSTREAM_ZIG=$(.venv/bin/python -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))') \
  bash tools/build_natives.sh "${args[@]}" "$platform"
ls -l "dist/natives/$platform/weightstream"
