#!/usr/bin/env bash
# Setup for the cross-platform builds and the release rehearsal (called by
# tools/setup.sh; idempotent, everything cached under .cache/):
#
#   .cache/arm64-root       Debian bookworm arm64 root (debootstrap): the
#                           aarch64 sysroot for Python headers and libcrypto.a,
#                           and the arm64 Python the aarch64 tests run under
#                           qemu-user. ~6 min the first time (second stage runs
#                           under qemu), then only a stamp check.
#   .cache/wheels-aarch64   the test dependencies as aarch64 wheels for that
#                           Python (3.11), installed with --target by the
#                           rehearsal: nothing downloads while testing.
#   binfmt_misc             qemu-aarch64 registered (VM-local kernel state;
#                           debootstrap's second stage needs it).
#
# The apt packages (cross gcc, qemu-user-static, debootstrap) and the PyPI
# tools (zig, cibuildwheel, auditwheel, repairwheel, twine, check-jsonschema,
# zizmor: tools/requirements-release.txt) are installed by tools/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# WEIGHTSTREAM_CROSS=0 (the release workflow's phase-1 runners, which build
# only their own platform): no arm64 root, no qemu.
if [ "${WEIGHTSTREAM_CROSS:-1}" = 0 ]; then
  echo "setup_release: ok (WEIGHTSTREAM_CROSS=0: no cross setup)"
  exit 0
fi

# --- qemu-user through binfmt_misc -------------------------------------------
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  $SUDO update-binfmts --enable qemu-aarch64
fi

# --- arm64 Debian root --------------------------------------------------------
ARM64_ROOT=.cache/arm64-root
ARM64_PACKAGES=python3,libpython3.11-dev,libssl-dev
MIRROR=${WEIGHTSTREAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
key="bookworm minbase $ARM64_PACKAGES v1"
if [ "$(cat "$ARM64_ROOT.stamp" 2>/dev/null)" != "$key" ]; then
  echo "setup_release: building the arm64 Debian root in $ARM64_ROOT (debootstrap, ~6 min)"
  start=$SECONDS
  $SUDO rm -rf "$ARM64_ROOT" "$ARM64_ROOT.stamp"
  mkdir -p .cache
  $SUDO debootstrap --arch=arm64 --variant=minbase --include="$ARM64_PACKAGES" --foreign \
    bookworm "$ARM64_ROOT" "$MIRROR" >.cache/arm64-root.log 2>&1 \
    || { tail -20 .cache/arm64-root.log; exit 1; }
  $SUDO chroot "$ARM64_ROOT" /debootstrap/debootstrap --second-stage >>.cache/arm64-root.log 2>&1 \
    || { tail -20 .cache/arm64-root.log; exit 1; }
  $SUDO rm -rf "$ARM64_ROOT/var/cache/apt/archives/"*.deb
  echo "$key" >"$ARM64_ROOT.stamp"
  echo "setup_release: arm64 root ready in $((SECONDS - start)) s"
fi

# --- aarch64 wheels of the test dependencies (cp311, the root's Python) ------
stamp=.cache/wheels-aarch64/.stamp
want=$(cat tools/requirements-test.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup_release: downloading aarch64 test wheels"
  mkdir -p .cache/wheels-aarch64
  .venv/bin/python -m pip download -q -d .cache/wheels-aarch64 --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 --platform manylinux_2_28_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
    -r tools/requirements-test.txt numpy==2.4.6 ml_dtypes==0.6.0
  echo "$want" >"$stamp"
fi
echo "setup_release: ok (arm64 root: $(QEMU_LD_PREFIX="$ROOT/$ARM64_ROOT" "$ARM64_ROOT/usr/bin/python3" --version 2>&1))"
